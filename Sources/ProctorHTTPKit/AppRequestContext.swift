import Hummingbird
import NIOCore
import ProctorCore
import Synchronization

/// The request context of every route: Hummingbird's core storage, the authenticated caller, and the scope the
/// request needs (set by ``RouteScopeMiddleware`` before any door sees it).
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address (nil in router tests); ``ClientAddresses`` turns it into the key failed logins count under.
    public let remoteAddress: SocketAddress?
    public var principal: Principal?
    /// What a scoped token must grant for this request (``RouteScopes``).
    public var requiredScope: AccessScope
    /// Who the request was for, filled in by the authentication step for the access log, which runs outside the
    /// door's group and so never sees the context the caller was set on.
    public let audit = RequestAudit()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.principal = nil
        self.requiredScope = .admin
    }

    /// The caller, or an unauthorized error when the door's authentication found none; a forbidden error when
    /// the caller's token does not grant the scope the request needs. ``AuthenticatedContext`` is made from it,
    /// so no route that acts for a caller can skip the scope check.
    package func authorizedPrincipal() throws -> Principal {
        guard let principal else {
            throw ProctorError(.unauthorized, "missing credentials: send Authorization: Bearer <token>")
        }
        guard principal.allows(requiredScope) else {
            let held = (principal.scopes ?? []).sorted().joined(separator: ", ")
            throw ProctorError(
                .forbidden,
                "this token's scopes (\(held)) do not grant '\(requiredScope.rawValue)', which this request needs",
                field: "scopes"
            )
        }
        return principal
    }
}

/// What the access log says of a request beyond its method, route and status: the caller, once known.
public final class RequestAudit: Sendable {
    private let caller = Mutex<String?>(nil)

    /// `user:<name>`, `remoteci:<name>`, … for the principal a door authenticated.
    public var principal: String? { caller.withLock { $0 } }

    package func record(_ principal: Principal) {
        caller.withLock { $0 = "\(principal.kind.rawValue):\(principal.name)" }
    }
}
