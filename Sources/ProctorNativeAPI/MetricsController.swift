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
        router.mount(Self.routes, of: self, at: "")
    }

    @Sendable func scrape(_ request: Request, context: AppRequestContext) async throws -> Response {
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

extension MetricsController {
    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<MetricsController, AppRequestContext>] = [
        NativeRoute(
            RouteDoc(
                .get,
                "/metrics",
                "Prometheus metrics",
                tag: "system",
                description: "Prometheus text: HTTP requests and latency by route template "
                    + "(`proctor_http_requests_total`, `proctor_http_request_duration_seconds`); runs by status, queue "
                    + "depth and agents online (counted on each scrape); finished runs and run durations by final "
                    + "status; queue wait by executor; executor slots busy and total; build info; `process_*` (CPU, "
                    + "memory, file descriptors, start time). Open by default; when the server runs with "
                    + "`--metrics-token` (or `PROCTOR_METRICS_TOKEN`), it needs `Authorization: Bearer <token>` with "
                    + "that token, and answers 401 without it.",
                public: true,
                replies: [.text(200, "Prometheus text exposition format.", mediaType: "text/plain")],
                errors: []
            ),
            { $0.scrape }
        )
    ]
}
