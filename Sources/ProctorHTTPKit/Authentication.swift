import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore

/// The one authentication step of every token-, password- or signature-authenticated door: it reads the
/// `Authorization` header, turns it into the caller by one of the schemes the door accepts
/// (``CredentialPolicy``), and leaves only the wording of a refusal to the door's error shape
/// (``DoorErrorShape/refusal(_:)``). Routes behind it are declared on ``AuthenticatedContext`` groups, whose
/// handlers get a non-optional caller whose token holds the route's scope.
public struct Authentication<Shape: DoorErrorShape>: RouterMiddleware {
    public typealias Context = AppRequestContext

    package let authenticator: Authenticator
    package let policy: CredentialPolicy
    package let shape: Shape
    /// Who a password attempt comes from, for the limiter of failed logins.
    package let addresses: ClientAddresses

    public init(
        _ authenticator: Authenticator,
        policy: CredentialPolicy = .token,
        shape: Shape,
        addresses: ClientAddresses = ClientAddresses()
    ) {
        self.authenticator = authenticator
        self.policy = policy
        self.shape = shape
        self.addresses = addresses
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if policy.exemptMethods.contains(request.method) { return try await next(request, context) }
        var request = request
        var context = context
        let principal: Principal
        switch AuthorizationHeader(request.headers.value(of: .authorization), bareToken: policy.acceptsBareToken) {
        case .missing:
            throw shape.refusal(.missing)
        case .token(let token):
            guard token.utf8.count <= policy.maxTokenLength else { throw shape.refusal(.invalidToken(Self.badToken)) }
            principal = try await refusingUnauthorized(AuthenticationRefusal.invalidToken) {
                try await authenticator.principal(forToken: token)
            }
        case .basic(let login, let password) where policy.acceptsPasswords:
            let address = addresses.key(request, context)
            principal = try await refusingUnauthorized(AuthenticationRefusal.invalidPassword) {
                try await authenticator.principal(forLogin: login, password: password, from: address)
            }
        case .basic:
            throw shape.refusal(.unknownScheme("Basic"))
        case .other(let scheme):
            guard let signatures = policy.signatures, signatures.schemes.contains(scheme) else {
                throw shape.refusal(.unknownScheme(scheme))
            }
            principal = try await signatures.principal(for: &request)
        }
        if let rights = policy.tokenRights, !rights(principal.scopes, request.method) {
            throw shape.refusal(.invalidToken(ProctorError(.forbidden, "the token does not grant this method")))
        }
        context.principal = principal
        context.audit.record(principal)
        return try await next(request, context)
    }

    private static var badToken: ProctorError { ProctorError(.unauthorized, "invalid or expired token") }

    /// Runs a credential check, turning its unauthorized error into the door's refusal; any other error (a 429
    /// of the login limiter, a store failure) goes to the door's error shape unchanged.
    private func refusingUnauthorized(
        _ refusal: (ProctorError) -> AuthenticationRefusal,
        _ check: () async throws -> Principal
    ) async throws -> Principal {
        do {
            return try await check()
        } catch let failure as ProctorError where failure.code == .unauthorized {
            throw shape.refusal(refusal(failure))
        }
    }
}

/// What a door accepts as credentials. Every door takes Proctor's API tokens (`Bearer`/`Token`); the rest is
/// the door's dialect.
public struct CredentialPolicy: Sendable {
    /// A raw token with no scheme (`Authorization: <token>`, KernelCI's form).
    public var acceptsBareToken = true
    /// HTTP Basic with a user's name (or e-mail address) and password, under the login limiter.
    public var acceptsPasswords = false
    /// Signed requests (DCI's HMAC schemes).
    public var signatures: (any SignedRequestAuthenticator)?
    /// Methods answered without credentials (KernelCI's CORS preflights).
    public var exemptMethods: Set<HTTPRequest.Method> = []
    /// Longer tokens (in bytes) are refused before any lookup.
    public var maxTokenLength = 512
    /// A door's own token rights on top of the shared scopes (KernelCI keeps `post` and `delete` apart).
    public var tokenRights: (@Sendable (Set<String>?, HTTPRequest.Method) -> Bool)?

    /// API tokens only: the native API, CDRouter and XPRESSO.
    public static let token = CredentialPolicy()
}

/// Authenticates a signed request (its body is part of the signature, so it is read here and handed on).
public protocol SignedRequestAuthenticator: Sendable {
    /// The `Authorization` schemes it answers for.
    var schemes: Set<String> { get }
    func principal(for request: inout Request) async throws -> Principal
}

/// Why a request's credentials were refused; each door words it (``DoorErrorShape/refusal(_:)``).
public enum AuthenticationRefusal: Sendable {
    /// No `Authorization` header.
    case missing
    /// A scheme the door does not accept.
    case unknownScheme(String)
    /// An unknown, expired or revoked token (the core's error says which words to use by default).
    case invalidToken(ProctorError)
    /// A wrong user name or password.
    case invalidPassword(ProctorError)
}

extension DoorErrorShape {
    /// Proctor's own words: a 401 in the door's shape.
    public func refusal(_ refusal: AuthenticationRefusal) -> any Error {
        switch refusal {
        case .missing: return ProctorError(.unauthorized, "missing credentials: send Authorization: Bearer <token>")
        case .unknownScheme(let scheme):
            return ProctorError(
                .unauthorized,
                "the Authorization scheme '\(scheme)' is not accepted; send Bearer <token>"
            )
        case .invalidToken(let failure), .invalidPassword(let failure): return failure
        }
    }
}

/// The credentials of an `Authorization` header, by scheme.
package enum AuthorizationHeader: Equatable {
    case missing
    case token(String)
    case basic(login: String, password: String)
    /// Another scheme (a signature), by its name.
    case other(String)

    package init(_ header: String?, bareToken: Bool = true) {
        let value = Self.trimmed(Substring(header ?? ""))
        guard !value.isEmpty else {
            self = .missing
            return
        }
        guard let space = value.firstIndex(of: " ") else {
            self = bareToken ? .token(String(value)) : .other(String(value))
            return
        }
        let scheme = value[..<space]
        let rest = Self.trimmed(value[space...])
        switch scheme.lowercased() {
        case "bearer", "token": self = .token(String(rest))
        case "basic":
            guard let data = Data(base64Encoded: String(rest)), let text = String(data: data, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else {
                self = .basic(login: "", password: "")
                return
            }
            self = .basic(login: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        default: self = .other(String(scheme))
        }
    }

    /// The token of a `Bearer`, `Token` or bare `Authorization` header, if it holds one.
    package static func token(from request: Request) -> String? {
        if case .token(let token) = AuthorizationHeader(request.headers.value(of: .authorization)) { return token }
        return nil
    }

    /// Plain Substring work: Foundation's whitespace trimming cost more than the rest of the authentication of
    /// a request.
    private static func trimmed(_ text: Substring) -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isBlank($0) }), let last = text.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return text[first...last]
    }
}

/// The context of every route that acts for a caller. It is made once the door's ``Authentication`` has run:
/// the caller is known and its token grants the scope the route needs (``RouteScopes``), or the request stops
/// with a 401 or 403 in the door's shape. A handler therefore gets a non-optional ``principal`` and cannot skip
/// the scope check.
public struct AuthenticatedContext: ChildRequestContext, RemoteAddressRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The caller.
    public let principal: Principal

    public init(context: AppRequestContext) throws {
        self.coreContext = context.coreContext
        self.remoteAddress = context.remoteAddress
        self.principal = try context.authorizedPrincipal()
    }
}
