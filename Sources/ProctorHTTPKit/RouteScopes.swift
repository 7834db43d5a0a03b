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
        let parts = path.split(separator: "/")
        return rules.first { $0.matches(method, parts) }?.scope ?? .write
    }

    /// One line of the table: a path pattern (`*` stands for one segment; a prefix rule also covers what lies
    /// below it), the methods it concerns (nil: every changing method) and the scope they need.
    package struct Rule: Sendable {
        let segments: [Substring]
        let prefix: Bool
        let methods: Set<HTTPRequest.Method>?
        let scope: AccessScope

        init(_ pattern: String, _ scope: AccessScope, prefix: Bool = false, methods: Set<HTTPRequest.Method>? = nil) {
            self.segments = pattern.split(separator: "/")
            self.prefix = prefix
            self.methods = methods
            self.scope = scope
        }

        func matches(_ method: HTTPRequest.Method, _ parts: [Substring]) -> Bool {
            if let methods, !methods.contains(method) { return false }
            guard prefix ? parts.count >= segments.count : parts.count == segments.count else { return false }
            return zip(segments, parts).allSatisfy { $0 == "*" || $0 == $1 }
        }
    }

    /// The table, first match wins; split once, not per request.
    package static let rules: [Rule] =
        // Reads sent as POST (a search with a body).
        [Rule("xpresso/api/v2/jobs/search", .read), Rule("dci/api/v1/analytics/jobs", .read)]
        // Users edit themselves (roles decide the rest); creating and deleting users stays admin below.
        + [Rule("api/v1/users/*", .write, methods: [.patch])]
        // Accounts, groups, webhooks and the lab as code.
        + [Rule("api/v1/apply", .admin)]
        + ["api/v1/users", "api/v1/groups", "api/v1/webhooks"].map { Rule($0, .admin, prefix: true) }
        // Launching, stopping and executing runs.
        + [
            "api/v1/runs", "api/v1/runs/*/cancel", "api/v1/runs/*/relaunch", "api/v1/runs/*/advance",
            "api/v1/runs/*/heartbeat", "api/v1/agents/register", "api/v1/agents/*/claim",
            "xpresso/api/v2/requests", "xpresso/api/v2/images/polaris_build",
            "cdrouter/api/v1/jobs", "cdrouter/api/v1/jobs/*/launch",
            "jobs/*/launch", "runs/*/cancel", "runs/*/relaunch",
        ].map { Rule($0, .execute) }
}

/// Stores the scope a request needs in its context (``RouteScopes``); ``AuthenticatedContext``
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
