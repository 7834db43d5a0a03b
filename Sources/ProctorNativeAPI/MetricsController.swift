import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// `GET /metrics`: Prometheus text format. Open by default (scrapers are often configured by network); with
/// `serve --metrics-token`, only a request bearing that token gets it (run counts tell outsiders about the lab).
struct MetricsController {
    let store: any StoreReader
    let metrics: AppMetrics
    /// The bearer token a scraper must send (nil: none needed).
    var token: String? = nil

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("metrics") { request, context -> Response in
            if let token {
                let sent = AuthorizationHeader.token(from: request) ?? ""
                guard Credentials.constantTimeEqual(sent, token) else {
                    throw ProctorError(
                        .unauthorized,
                        "/metrics needs its token: send Authorization: Bearer <the --metrics-token>"
                    )
                }
            }
            await metrics.refresh(store: store, logger: context.logger)
            var headers: HTTPFields = [:]
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render()))
            )
        }
    }
}
