import ProctorStoreWriting

/// The lab's catalog (definitions, testbeds, configs, topics, components, and the other rows a door creates,
/// changes and removes for a caller) written in one place: the role the caller needs in the owning group is
/// checked here, for every door alike, before anything is stored.
public struct CatalogEditor: Sendable {
    public let store: any Store

    public init(store: any Store) {
        self.store = store
    }

    /// Stores a new row. A grouped kind needs `role` in `groupID`; a kind without groups (users, groups) needs the
    /// site admin.
    public func create(
        _ kind: ResourceKind,
        _ values: [String: Value],
        groupID: String?,
        role: Role,
        principal: Principal
    ) async throws -> Record {
        var values = values
        if kind.schema.grouped {
            guard let groupID else { throw ProctorError.badRequest("a \(kind.singular) belongs to a group") }
            try principal.require(role, in: groupID, resource: "group")
            values["group_id"] = .string(groupID)
        } else {
            try Self.requireSiteAdmin(principal, kind, "creates")
        }
        return try await store.insert(Record(kind, values))
    }

    /// Changes a row the caller can see; `ifMatch` guards against a concurrent change (412).
    public func update(
        _ existing: Record,
        changes: [String: Value],
        ifMatch: String? = nil,
        role: Role,
        principal: Principal
    ) async throws -> Record {
        try Self.authorize(existing, role: role, principal: principal)
        return try await store.update(
            existing.kind,
            id: existing.id,
            changes: changes,
            ifMatch: ifMatch,
            scope: .everything
        )
    }

    /// Removes a row. A row others still refer to (a definition with runs) is a conflict.
    public func delete(_ existing: Record, ifMatch: String? = nil, role: Role, principal: Principal) async throws {
        try Self.authorize(existing, role: role, principal: principal)
        guard try await store.delete(existing.kind, id: existing.id, ifMatch: ifMatch, scope: .everything) else {
            throw ProctorError.notFound("no such \(existing.kind.singular)")
        }
    }

    /// What ``removeOrRetire(_:role:principal:)`` did.
    public enum Removal: Sendable, Equatable {
        case removed
        /// Runs still name the definition: it is marked deleted and renamed out of the way, and no longer launches.
        case retired
    }

    /// Removes a definition, or retires it when runs refer to it (a CDRouter package with jobs), so that the runs
    /// keep what they ran and its name is free again.
    @discardableResult
    public func removeOrRetire(_ definition: Record, role: Role, principal: Principal) async throws -> Removal {
        try Self.authorize(definition, role: role, principal: principal)
        let runs = try await store.count(
            .runs,
            query: Query(filter: .equal("definition_id", definition.id), limit: 1),
            scope: .everything
        )
        guard runs > 0 else {
            try await delete(definition, role: role, principal: principal)
            return .removed
        }
        _ = try await store.update(
            .definitions,
            id: definition.id,
            changes: [
                "deleted": .bool(true), "name": .string("\(definition.name ?? "definition")-deleted-\(definition.seq)"),
            ],
            ifMatch: nil,
            scope: .everything
        )
        return .retired
    }

    /// The caller may write `record`: `role` in its group, or the site admin for rows without a group.
    public static func authorize(_ record: Record, role: Role, principal: Principal) throws {
        if let groupID = record.groupID {
            try principal.require(role, in: groupID, resource: record.kind.singular)
        } else {
            try requireSiteAdmin(principal, record.kind, "changes")
        }
    }

    static func requireSiteAdmin(_ principal: Principal, _ kind: ResourceKind, _ verb: String) throws {
        guard principal.isSiteAdmin else {
            throw ProctorError(.forbidden, "only the site admin \(verb) \(kind.rawValue)")
        }
    }
}
