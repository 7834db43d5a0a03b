import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The dashboard's sessions: a password login issues an ordinary login token (``Accounts/login``) whose secret
/// lives only in an HttpOnly, SameSite=Strict cookie; logging out revokes it. Every form carries a CSRF token
/// derived from the session secret (HMAC-SHA256), which a page embeds but a script on another site can neither
/// read nor compute; every POST behind the session is refused (403) without it.
enum DashboardSession {
    static let cookieName = "proctor_session"
    /// The double-submit cookie of the login form (there is no session yet to derive a token from).
    static let loginCookieName = "proctor_login"
    /// How long a dashboard session lives (12 hours).
    static let lifetime: Int64 = 12 * 3600
    static let csrfField = "csrf"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// The session secret the request's cookie carries, if any.
    static func secret(_ request: Request) -> String? {
        guard let value = request.cookies[cookieName]?.value, value.count >= 8, value.count <= 512 else { return nil }
        return value
    }

    /// The CSRF token of a session: HMAC-SHA256 of a fixed label keyed with the session secret.
    static func csrfToken(secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("proctor-dashboard-csrf".utf8),
            using: SymmetricKey(data: Data(secret.utf8))
        )
        return Credentials.hex(Array(mac))
    }

    static func cookie(_ name: String, value: String, maxAge: Int, request: Request) -> Cookie {
        Cookie(
            name: name,
            value: value,
            maxAge: maxAge,
            path: "/",
            secure: isHTTPS(request),
            httpOnly: true,
            sameSite: .strict
        )
    }

    /// Behind a TLS-terminating proxy the cookie is also marked Secure.
    static func isHTTPS(_ request: Request) -> Bool {
        request.uri.scheme == .https || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// A cross-site request announces itself with an `Origin` (or `Referer`) naming another host.
    static func isCrossSite(_ request: Request) -> Bool {
        let host = request.head.authority
        for field: HTTPField.Name in [.origin, .referer] {
            guard let value = request.headers[field] else { continue }
            if value == "null" { return true }
            guard let url = URL(string: value), let origin = url.host else { return true }
            let port = url.port.map { ":\($0)" } ?? ""
            return host.map { $0 != origin + port && $0 != origin } ?? false
        }
        return false
    }

    /// The fields of an `application/x-www-form-urlencoded` body; a name given twice keeps every value.
    static func form(_ request: inout Request, limit: Int) async throws -> [String: [String]] {
        let buffer = try await request.collectBody(upTo: limit)
        return parseForm(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    static func parseForm(_ text: String) -> [String: [String]] {
        var fields: [String: [String]] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            fields[decode(parts[0]), default: []].append(parts.count > 1 ? decode(parts[1]) : "")
        }
        return fields
    }
}

/// Resolves the session cookie into the context's principal for the dashboard's pages.
///
/// Without a valid session, a page redirects to `/login` (other requests get 401). A POST must come from the
/// same site and carry the session's CSRF token in the `csrf` form field or the `X-CSRF-Token` header.
struct DashboardSessionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let authenticator: Authenticator
    let maxFormBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        var request = request
        guard let secret = DashboardSession.secret(request),
            let principal = try? await authenticator.principal(forToken: secret)
        else {
            if request.method == .get, !request.uri.path.hasSuffix("/stream") {
                let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                let next =
                    target == "/"
                    ? "" : "?next=" + (target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
                var response = Response(
                    status: .seeOther,
                    headers: [.location: "/login" + next, .cacheControl: "no-store"]
                )
                if DashboardSession.secret(request) != nil {
                    // An expired or revoked session: forget it.
                    response.setCookie(
                        DashboardSession.cookie(DashboardSession.cookieName, value: "", maxAge: 0, request: request)
                    )
                }
                return response
            }
            throw ProctorError(.unauthorized, "log in first")
        }
        if request.method != .get && request.method != .head {
            if DashboardSession.isCrossSite(request) { throw ProctorError(.forbidden, "cross-site request refused") }
            var sent = request.headers[DashboardSession.csrfHeader]
            if sent == nil {
                let form = try await DashboardSession.form(&request, limit: maxFormBytes)
                sent = form[DashboardSession.csrfField]?.first
            }
            guard let sent, Credentials.constantTimeEqual(sent, DashboardSession.csrfToken(secret: secret)) else {
                throw ProctorError(
                    .forbidden,
                    "the form is stale or forged (CSRF token missing or wrong); reload the page and try again"
                )
            }
        }
        context.principal = principal
        var response = try await next(request, context)
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
