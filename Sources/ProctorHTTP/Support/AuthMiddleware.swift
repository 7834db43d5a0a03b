import Foundation
import Hummingbird
import ProctorCore

/// Resolves `Authorization: Bearer <token>` (or `Token <token>`) into the context's principal.
/// With `required`, a request without valid credentials stops here with a 401.
public struct TokenAuthMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let authenticator: Authenticator
    let required: Bool

    public init(authenticator: Authenticator, required: Bool = true) {
        self.authenticator = authenticator
        self.required = required
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        if let token = Self.token(from: request) {
            context.principal = try await authenticator.principal(forToken: token)
        } else if required {
            throw ProctorError(.unauthorized, "missing credentials: send Authorization: Bearer <token>")
        }
        return try await next(request, context)
    }

    /// The token of a `Bearer`, `Token` or bare `Authorization` header. (Plain Substring work: Foundation's
    /// whitespace trimming cost more than the rest of the authentication of a request.)
    static func token(from request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let value = trimmed(Substring(header))
        guard !value.isEmpty else { return nil }
        guard let space = value.firstIndex(of: " ") else { return String(value) }
        let scheme = value[..<space].lowercased()
        guard scheme == "bearer" || scheme == "token" else { return nil }
        return String(trimmed(value[space...]))
    }

    private static func trimmed(_ text: Substring) -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isBlank($0) }), let last = text.lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return text[first...last]
    }
}
