import Hummingbird
import ProctorCore

/// The scope each request needs, for every door, in one table: reading is `read`, changing is `write`, launching,
/// stopping and executing runs is `execute`, managing accounts, groups, webhooks and the lab is `admin`.
///
/// Decided from the method and path before routing, so that a route added later is covered by its door's
/// default (`write` for anything that is not a read) rather than by nothing.
public enum RouteScopes {
    public static func required(method: HTTPRequest.Method, path: String) -> AccessScope {
        if method == .get || method == .head || method == .options { return .read }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        func matches(_ pattern: String) -> Bool {
            let expected = pattern.split(separator: "/").map(String.init)
            guard expected.count == parts.count else { return false }
            return zip(expected, parts).allSatisfy { $0 == "*" || $0 == $1 }
        }
        if reads.contains(where: matches) { return .read }
        if method == .patch && matches("api/v1/users/*") { return .write }  // users edit themselves; roles decide the rest
        if admin.contains(where: matches) || adminPrefixes.contains(where: { parts.starts(with: $0) }) { return .admin }
        if execute.contains(where: matches) { return .execute }
        return .write
    }

    /// Reads sent as POST (a search with a body).
    static let reads = ["xpresso/api/v2/jobs/search"]

    /// Launching, stopping and executing runs.
    static let execute = [
        "api/v1/runs", "api/v1/runs/*/cancel", "api/v1/runs/*/relaunch", "api/v1/runs/*/advance",
        "api/v1/runs/*/heartbeat",
        "api/v1/agents/register", "api/v1/agents/*/claim",
        "xpresso/api/v2/requests", "xpresso/api/v2/images/polaris_build",
        "cdrouter/api/v1/jobs", "cdrouter/api/v1/jobs/*/launch",
        "jobs/*/launch", "runs/*/cancel", "runs/*/relaunch",
    ]

    /// Accounts, groups, webhooks and the lab as code.
    static let admin = ["api/v1/apply"]
    static let adminPrefixes: [[String]] = [
        ["api", "v1", "users"], ["api", "v1", "groups"], ["api", "v1", "webhooks"],
    ]
}

/// Stores the scope a request needs in its context (``RouteScopes``); ``AppRequestContext/requirePrincipal()``
/// enforces it once the door has authenticated the caller.
public struct RouteScopeMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        context.requiredScope = RouteScopes.required(method: request.method, path: request.uri.path)
        return try await next(request, context)
    }
}
