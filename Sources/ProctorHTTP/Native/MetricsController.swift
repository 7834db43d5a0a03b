import Hummingbird
import NIOCore
import ProctorCore

/// `GET /metrics`: Prometheus text format, no credentials (scrapers are configured by network, not token).
struct MetricsController {
    let store: any Store
    let metrics: AppMetrics

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("metrics") { _, context -> Response in
            await metrics.refreshRunGauges(store: store, logger: context.logger)
            var headers: HTTPFields = [:]
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
    }
}
