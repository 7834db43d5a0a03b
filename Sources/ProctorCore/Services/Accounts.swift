import ProctorStoreWriting

/// Accounts: login, API tokens, users and group memberships, with the rules of who may do what.
///
/// It lives in the core, not in a controller, so that every front door (the native API, DCI's users and
/// teams, the CLI) issues tokens, hashes passwords and checks tenancy the same way. Each method takes the
/// calling ``Principal`` and throws the ``ProctorError`` a dialect renders: a resource of another group, or
/// another user's token, is "not found" rather than "forbidden", so callers cannot learn it exists.
public struct Accounts: Sendable {
    /// A token as issued: the secret (shown once, never stored) and its stored row.
    public struct IssuedToken: Sendable {
        public var secret: String
        public var record: Record

        public init(secret: String, record: Record) {
            self.secret = secret
            self.record = record
        }
    }

    /// A member of a group: the membership row and its user (nil only if the user vanished meanwhile).
    public struct Member: Sendable {
        public var membership: Record
        public var user: Record?

        public init(membership: Record, user: Record?) {
            self.membership = membership
            self.user = user
        }
    }

    /// How long a token from ``login(name:password:lifetime:)`` lives unless the caller asks otherwise (30 days).
    public static let loginTokenLifetime: Int64 = 30 * 24 * 3600
    /// The longest lifetime a token may be given (10 years), so that expiry arithmetic cannot overflow.
    public static let maximumTokenLifetime: Int64 = 10 * 366 * 24 * 3600
    /// Shorter passwords are refused; the KDF cannot save a guessable password.
    public static let minimumPasswordLength = 8
    /// The states a user can be in; only `active` users authenticate.
    public static let userStates = ["active", "inactive", "archived"]

    public let store: any Store
    /// Checks passwords and issues tokens. Doors that log users in pass the server's one authenticator
    /// (``RunServices/authenticator``), whose ``LoginThrottle`` limits failed attempts.
    public let authenticator: Authenticator

    public init(store: any Store) {
        self.store = store
        self.authenticator = Authenticator(store: store)
    }

    /// Accounts over the server's authenticator, so that logins go through its limiter of failed attempts.
    public init(authenticator: Authenticator) {
        self.store = authenticator.store
        self.authenticator = authenticator
    }

    // MARK: Login

    /// Checks a user's password and issues a new token for them.
    ///
    /// - Parameters:
    ///   - lifetime: seconds until the token expires (default ``loginTokenLifetime``).
    ///   - address: the client address the attempt comes from (counted by the authenticator's ``LoginThrottle``).
    /// - Returns: the issued token and the user's row.
    /// - Throws: `unauthorized` for an unknown user, a wrong password or an inactive user (one message for all);
    ///   `tooManyRequests` while the name or the address has too many recent failures.
    public func login(name: String, password: String, lifetime: Int64? = nil, from address: String) async throws -> (
        token: IssuedToken, user: Record
    ) {
        let seconds = try Self.checkedLifetime(lifetime ?? Self.loginTokenLifetime, field: "expires_in")
        let principal = try await authenticator.principal(forUser: name, password: password, from: address)
        let user = try await store.require(.users, id: principal.id)
        let token = try await authenticator.issueToken(
            userID: user.id,
            name: "login",
            expiresAt: Timestamp.now() + seconds * 1_000_000
        )
        return (IssuedToken(secret: token.token, record: token.record), user)
    }

    /// Revokes the token a session holds, given its secret (logging out). An unknown secret is harmless.
    public func revokeSession(secret: String) async throws {
        guard
            let token = try await store.first(
                Token.self,
                matching: [.tokenHash: .string(Credentials.tokenHash(secret))]
            ),
            token.bool(.revoked) != true
        else { return }
        _ = try await store.update(
            .tokens,
            id: token.id,
            changes: Token.changes([.revoked: .bool(true)]),
            ifMatch: nil,
            scope: .everything
        )
    }

    // MARK: Tokens

