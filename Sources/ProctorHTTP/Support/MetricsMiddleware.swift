import Hummingbird
import ProctorCore

/// Records every request in ``AppMetrics`` by its matched route template and final status.
///
/// Add it before the error middleware so that it sees the status an error was rendered with; requests that
/// matched no route are recorded under `unmatched` rather than their raw path.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: AppMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
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
    }
}
