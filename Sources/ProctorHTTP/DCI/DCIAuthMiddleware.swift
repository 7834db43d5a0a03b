import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore
import Synchronization

/// Authenticates every DCI request, by the scheme of its `Authorization` header (`dci/decorators.py`):
///
/// - `Basic`: a Proctor user by name and password. The PBKDF2 check costs tens of milliseconds, so a success
///   is remembered for a minute under a hash of the credentials (DCI itself pays a slow hash on every request).
///   Failed attempts are limited by the server's ``LoginThrottle``: beyond the limit, a 429 in DCI's shape with
///   `Retry-After`, even for the right password.
/// - `Bearer`: a Proctor API token, the same tokens as the native API (DCI's SSO JWTs have no equivalent).
/// - `DCI2-HMAC-SHA256` / `AWS4-HMAC-SHA256`: a remote CI or feeder, whose id is the client id and whose
///   `api_secret` is the key. The body is read here (up to ``DCIAPI/maxBodyBytes``) because it is signed, then
///   handed on to the handler unchanged.
struct DCIAuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let store: any Store
    let authenticator: Authenticator
    let maxBodyBytes: Int
    /// Who a Basic attempt comes from, for the limiter of failed logins.
    let addresses: ClientAddresses
    let clientCache = TTLCache<DCIClient>(lifetime: 10, capacity: 4096)
    /// The server clock; tests freeze it.
    let now: @Sendable () -> Date

    init(
        authenticator: Authenticator,
        maxBodyBytes: Int,
        addresses: ClientAddresses = ClientAddresses(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = authenticator.store
        self.authenticator = authenticator
        self.maxBodyBytes = maxBodyBytes
        self.addresses = addresses
        self.now = now
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization], !header.isEmpty else {
            throw DCIError(.unauthorized, "Authorization header missing")
        }
        var context = context
        var request = request
        let scheme = String(header.split(separator: " ", maxSplits: 1).first ?? "")
        switch scheme {
        case "Basic":
            context.principal = try await basic(header, from: addresses.key(request, context))
        case "Bearer", "Token":
            let token = header.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
            do {
                context.principal = try await authenticator.principal(forToken: token)
            } catch let failure as ProctorError where failure.code == .unauthorized {
                throw DCIError(.unauthorized, "Invalid token")
            }
        case _ where DCISignature.algorithms.contains(scheme):
            context.principal = try await signed(&request)
        default:
            throw DCIError(.unauthorized, "Authorization scheme \(scheme) unknown")
        }
        return try await next(request, context)
    }

    // MARK: Basic

    private func basic(_ header: String, from address: String) async throws -> Principal {
        let encoded = header.dropFirst("Basic".count).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { throw DCIError(.unauthorized, "Invalid user credentials") }
        let name = String(text[..<colon])
        let password = String(text[text.index(after: colon)...])
        // DCI also accepts the e-mail address as the login: resolve it to the name first, so that the core's
        // cache of checked passwords serves both forms.
        var login = name
        if name.contains("@"), try await store.first(.users, matching: ["name": .string(name)]) == nil,
            let byEmail = try await store.first(.users, matching: ["email": .string(name)])?.name
        {
            login = byEmail
        }
        do {
            return try await authenticator.principal(forUser: login, password: password, from: address)
        } catch let failure as ProctorError where failure.code == .unauthorized {
            throw DCIError(.unauthorized, "Invalid user credentials")
        } catch let failure as ProctorError where failure.code == .tooManyRequests {
            throw DCIError(.tooManyRequests, failure.message, retryAfter: failure.retryAfter)
        }
    }

    // MARK: HMAC

    private func signed(_ request: inout Request) async throws -> Principal {
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch {
            throw DCIError(.contentTooLarge, "the request body is larger than \(maxBodyBytes) bytes")
        }
        var headers: [String: String] = [:]
        for field in request.headers where headers[field.name.canonicalName] == nil {
            headers[field.name.canonicalName] = field.value
        }
        if let authority = request.head.authority { headers["host"] = authority }
        let signed = DCISignature.Request(
            method: request.method.rawValue,
            path: request.uri.path,
            query: request.uri.query,
            headers: headers,
            body: Array(body.readableBytesView)
        )
        var client: DCIClient?
        _ = try await DCISignature.authenticate(signed, now: now()) { credential in
            client = try await lookUp(type: credential.clientType, id: credential.clientID)
            return client?.secret
        }
        guard let client else { throw DCIError(.unauthorized, "identity does not exists.") }
        return client.principal
    }

    /// The remote CI or feeder a client id names, with its team; nil for other client types or unknown ids.
    private func lookUp(type: String, id: String) async throws -> DCIClient? {
        guard type == "remoteci" || type == "feeder", !id.isEmpty, id.count <= 100 else { return nil }
        // Keyed by the access generation: a rotated secret or an archived remote CI is seen at once here.
        let key = "\(store.accessGeneration)/\(type)/\(id)"
        if let cached = clientCache.value(for: key) { return cached }
        guard let row = try await store.get(.remotecis, id: id), (row.string("client_type") ?? "remoteci") == type,
            row.string("state") != "archived", let groupID = row.groupID
        else { return nil }
        let group = try await store.get(.groups, id: groupID)
        let client = DCIClient(
            secret: row.string("api_secret") ?? "",
            principal: Principal(
                kind: .remoteci,
                id: row.id,
                name: row.name ?? "",
                isSiteAdmin: false,
                memberships: [.init(groupID: groupID, groupName: group?.name ?? "", role: .member, permissions: [])]
            )
        )
        clientCache.set(client, for: key)
        return client
    }
}

/// A signing client as the middleware caches it.
struct DCIClient: Sendable {
    var secret: String
    var principal: Principal
}

/// A small time-bounded memo shared by concurrent requests; when full it starts over rather than tracking
/// recency, which is enough for credentials that are re-validated within a minute anyway.
final class TTLCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: (value: Value, expires: Date)]>([:])
    let lifetime: TimeInterval
    let capacity: Int

    init(lifetime: TimeInterval, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    func value(for key: String) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.expires < Date() {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    func set(_ value: Value, for key: String) {
        let expires = Date().addingTimeInterval(lifetime)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = (value, expires)
        }
    }
}