    /// Issues a token for the caller.
    ///
    /// A caller holding a scoped token can only issue tokens within its own scopes (default: the same scopes),
    /// so a narrow token cannot mint a broader one.
    ///
    /// - Parameters:
    ///   - expiresAt: microseconds since the epoch, or nil for a token that does not expire.
    /// - Throws: `badRequest` for an empty name, `unprocessable` for an expiry in the past or too far ahead,
    ///   `forbidden` for scopes beyond the caller's, or for a caller that is not a user.
    public func issueToken(for principal: Principal, name: String, scopes: [String]? = nil, expiresAt: Int64? = nil)
        async throws -> IssuedToken
    {
        guard principal.kind == .user else { throw ProctorError(.forbidden, "only users hold API tokens") }
        let name = name.trimmingSpaces()
        guard !name.isEmpty, name.count <= 200 else {
            throw ProctorError.badRequest("'name' must be 1 to 200 characters", field: "name")
        }
        if let expiresAt {
            let now = Timestamp.now()
            guard expiresAt > now else {
                throw ProctorError(.unprocessable, "'expires_at' is in the past", field: "expires_at")
            }
            guard expiresAt - now <= Self.maximumTokenLifetime * 1_000_000 else {
                throw ProctorError(.unprocessable, "a token lives at most 10 years", field: "expires_at")
            }
        }
        var granted = scopes ?? []
        if let held = principal.scopes {
            if scopes == nil { granted = held.sorted() }
            guard Set(granted).isSubset(of: held), !granted.isEmpty else {
                throw ProctorError(
                    .forbidden,
                    "a scoped token can only issue tokens within its own scopes",
                    field: "scopes"
                )
            }
        }
        guard granted.allSatisfy({ !$0.isEmpty && $0.count <= 100 }) else {
            throw ProctorError.badRequest("each scope must be 1 to 100 characters", field: "scopes")
        }
        try AccessScope.validate(granted)
        let issued = try await Authenticator(store: store).issueToken(
            userID: principal.id,
            name: name,
            scopes: Array(Set(granted)).sorted(),
            expiresAt: expiresAt
        )
        return IssuedToken(secret: issued.token, record: issued.record)
    }

    /// Seconds from now as an absolute expiry in microseconds, after checking the range.
    public static func expiry(inSeconds seconds: Int64, field: String = "expires_in") throws -> Int64 {
        Timestamp.now() + (try checkedLifetime(seconds, field: field)) * 1_000_000
    }

    private static func checkedLifetime(_ seconds: Int64, field: String) throws -> Int64 {
        guard seconds > 0, seconds <= maximumTokenLifetime else {
            throw ProctorError(
                .unprocessable,
                "'\(field)' must be between 1 and \(maximumTokenLifetime) seconds",
                field: field
            )
        }
        return seconds
    }

    /// A page of the caller's tokens, or with `userID` another user's (site admin only).
    ///
    /// - Throws: `forbidden` when a caller other than the site admin names another user.
    public func tokens(for principal: Principal, userID: String? = nil, query: Query = Query()) async throws -> Page {
        guard principal.kind == .user || principal.isSiteAdmin else {
            throw ProctorError(.forbidden, "only users hold API tokens")
        }
        let owner = userID ?? principal.id
        guard owner == principal.id || principal.isSiteAdmin else {
            throw ProctorError(.forbidden, "only the site admin lists another user's tokens", field: "user_id")
        }
        var query = query
        query.filter = query.filter && .equal("user_id", owner)
        return try await store.list(.tokens, query: query, scope: .everything)
    }

    /// Revokes one of the caller's tokens (the site admin may revoke anyone's). Revoking twice is harmless.
    ///
    /// - Throws: `notFound` for an unknown token or another user's.
    @discardableResult
    public func revokeToken(id: String, by principal: Principal) async throws -> Record {
        guard let token = try await store.get(Token.self, id: id),
            token.string(.userID) == principal.id || principal.isSiteAdmin
        else { throw ProctorError.notFound("no such token: \(id)") }
        if token.bool(.revoked) == true { return token.record }
        return try await store.update(
            .tokens,
            id: id,
            changes: Token.changes([.revoked: .bool(true)]),
            ifMatch: nil,
            scope: .everything
        )
    }

    // MARK: Users

    /// Users the caller may see: every user for the site admin, otherwise only the caller.
    public func users(for principal: Principal, query: Query = Query()) async throws -> Page {
        var query = query
        if !principal.isSiteAdmin { query.filter = query.filter && .equal("id", principal.id) }
        return try await store.list(.users, query: query, scope: .everything)
    }

    /// One user: the caller themselves, or anyone for the site admin.
    ///
    /// - Throws: `notFound` for anyone else, whether or not they exist.
    public func user(id: String, for principal: Principal) async throws -> Record {
        guard principal.isSiteAdmin || (principal.kind == .user && principal.id == id),
            let user = try await store.get(.users, id: id)
        else { throw ProctorError.notFound("no such user: \(id)") }
        return user
    }

