import Hummingbird
import ProctorCore

/// The request context of every route: Hummingbird's core storage plus the authenticated caller.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.principal = nil
    }

    /// The caller, or an unauthorized error for routes that need one.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw ProctorError(.unauthorized, "missing credentials: send Authorization: Bearer <token>") }
        return principal
    }
}
