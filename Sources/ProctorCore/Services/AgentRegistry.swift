import ProctorStoreWriting

/// The remote agents of a group: registered (or refreshed) by name when an agent starts, and marked seen whenever
/// it asks for work or reports on a run, so that operators see which agents are online.
public struct AgentRegistry: Sendable {
    public let store: any Store
    /// Where a registration is told (``RunActivity/agentRegistered(agentID:name:groupID:labels:slots:isNew:)``).
    public let activity: RunActivityFeed

    public init(store: any Store, activity: RunActivityFeed = RunActivityFeed()) {
        self.store = store
        self.activity = activity
    }

    /// How long after it was last seen an agent still counts as online (it asks for work every few seconds).
    public static let onlineWindowSeconds: Int64 = 120

    /// Whether `agent` is online at `now` (microseconds): in state online and seen within ``onlineWindowSeconds``.
    public static func isOnline(_ agent: Agent, now: Int64 = Timestamp.now()) -> Bool {
        guard agent.state == "online", let seen = agent.lastSeenAt else { return false }
        return now - seen < onlineWindowSeconds * 1_000_000
    }

    /// The filter of the agents online at `now` (microseconds), as ``isOnline(_:now:)`` decides.
    public static func onlineFilter(now: Int64 = Timestamp.now()) -> Filter {
        .equal("state", "online")
            && .predicate(
                Condition("last_seen_at", .greater, Timestamp.rfc3339(micros: now - onlineWindowSeconds * 1_000_000))
            )
    }

    /// Creates the agent `name` in `groupID`, or refreshes the one of that name, for a member of the group.
    public func register(
        name: String,
        groupID: String,
        labels: [String],
        version: String?,
        slots: Int,
        principal: Principal
    ) async throws -> Agent {
        try principal.require(.member, in: groupID, resource: "group")
        let values: [Agent.Field: Value] = [
            .labels: .strings(labels), .version: version.map(Value.string) ?? .null, .slots: .int(Int64(slots)),
            .state: .string("online"), .lastSeenAt: .timestamp(Timestamp.now()),
        ]
        let stored: Record
        let existing = try await store.first(Agent.self, matching: [.name: .string(name)], scope: .groups([groupID]))
        if let existing {
            stored = try await store.update(
                .agents,
                id: existing.id,
                changes: Agent.changes(values),
                ifMatch: nil,
                scope: .everything
            )
        } else {
            var fresh = Agent(values)
            fresh[.name] = .string(name)
            fresh[.groupID] = .string(groupID)
            stored = try await store.insert(fresh.record)
        }
        let agent = Agent(unchecked: stored)
        activity.record(
            .agentRegistered(
                agentID: agent.id,
                name: name,
                groupID: groupID,
                labels: labels,
                slots: slots,
                isNew: existing == nil
            )
        )
        return agent
    }

    /// Marks `offline` the agents not seen for ``onlineWindowSeconds`` and tells it (``RunActivity/agentLeft``),
    /// so that the server log says when an agent goes as well as when it comes. Safe from every replica at once:
    /// each change is conditional on the row being unchanged, so one replica tells it.
    @discardableResult
    public func markSilentOffline(now: Int64 = Timestamp.now()) async throws -> [Agent] {
        let silent = try await store.list(
            Agent.self,
            query: Query(
                filter: .and([
                    .predicate(Condition("state", .equal, "online")),
                    .predicate(
                        Condition(
                            "last_seen_at",
                            .less,
                            Timestamp.rfc3339(micros: now - Self.onlineWindowSeconds * 1_000_000)
                        )
                    ),
                ]),
                sort: [SortKey("seq")],
                limit: 100
            ),
            scope: .everything
        )
        var marked: [Agent] = []
        for agent in silent {
            do {
                _ = try await store.update(
                    .agents,
                    id: agent.id,
                    changes: Agent.changes([.state: .string("offline")]),
                    ifMatch: agent.etag,
                    scope: .everything
                )
            } catch let error as ProctorError where error.code == .conflict || error.code == .notFound {
                continue  // seen again meanwhile, or another replica marked it first
            }
            marked.append(agent)
            activity.record(
                .agentLeft(
                    agentID: agent.id,
                    name: agent.name,
                    groupID: agent.groupID ?? "",
                    silentSeconds: Int((now - (agent.lastSeenAt ?? now)) / 1_000_000)
                )
            )
        }
        return marked
    }

    /// The name an agent claims runs under, as the queue records it in a run's `claimed_by`.
    public static func claimant(_ agent: Agent) -> String { "agent:\(agent.id)" }

    /// Marks the agent online now. Best effort: a failed heartbeat write never fails the agent's request.
    public func seen(agentID: String, scope: Scope = .everything) async {
        _ = try? await store.update(
            .agents,
            id: agentID,
            changes: Agent.changes([.lastSeenAt: .timestamp(Timestamp.now()), .state: .string("online")]),
            ifMatch: nil,
            scope: scope
        )
    }
}
