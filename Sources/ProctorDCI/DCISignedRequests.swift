import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit
import Synchronization

/// DCI's signed requests (`DCI2-HMAC-SHA256` / `AWS4-HMAC-SHA256`, `dci/decorators.py`): a remote CI or feeder,
/// whose id is the client id and whose `api_secret` is the key. The body is read here (up to
/// ``DCIAPI/maxBodyBytes``) because it is signed, then handed on to the handler unchanged.
///
/// The door's other schemes are the shared ones (``Authentication``): `Basic` with a Proctor user's name or
/// e-mail address and password, under the login limiter, and `Bearer` with a Proctor API token (DCI's SSO
/// JWTs have no equivalent).
struct DCISignedRequests: SignedRequestAuthenticator {
    let store: any StoreReader
    let maxBodyBytes: Int
    let clientCache = TTLCache<DCIClient>(lifetime: 10, capacity: 4096)
    /// The server clock; tests freeze it.
    let now: @Sendable () -> Date

    var schemes: Set<String> { DCISignature.algorithms }

    // MARK: HMAC

    func principal(for request: inout Request) async throws -> Principal {
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch {
            throw DCIError(.contentTooLarge, "the request body is larger than \(maxBodyBytes) bytes")
        }
        // Lower case by name (`canonicalName`), the first of a repeated field kept: made once here, where the
        // signature's parsing and checking each made their own lower-cased copy before.
        var headers: [String: String] = [:]
        headers.reserveCapacity(request.headers.count + 1)
        for field in request.headers.reversed() { headers[field.name.canonicalName] = field.value }
        if let authority = request.head.authority { headers["host"] = authority }
        let signed = DCISignature.Request(
            method: request.method.rawValue,
            path: request.uri.path,
            query: request.uri.query,
            lowercasedHeaders: headers,
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

/// A signing client as ``DCISignedRequests`` caches it.
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
