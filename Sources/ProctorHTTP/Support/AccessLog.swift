import Foundation
import Hummingbird
import Logging
import ProctorCore

/// One log line per request, at info, for operators: method, matched route template (not the raw path, which may
/// carry ids and query strings with secrets), status, duration and the authenticated caller.
///
/// Added first, so that it sees the status an error was rendered with and the time the whole pipeline took.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: Int(response.status.code), since: start)
            return response
        } catch {
            let status =
                (error as? any HTTPResponseError)?.status.code ?? (error as? ProctorError)?.code.status.code ?? 500
            log(request, context, status: Int(status), since: start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        guard context.logger.logLevel <= .info else { return }
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(status),
            "duration_ms": .string(String(format: "%.2f", milliseconds)),
        ]
        if let principal = context.audit.principal { metadata["principal"] = .string(principal) }
        context.logger.info("request", metadata: metadata)
    }
}
