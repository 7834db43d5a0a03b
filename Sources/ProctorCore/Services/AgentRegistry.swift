import ProctorStoreWriting

/// The remote agents of a group: registered (or refreshed) by name when an agent starts, and marked seen whenever
/// it asks for work or reports on a run, so that operators see which agents are online.
public struct AgentRegistry: Sendable {
    public let store: any Store

    public init(store: any Store) {
        self.store = store
    }

    /// Creates the agent `name` in `groupID`, or refreshes the one of that name, for a member of the group.
    public func register(
        name: String,
        groupID: String,
        labels: [String],
        version: String?,
        slots: Int,
        principal: Principal
    ) async throws -> Record {
        try principal.require(.member, in: groupID, resource: "group")
        let values: [String: Value] = [
            "labels": .strings(labels), "version": version.map(Value.string) ?? .null, "slots": .int(Int64(slots)),
            "state": .string("online"), "last_seen_at": .timestamp(Timestamp.now()),
        ]
        if let existing = try await store.first(.agents, matching: ["name": .string(name)], scope: .groups([groupID])) {
            return try await store.update(.agents, id: existing.id, changes: values, ifMatch: nil, scope: .everything)
        }
        var fresh = values
        fresh["name"] = .string(name)
        fresh["group_id"] = .string(groupID)
        return try await store.insert(Record(.agents, fresh))
    }

    /// The name an agent claims runs under, as the queue records it in a run's `claimed_by`.
    public static func claimant(_ agent: Record) -> String { "agent:\(agent.id)" }

    /// Marks the agent online now. Best effort: a failed heartbeat write never fails the agent's request.
    public func seen(agentID: String, scope: Scope = .everything) async {
        _ = try? await store.update(
            .agents,
            id: agentID,
            changes: ["last_seen_at": .timestamp(Timestamp.now()), "state": .string("online")],
            ifMatch: nil,
            scope: scope
        )
    }
}
