import ProctorStoreWriting
import Synchronization

/// Turns credentials into a ``Principal``: API tokens (every front door) and passwords (login, HTTP Basic).
public struct Authenticator: Sendable {
    public let store: any Store
    /// Principals of recently seen tokens; nil checks the store on every call.
    public let cache: PrincipalCache?
    /// The limiter of failed password attempts every password check goes through; the server's one authenticator
    /// (``RunServices/authenticator``) has one, shared by every door. Nil (an ad-hoc authenticator that only
    /// issues tokens) checks passwords without limits.
    public let throttle: LoginThrottle?

    public init(store: any Store, cache: PrincipalCache? = nil, throttle: LoginThrottle? = nil) {
        self.store = store
        self.cache = cache
        self.throttle = throttle
    }

    /// The principal a bearer token stands for, or an unauthorized error.
    public func principal(forToken token: String) async throws -> Principal {
        // Bytes, not characters: counting characters walks the token's grapheme clusters, on every request.
        guard (8...512).contains(token.utf8.count) else {
            throw ProctorError(.unauthorized, "invalid or expired token")
        }
        let hash = Credentials.tokenHash(token)
        guard let cache else { return try await lookUp(tokenHash: hash) }
        let generation = store.accessGeneration
        if let principal = cache.principal(tokenHash: hash, generation: generation) { return principal }
        let principal = try await lookUp(tokenHash: hash)
        cache.remember(principal, tokenHash: hash, generation: generation)
        return principal
    }

    private func lookUp(tokenHash hash: String) async throws -> Principal {
        let unauthorized = ProctorError(.unauthorized, "invalid or expired token")
        guard let token = try await store.first(Token.self, matching: [.tokenHash: .string(hash)]),
            !token.isRevoked
        else { throw unauthorized }
        if let expires = token.expiresAt, expires <= Timestamp.now() { throw unauthorized }
        guard let userID = token.string(.userID), let user = try await store.get(User.self, id: userID),
            user.isActive
        else { throw unauthorized }
        let scopes = token.scopes
        var principal = try await principal(for: user, scopes: scopes.isEmpty ? nil : Set(scopes))
        principal.tokenExpiresAt = token.expiresAt
        return principal
    }

    /// Checked against when the user does not exist; its password is unknowable (random salt, random input).
    private static let decoyHash: String =
        (try? Credentials.hashPassword(Credentials.newToken(), rounds: Credentials.passwordRounds))
        ?? "pbkdf2-sha256$210000$00$00"

    /// The user's principal when the password matches, else an unauthorized error; a `tooManyRequests` error
    /// (even for the right password) while the user name or the client address has too many recent failures
    /// (``LoginThrottle``).
    ///
    /// With a cache, a correct name and password are remembered like a token (keyed by a hash of both), so
    /// that clients sending HTTP Basic on every request pay the KDF once; the same access generation and
    /// lifetime drop the entry when the password, the user or a membership changes. A remembered password is
    /// refused too while its user name or address is locked.
    ///
    /// - Parameters:
    ///   - address: the client address the attempt comes from, as the door sees it.
    public func principal(forUser name: String, password: String, from address: String) async throws -> Principal {
        guard let cache else { return try await throttledCheck(name: name, password: password, address: address) }
        let key = "password:" + Credentials.tokenHash(name + "\u{0}" + password)
        let generation = store.accessGeneration
        if let principal = cache.principal(tokenHash: key, generation: generation) {
            try throttle?.checkNotLocked(user: name, address: address)
            return principal
        }
        let principal = try await throttledCheck(name: name, password: password, address: address)
        cache.remember(principal, tokenHash: key, generation: generation)
        return principal
    }

    /// Like ``principal(forUser:password:from:)``, where the login may also be the user's e-mail address (HTTP
    /// Basic on the DCI door accepts both). The address is resolved to the name first, so that the cache of
    /// checked passwords and the login limiter see one user.
    public func principal(forLogin login: String, password: String, from address: String) async throws -> Principal {
        var name = login
        if login.contains("@"), try await store.first(User.self, matching: [.name: .string(login)]) == nil,
            let byEmail = try await store.first(User.self, matching: [.email: .string(login)])?.string(.name)
        {
            name = byEmail
        }
        return try await principal(forUser: name, password: password, from: address)
    }