    /// Creates a user (site admin only), hashing the password with PBKDF2.
    ///
    /// - Parameters:
    ///   - values: the user's fields (`name`, `email`, `fullname`, `is_site_admin`, `state`), already typed.
    ///   - password: the plain password, or nil for a user who can only use tokens.
    /// - Throws: `forbidden` for other callers, `badRequest`/`unprocessable` for bad fields, `conflict` for a taken name.
    public func createUser(_ values: [String: Value], password: String?, by principal: Principal) async throws -> Record
    {
        guard principal.isSiteAdmin else { throw ProctorError(.forbidden, "only the site admin creates users") }
        var user = User(try checkedUserValues(values))
        guard let name = user.string(.name), !name.isEmpty else {
            throw ProctorError.badRequest("'name' is required", field: "name")
        }
        if let password { user[.passwordHash] = .string(try Self.hashPassword(password)) }
        return try await store.insert(user.record)
    }

    /// Changes a user. The site admin changes anything; users change their own `email`, `fullname` and password.
    ///
    /// - Parameters:
    ///   - password: a new password, or nil to keep the current one.
    ///   - ifMatch: the etag the caller read (optimistic concurrency), or nil.
    /// - Throws: `notFound` for another user (non-admins), `forbidden` for fields a user cannot change on themselves.
    public func updateUser(
        id: String,
        _ values: [String: Value],
        password: String?,
        ifMatch: String? = nil,
        by principal: Principal
    ) async throws -> Record {
        let existing = try await user(id: id, for: principal)
        var changes = try checkedUserValues(values)
        if !principal.isSiteAdmin {
            let own: Set<User.Field> = [.email, .fullname]
            if let field = changes.keys.filter({ !own.contains($0) }).map(\.rawValue).sorted().first {
                throw ProctorError(.forbidden, "only the site admin changes '\(field)'", field: field)
            }
        }
        let demotes = changes[.isSiteAdmin] == .bool(false)
        let deactivates = changes[.state].map { $0 != .string("active") } ?? false
        if principal.id == existing.id, demotes || deactivates {
            throw ProctorError(.conflict, "the site admin cannot demote or deactivate themselves")
        }
        if let name = changes[.name], name.stringValue?.isEmpty != false {
            throw ProctorError.badRequest("'name' must be a non-empty string", field: "name")
        }
        if let password { changes[.passwordHash] = .string(try Self.hashPassword(password)) }
        if changes.isEmpty { return existing }
        return try await store.update(
            .users,
            id: existing.id,
            changes: User.changes(changes),
            ifMatch: ifMatch,
            scope: .everything
        )
    }

    /// Deletes a user with their tokens and memberships (site admin only; not themselves).
    ///
    /// - Throws: `notFound` for an unknown user (or any other user, for non-admins), `forbidden` for a non-admin
    ///   deleting themselves, `conflict` for the site admin deleting themselves.
    public func deleteUser(id: String, ifMatch: String? = nil, by principal: Principal) async throws {
        let existing = try await user(id: id, for: principal)
        guard principal.isSiteAdmin else { throw ProctorError(.forbidden, "only the site admin deletes users") }
        guard existing.id != principal.id else {
            throw ProctorError(.conflict, "the site admin cannot delete themselves")
        }
        try await store.transaction { store in
            // The schema cascades these, but deleting them explicitly keeps that true on any store.
            for kind in [ResourceKind.tokens, .memberships] {
                while true {
                    let rows = try await store.list(
                        kind,
                        query: Query(filter: .equal("user_id", existing.id), limit: 500),
                        scope: .everything
                    ).items
                    if rows.isEmpty { break }
                    for row in rows { try await store.delete(kind, id: row.id, ifMatch: nil, scope: .everything) }
                }
            }
            guard try await store.delete(.users, id: existing.id, ifMatch: ifMatch, scope: .everything) else {
                throw ProctorError.notFound("no such user: \(id)")
            }
        }
    }

    public static func hashPassword(_ password: String) throws -> String {
        guard password.unicodeScalars.count >= minimumPasswordLength, password.utf8.count <= 1024 else {
            throw ProctorError(
                .unprocessable,
                "a password needs \(minimumPasswordLength) to 1024 characters",
                field: "password"
            )
        }
        return try Credentials.hashPassword(password)
    }

