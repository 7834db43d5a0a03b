import Hummingbird
import Logging
import ProctorCore
import Prometheus
import Synchronization

/// The application's Prometheus metrics: HTTP requests by route and status with a latency histogram, and the
/// run gauges (queue depth, runs by status) computed from the store when scraped.
///
/// Each application owns its registry instead of bootstrapping swift-metrics' global `MetricsSystem`, which can
/// be bootstrapped only once per process while tests build many applications side by side.
// `@unchecked`: every stored property is a `let`; swift-prometheus's MetricNameDescriptor (plain strings) is not marked Sendable.
public final class AppMetrics: @unchecked Sendable {
    /// The run statuses reported by `proctor_runs` (DCI's set, which every dialect maps onto).
    package static let runStatuses = ["new", "pre-run", "running", "post-run", "success", "failure", "killed", "error"]

    /// Latency buckets in seconds: sub-millisecond reads up to slow uploads.
    package static let latencyBuckets: [Double] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    public let registry: PrometheusCollectorRegistry

    private let requests = MetricNameDescriptor(
        namespace: "proctor",
        subsystem: "http",
        metricName: "requests",
        unitName: "total",
        helpText: "HTTP requests by matched route template, method and status."
    )
    private let duration = MetricNameDescriptor(
        namespace: "proctor",
        subsystem: "http",
        metricName: "request_duration",
        unitName: "seconds",
        helpText: "Time from receiving a request to sending its response head, by route, method and status."
    )
    private let queueDepth: Gauge
    /// The series of each (route, method, status) seen so far: the registry's own lookup builds label strings
    /// and takes its lock on every call, which showed in the profile of the API's hottest route.
    private let series = Mutex<[SeriesKey: (Counter, ValueHistogram)]>([:])
    private let storeUp: Gauge
    private let runsDescriptor = MetricNameDescriptor(
        namespace: "proctor",
        metricName: "runs",
        unitName: "",
        helpText: "Runs in the store by status, counted when scraped."
    )

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.queueDepth = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "proctor",
                metricName: "queue_depth",
                unitName: "",
                helpText: "Runs waiting to be claimed (status new), counted when scraped."
            )
        )
        self.storeUp = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "proctor",
                metricName: "store_up",
                unitName: "",
                helpText: "1 when the last scrape could count runs in the store, else 0."
            )
        )
    }

    /// Records one answered request; `route` is the route template (`/api/v1/runs/{id}`), never the raw path,
    /// so that the number of series stays bounded whatever clients send.
    package func recordRequest(route: String, method: String, status: Int, seconds: Double) {
        let key = SeriesKey(route: route, method: method, status: status)
        let known = series.withLock { $0[key] }
        let (counter, histogram) = known ?? makeSeries(key)
        counter.increment()
        histogram.record(seconds)
    }

    private struct SeriesKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private func makeSeries(_ key: SeriesKey) -> (Counter, ValueHistogram) {
        let labels = [("route", key.route), ("method", key.method), ("status", String(key.status))]
        let made = (
            registry.makeCounter(descriptor: requests, labels: labels),
            registry.makeValueHistogram(descriptor: duration, labels: labels, buckets: Self.latencyBuckets)
        )
        series.withLock { $0[key] = made }
        return made
    }

    /// Counts runs by status in the store and sets the gauges; a failing store sets `proctor_store_up` to 0
    /// and keeps the previous values rather than failing the scrape.
    package func refreshRunGauges(store: any StoreReader, logger: Logger) async {
        do {
            var counts: [String: Int] = [:]
            for status in Self.runStatuses {
                counts[status] = try await store.count(
                    .runs,
                    query: Query(filter: .equal("status", status)),
                    scope: .everything
                )
            }
            for (status, count) in counts {
                registry.makeGauge(descriptor: runsDescriptor, labels: [("status", status)]).set(Double(count))
            }
            queueDepth.set(Double(counts["new"] ?? 0))
            storeUp.set(1.0)
        } catch {
            logger.warning("metrics: could not count runs: \(error)")
            storeUp.set(0.0)
        }
    }

    /// Every metric in Prometheus text format.
    package func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}