    private func throttledCheck(name: String, password: String, address: String) async throws -> Principal {
        guard let throttle else { return try await checkPassword(name: name, password: password) }
        return try await throttle.attempt(user: name, address: address) {
            try await checkPassword(name: name, password: password)
        }
    }

    private func checkPassword(name: String, password: String) async throws -> Principal {
        let unauthorized = ProctorError(.unauthorized, "invalid user name or password")
        let user = try await store.first(User.self, matching: [.name: .string(name)])
        guard let user, user.isActive, let hash = user.passwordHash else {
            // Spend the same KDF time as a real check, so the answer's timing does not tell which names exist.
            _ = Credentials.verifyPassword(password, hash: Self.decoyHash)
            throw unauthorized
        }
        guard Credentials.verifyPassword(password, hash: hash) else { throw unauthorized }
        return try await principal(for: user, scopes: nil)
    }

    public func principal(for user: User, scopes: Set<String>?) async throws -> Principal {
        let rows = try await store.list(
            Membership.self,
            query: Query(filter: .equal("user_id", user.id), limit: 1000),
            scope: .everything
        )
        var memberships: [Principal.Membership] = []
        for row in rows {
            guard let groupID = row.groupID, let group = try await store.get(Group.self, id: groupID) else { continue }
            memberships.append(
                .init(
                    groupID: groupID,
                    groupName: group.string(.name) ?? "",
                    role: Role(rawValue: row.string(.role) ?? "") ?? .viewer,
                    permissions: Set(row.permissions)
                )
            )
        }
        return Principal(
            kind: .user,
            id: user.id,
            name: user.name,
            isSiteAdmin: user.bool(.isSiteAdmin) == true,
            memberships: memberships.sorted { $0.groupName < $1.groupName },
            scopes: scopes
        )
    }

    /// Creates a token for a user and returns its one-time visible value with the stored row.
    public func issueToken(
        userID: String,
        name: String,
        value: String? = nil,
        scopes: [String] = [],
        expiresAt: Int64? = nil
    ) async throws -> (token: String, record: Record) {
        let token = value ?? Credentials.newToken()
        let record = try await store.insert(
            Token([
                .userID: .string(userID), .name: .string(name), .tokenHash: .string(Credentials.tokenHash(token)),
                .prefix: .string(Credentials.tokenPrefix(token)), .scopes: .strings(scopes),
                .expiresAt: expiresAt.map(Value.timestamp) ?? .null,
            ]).record
        )
        return (token, record)
    }
}

/// Who a token stands for, remembered for a few seconds so a request costs one query instead of four or more.
///
/// An entry is dropped when the store's ``Store/accessGeneration`` moves (a token revoked, a membership or a
/// user changed in this process), when its token expires, and after ``lifetime`` in any case: the bound on how
/// long a change made through another replica takes to be seen here.
public final class PrincipalCache: Sendable {
    struct Entry {
        var principal: Principal
        var generation: UInt64
        var validUntil: ContinuousClock.Instant
        var tokenExpiresAt: Int64?
    }

    public let lifetime: Duration
    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    public init(lifetime: Duration = .seconds(5), capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    func principal(tokenHash: String, generation: UInt64) -> Principal? {
        let now = ContinuousClock.now
        let wallNow = Timestamp.now()
        return entries.withLock { entries in
            guard let entry = entries[tokenHash] else { return nil }
            guard entry.generation == generation, entry.validUntil > now,
                entry.tokenExpiresAt.map({ $0 > wallNow }) ?? true
            else {
                entries[tokenHash] = nil
                return nil
            }
            return entry.principal
        }
    }

    func remember(_ principal: Principal, tokenHash: String, generation: UInt64) {
        let entry = Entry(
            principal: principal,
            generation: generation,
            validUntil: ContinuousClock.now + lifetime,
            tokenExpiresAt: principal.tokenExpiresAt
        )
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[tokenHash] = entry
        }
    }
}