    /// Refuses bookkeeping and secret fields, and checks `state`.
    private func checkedUserValues(_ values: [String: Value]) throws -> [User.Field: Value] {
        let settable: [User.Field] = [.name, .email, .fullname, .isSiteAdmin, .state]
        var checked: [User.Field: Value] = [:]
        for key in values.keys.sorted() {
            guard let field = User.Field(rawValue: key), settable.contains(field) else {
                throw ProctorError.unknownField(key, valid: settable.map(\.rawValue).sorted() + ["password"])
            }
            checked[field] = values[key]
        }
        if let state = checked[.state], !Self.userStates.contains(state.stringValue ?? "") {
            throw ProctorError.badRequest(
                "'state' must be one of \(Self.userStates.joined(separator: ", "))",
                field: "state",
                details: ["valid": Self.userStates]
            )
        }
        if let flag = checked[.isSiteAdmin], flag.boolValue == nil {
            throw ProctorError.badRequest("'is_site_admin' must be true or false", field: "is_site_admin")
        }
        return checked
    }

    // MARK: Memberships

    /// The group, when the caller may see it (a member or the site admin); else `notFound`.
    public func visibleGroup(_ groupID: String, for principal: Principal) async throws -> Record {
        guard principal.isSiteAdmin || principal.membership(in: groupID) != nil,
            let group = try await store.get(.groups, id: groupID)
        else { throw ProctorError.notFound("no such group: \(groupID)") }
        return group
    }

    /// A page of a group's members with their users; any member of the group may read it.
    public func members(of groupID: String, for principal: Principal, query: Query = Query()) async throws -> (
        members: [Member], page: Page
    ) {
        _ = try await visibleGroup(groupID, for: principal)
        let page = try await store.list(.memberships, query: query, scope: .groups([groupID]))
        var members: [Member] = []
        for row in page.items {
            var user: Record?
            if let userID = Membership(row)?.string(.userID) { user = try await store.get(.users, id: userID) }
            members.append(Member(membership: row, user: user))
        }
        return (members, page)
    }

    /// Adds a user to a group or changes their role and permissions (group admins and the site admin).
    ///
    /// - Returns: the member and whether the membership is new.
    /// - Throws: `notFound` for a group the caller cannot see or an unknown user, `forbidden` for a caller who
    ///   is not the group's admin, `badRequest` for an empty permission name.
    public func setMember(
        groupID: String,
        userID: String,
        role: Role,
        permissions: [String],
        by principal: Principal
    ) async throws -> (member: Member, created: Bool) {
        _ = try await visibleGroup(groupID, for: principal)
        try principal.require(.admin, in: groupID, resource: "group")
        guard let user = try await store.get(.users, id: userID) else {
            throw ProctorError.notFound("no such user: \(userID)")
        }
        guard permissions.allSatisfy({ !$0.isEmpty && $0.count <= 100 }) else {
            throw ProctorError.badRequest("each permission must be 1 to 100 characters", field: "permissions")
        }
        let values: [Membership.Field: Value] = [
            .role: .string(role.rawValue), .permissions: .strings(Array(Set(permissions)).sorted()),
        ]
        return try await store.transaction { store in
            if let existing = try await store.first(
                Membership.self,
                matching: [.groupID: .string(groupID), .userID: .string(userID)]
            ) {
                let updated = try await store.update(
                    .memberships,
                    id: existing.id,
                    changes: Membership.changes(values),
                    ifMatch: nil,
                    scope: .everything
                )
                return (Member(membership: updated, user: user), false)
            }
            var all = Membership(values)
            all[.groupID] = .string(groupID)
            all[.userID] = .string(userID)
            let created = try await store.insert(all.record)
            return (Member(membership: created, user: user), true)
        }
    }

    /// Removes a user from a group (group admins and the site admin).
    ///
    /// - Throws: `notFound` for a group the caller cannot see or a user who is not a member.
    public func removeMember(groupID: String, userID: String, by principal: Principal) async throws {
        _ = try await visibleGroup(groupID, for: principal)
        try principal.require(.admin, in: groupID, resource: "group")
        guard
            let existing = try await store.first(
                Membership.self,
                matching: [.groupID: .string(groupID), .userID: .string(userID)]
            )
        else { throw ProctorError.notFound("no such member: \(userID)") }
        try await store.delete(.memberships, id: existing.id, ifMatch: nil, scope: .everything)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
