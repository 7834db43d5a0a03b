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

    /// The token of a `Bearer`, `Token` or bare `Authorization` header.
    static func token(from request: Request) -> String? {
        guard let header = request.headers[.authorization]?.trimmingCharacters(in: .whitespaces), !header.isEmpty else {
            return nil
        }
        let parts = header.split(separator: " ", maxSplits: 1).map(String.init)
        if parts.count == 2, ["bearer", "token"].contains(parts[0].lowercased()) {
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
        return parts.count == 1 ? parts[0] : nil
    }
}
