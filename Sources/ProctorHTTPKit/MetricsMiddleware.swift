import Foundation
import Hummingbird
import Logging
import ProctorCore

/// Observes every request once: records it in ``AppMetrics`` by its matched route template and final status,
/// and writes the access-log line at info (method, route template, status, duration, authenticated caller; the
/// template, not the raw path, which may carry ids and query strings with secrets).
///
/// Add it before the error middleware so that it sees the status an error was rendered with; requests that
/// matched no route are recorded under `unmatched` rather than their raw path.
package struct RequestMetricsMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    package let metrics: AppMetrics

    package init(metrics: AppMetrics) { self.metrics = metrics }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: Int(response.status.code), since: start)
            return response
        } catch {
            let status =
                (error as? any HTTPResponseError)?.status.code ?? (error as? ProctorError)?.code.status.code ?? 500
            record(request, context, status: Int(status), since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        metrics.recordRequest(route: route, method: request.method.rawValue, status: status, seconds: seconds)
        guard context.logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(status),
            "duration_ms": .string(String(format: "%.2f", seconds * 1000)),
        ]
        if let principal = context.audit.principal { metadata["principal"] = .string(principal) }
        context.logger.info("request", metadata: metadata)
    }
}
