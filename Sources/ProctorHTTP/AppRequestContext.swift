import Hummingbird
import NIOCore
import ProctorCore

/// The request context of every route: Hummingbird's core storage plus the authenticated caller.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address (nil in router tests); ``ClientAddresses`` turns it into the key failed logins count under.
    public let remoteAddress: SocketAddress?
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.principal = nil
    }

    /// The caller, or an unauthorized error for routes that need one.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw ProctorError(.unauthorized, "missing credentials: send Authorization: Bearer <token>") }
        return principal
    }
}
