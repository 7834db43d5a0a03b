import Hummingbird
import Logging
import ProctorCore
import Prometheus
import Synchronization

/// The application's Prometheus metrics: HTTP requests by route and status with a latency histogram; the run
/// gauges (queue depth, runs by status, agents online) computed from the store when scraped; what this process saw
/// happen (finished runs and their durations by status, queue waits, the executor's slots), observed from the
/// core's ``RunActivity``; the build; and the `process_*` figures read from `/proc/self` when scraped.
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

    /// Run durations in seconds: a quick check to a day-long soak.
    package static let runDurationBuckets: [Double] = [
        1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400,
    ]

    /// Queue waits in seconds: claimed at once to waiting hours for a testbed or an agent.
    package static let queueWaitBuckets: [Double] = [0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600, 14400]

    /// The statuses a run ends in (`proctor_runs_finished_total`, `proctor_run_duration_seconds`).
    package static let finalStatuses: [RunStatus] = [.success, .failure, .killed, .error]

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

    private let finishedDescriptor = MetricNameDescriptor(
        namespace: "proctor",
        metricName: "runs_finished",
        unitName: "total",
        helpText: "Runs this process saw end, by final status."
    )
    private let runDurationDescriptor = MetricNameDescriptor(
        namespace: "proctor",
        metricName: "run_duration",
        unitName: "seconds",
        helpText: "Duration of the runs this process saw end (from start, or launch if never started), by final status."
    )
    private let queueWaitDescriptor = MetricNameDescriptor(
        namespace: "proctor",
        metricName: "queue_wait",
        unitName: "seconds",
        helpText: "Time from a run's launch (or scheduled start) to its first claim, by executor (local, agent)."
    )
    private let agentsOnline: Gauge
    private let slotsTotal: Gauge
    private let slotsBusy: Gauge
    private let processCPU: Counter
    private let processResident: Gauge
    private let processOpenFDs: Gauge
    private let processMaxFDs: Gauge
    private let processStart: Gauge
    /// The CPU seconds already added to `process_cpu_seconds_total`.
    private let cpuReported = Mutex<Double>(0)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "proctor",
                metricName: "build",
                unitName: "info",
                helpText: "Always 1; its labels say which build of Proctor this is."
            ),
            labels: [("version", ProctorBuild.version)]
        ).set(1.0)
        self.agentsOnline = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "proctor",
                metricName: "agents_online",
                unitName: "",
                helpText: "Agents seen within the last 120 seconds, counted when scraped."
            )
        )
        self.slotsTotal = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "proctor",
                metricName: "executor_slots",
                unitName: "",
                helpText: "Slots of this server's local executor (--executor-slots)."
            )
        )
        self.slotsBusy = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "proctor",
                metricName: "executor_slots_busy",
                unitName: "",
                helpText: "Slots of this server's local executor executing a run now."
            )
        )
        self.processCPU = registry.makeCounter(
            name: "process_cpu_seconds_total",
            help: "Total user and system CPU time spent in seconds."
        )
        self.processResident = registry.makeGauge(
            name: "process_resident_memory_bytes",
            help: "Resident memory size in bytes."
        )
        self.processOpenFDs = registry.makeGauge(name: "process_open_fds", help: "Number of open file descriptors.")
        self.processMaxFDs = registry.makeGauge(
            name: "process_max_fds",
            help: "Maximum number of open file descriptors."
        )
        self.processStart = registry.makeGauge(
            name: "process_start_time_seconds",
            help: "Start time of the process since unix epoch in seconds."
        )
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
        // Every final status and executor from the start, at 0, so that rates and ratios have their series.
        for status in Self.finalStatuses {
            _ = finished(status)
            _ = runDuration(status)
        }
        for executor in [RunExecutor.local, .agent] { _ = queueWait(executor.rawValue) }
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

    private func finished(_ status: RunStatus) -> Counter {
        registry.makeCounter(descriptor: finishedDescriptor, labels: [("status", status.rawValue)])
    }

    private func runDuration(_ status: RunStatus) -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: runDurationDescriptor,
            labels: [("status", status.rawValue)],
            buckets: Self.runDurationBuckets
        )
    }

    private func queueWait(_ executor: String) -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: queueWaitDescriptor,
            labels: [("executor", executor)],
            buckets: Self.queueWaitBuckets
        )
    }

    /// Everything computed when scraped: the run and agent gauges from the store, and the process's figures.
    package func refresh(store: any StoreReader, logger: Logger) async {
        await refreshRunGauges(store: store, logger: logger)
        refreshProcess()
    }

    /// Sets the `process_*` metrics from `/proc/self` (left alone where it cannot be read).
    package func refreshProcess(_ sample: ProcessSample? = ProcessSample.read()) {
        guard let sample else { return }
        let delta = cpuReported.withLock { reported -> Double in
            let delta = max(0, sample.cpuSeconds - reported)
            reported += delta
            return delta
        }
        if delta > 0 { processCPU.increment(by: delta) }
        processResident.set(sample.residentBytes)
        processOpenFDs.set(sample.openFDs)
        processMaxFDs.set(sample.maxFDs)
        processStart.set(sample.startTimeSeconds)
    }

    /// Counts runs by status and the agents online in the store and sets the gauges; a failing store sets
    /// `proctor_store_up` to 0 and keeps the previous values rather than failing the scrape.
    package func refreshRunGauges(store: any StoreReader, logger: Logger) async {
        do {
            let byStatus = try await store.count(.runs, by: "status", query: Query(), scope: .everything)
            var counts: [String: Int] = [:]
            for status in Self.runStatuses { counts[status] = byStatus[.string(status)] ?? 0 }
            for (status, count) in counts {
                registry.makeGauge(descriptor: runsDescriptor, labels: [("status", status)]).set(Double(count))
            }
            queueDepth.set(Double(counts["new"] ?? 0))
            let online = try await store.count(
                .agents,
                query: Query(filter: AgentRegistry.onlineFilter()),
                scope: .everything
            )
            agentsOnline.set(Double(online))
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

extension AppMetrics: RunObserver {
    /// Counts what the core tells: a run's end (by final status, with its duration), a first claim's wait, the
    /// executor's slots. Everything else is for the log.
    public func record(_ activity: RunActivity) {
        switch activity {
        case .statusChanged(_, _, let to, _, _, let duration) where to.isTerminal:
            finished(to).increment()
            if let duration { runDuration(to).record(duration) }
        case .claimed(_, _, let executor, let wait):
            queueWait(executor).record(wait)
        case .executorSlots(let busy, let total):
            slotsBusy.set(Double(busy))
            slotsTotal.set(Double(total))
        default:
            break
        }
    }
}
