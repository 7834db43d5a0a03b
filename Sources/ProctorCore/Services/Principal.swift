/// A member's role in a group; each role includes the rights of the ones before it.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads.
    case viewer
    /// Reads, launches runs, reports results.
    case member
    /// Everything in the group.
    case admin

    private var rank: Int {
        switch self {
        case .viewer: return 0
        case .member: return 1
        case .admin: return 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// Who is calling, after authentication: a user with its memberships, or a remote CI of one group.
public struct Principal: Sendable, Equatable {
    public struct Membership: Sendable, Equatable {
        public var groupID: String
        public var groupName: String
        public var role: Role
        public var permissions: Set<String>

        public init(groupID: String, groupName: String, role: Role, permissions: Set<String>) {
            self.groupID = groupID
            self.groupName = groupName
            self.role = role
            self.permissions = permissions
        }
    }

    public enum Kind: String, Sendable, Equatable {
        case user
        case remoteci
    }

    public var kind: Kind
    public var id: String
    public var name: String
    public var isSiteAdmin: Bool
    public var memberships: [Membership]
    /// The token's scopes when the caller used a scoped token (nil: the user's full rights).
    public var scopes: Set<String>?
    /// When the token used expires (microseconds), if it does: caches must not outlive it.
    public var tokenExpiresAt: Int64?

    public init(
        kind: Kind,
        id: String,
        name: String,
        isSiteAdmin: Bool,
        memberships: [Membership],
        scopes: Set<String>? = nil
    ) {
        self.kind = kind
        self.id = id
        self.name = name
        self.isSiteAdmin = isSiteAdmin
        self.memberships = memberships
        self.scopes = scopes
    }

    /// The groups whose data this caller may read.
    public var scope: Scope {
        isSiteAdmin ? .everything : .groups(memberships.map(\.groupID))
    }

    /// The groups this caller may see (a core rule every door that lists groups follows): their own; all of them
    /// for the site admin (nil: no filter).
    public var visibleGroups: Filter? {
        guard !isSiteAdmin else { return nil }
        let ids = memberships.map(\.groupID)
        return .predicate(Condition("id", .in, ids.isEmpty ? [""] : ids))
    }

    /// Whether this caller may see a group (``visibleGroups``).
    public func canSee(group id: String) -> Bool { isSiteAdmin || membership(in: id) != nil }

    public func membership(in groupID: String) -> Membership? {
        memberships.first { $0.groupID == groupID }
    }

    /// Whether the caller holds at least `role` in the group (the site admin holds every role).
    public func has(_ role: Role, in groupID: String) -> Bool {
        isSiteAdmin || (membership(in: groupID).map { $0.role >= role } ?? false)
    }

    /// Whether the caller holds a named permission in the group (group admins and the site admin hold all).
    public func hasPermission(_ permission: String, in groupID: String) -> Bool {
        if isSiteAdmin { return true }
        guard let membership = membership(in: groupID) else { return false }
        return membership.role == .admin || membership.permissions.contains(permission)
    }

    /// Throws a not-found (for groups the caller cannot see) or forbidden error unless the caller holds `role`.
    public func require(_ role: Role, in groupID: String, resource: String = "resource") throws {
        if has(role, in: groupID) { return }
        if isSiteAdmin || membership(in: groupID) != nil {
            throw ProctorError(.forbidden, "this needs the \(role.rawValue) role in the group")
        }
        throw ProctorError.notFound("no such \(resource)")
    }
}
