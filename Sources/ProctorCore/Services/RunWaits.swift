import ProctorStoreWriting

/// Why a run in `new` has not started: the first condition of the queue's claim (``RunClaim``) that it fails, so
/// that a newcomer sees "no agent with labels linux online" instead of an empty console.
public struct RunWait: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// Someone asked to cancel it; no executor claims it any more.
        case cancelRequested
        /// Its `run_at` (microseconds) has not come.
        case scheduled(at: Int64)
        /// A run its client reports (CDRouter, DCI, …): nothing here executes it.
        case reportedByClient
        /// It runs on the local executor, and this server runs none (`executorSlots` 0).
        case noLocalExecutor
        /// It needs engine labels, and the local executor has none: only agents claim labelled runs.
        case localExecutorLacksLabels([String])
        /// It runs on agents, and no agent with all these labels is online.
        case noAgentOnline(labels: [String])
        /// Its testbed executes another run.
        case testbedBusy(runID: String, runName: String?)
        /// Its executor is free to take it; these many waiting runs come first (priority, then age).
        case queued(ahead: Int)
    }

    public let reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// The whole sentence, for the run's page.
    public var sentence: String {
        switch reason {
        case .cancelRequested: return "A cancel was requested; the run ends without starting."
        case .scheduled(let at): return "It is scheduled to start at \(Timestamp.rfc3339(micros: at))."
        case .reportedByClient: return "Its client reports it; it waits for the client's first report."
        case .noLocalExecutor: return "It runs on the server's executor, and this server runs none (executorSlots 0)."
        case .localExecutorLacksLabels(let labels):
            return "It needs engine labels \(labels.joined(separator: ", ")), which the server's executor lacks."
        case .noAgentOnline(let labels):
            return labels.isEmpty
                ? "It runs on an agent, and no agent is online."
                : "It runs on an agent, and no agent with labels \(labels.joined(separator: ", ")) is online."
        case .testbedBusy(let runID, let name): return "Its testbed is busy with run \(name ?? runID)."
        case .queued(let ahead):
            return ahead == 0
                ? "It is next in the queue; an executor takes it at its next poll."
                : "It is number \(ahead + 1) in the queue: \(ahead) waiting \(ahead == 1 ? "run comes" : "runs come") first."
        }
    }

    /// A few words, for the runs table and the lab's queue.
    public var short: String {
        switch reason {
        case .cancelRequested: return "cancel requested"
        case .scheduled(let at): return "scheduled for \(Timestamp.rfc3339(micros: at))"
        case .reportedByClient: return "awaiting the client's report"
        case .noLocalExecutor: return "no local executor"
        case .localExecutorLacksLabels(let labels): return "no executor with labels \(labels.joined(separator: ", "))"
        case .noAgentOnline(let labels):
            return labels.isEmpty ? "no agent online" : "no agent with labels \(labels.joined(separator: ", ")) online"
        case .testbedBusy(let runID, let name): return "testbed busy with \(name ?? runID)"
        case .queued(let ahead): return ahead == 0 ? "next in queue" : "queue position \(ahead + 1)"
        }
    }

    /// The run it waits for, when it waits for one (to link to).
    public var blockingRunID: String? {
        if case .testbedBusy(let runID, _) = reason { return runID }
        return nil
    }
}

/// Answers "why does this run wait" for any door, with a bounded number of indexed reads per call whatever the
/// number of runs asked about: the online agents once, the busy testbeds in one `IN` query, then one count per run
/// that is only waiting its turn.
public struct RunWaits: Sendable {
    public let store: any StoreReader
    /// The local executor's slots on this server (`AppConfiguration.executorSlots`).
    public let localExecutorSlots: Int

    public init(store: any StoreReader, localExecutorSlots: Int) {
        self.store = store
        self.localExecutorSlots = localExecutorSlots
    }

    /// Why each of `runs` that is `new` waits, by run id; runs in other states are left out.
    ///
    /// Agents are looked up in every group (an agent's token may serve several): only whether one matches is
    /// told, never which. Busy testbeds and the runs ahead are counted within `scope`, so that a viewer learns
    /// nothing of other groups' runs.
    public func explain(_ runs: [Run], scope: Scope, now: Int64 = Timestamp.now()) async throws -> [String: RunWait] {
        let waiting = runs.filter { $0.string(.status) == RunStatus.new.rawValue }
        guard !waiting.isEmpty else { return [:] }
        var agentLabels: [Set<String>]?
        if waiting.contains(where: { $0.executor == .agent }) {
            agentLabels = try await store.list(
                .agents,
                query: Query(filter: AgentRegistry.onlineFilter(now: now), limit: 1000, fields: ["labels"]),
                scope: .everything
            ).items.map { Set(Agent(unchecked: $0).labels) }
        }
        let testbeds = Set(waiting.compactMap(\.testbedID))
        var busy: [String: Run] = [:]
        if !testbeds.isEmpty {
            let active = try await store.list(
                Run.self,
                query: Query(
                    filter: .predicate(Condition("testbed_id", .in, Array(testbeds)))
                        && .predicate(Condition("status", .in, RunStatus.activeValues)),
                    limit: testbeds.count * 4,
                    fields: ["id", "name", "testbed_id"]
                ),
                scope: scope
            )
            for run in active { if let testbed = run.testbedID { busy[testbed] = run } }
        }
        var out: [String: RunWait] = [:]
        for run in waiting {
            out[run.id] = try await explain(run, agentLabels: agentLabels ?? [], busy: busy, scope: scope, now: now)
        }
        return out
    }

    /// Why one run waits, or nil when it is not `new`.
    public func explain(_ run: Run, scope: Scope, now: Int64 = Timestamp.now()) async throws -> RunWait? {
        try await explain([run], scope: scope, now: now)[run.id]
    }

    /// The claim's conditions in its own order: cancel, `run_at`, executor, labels, testbed, then the turn.
    private func explain(
        _ run: Run,
        agentLabels: [Set<String>],
        busy: [String: Run],
        scope: Scope,
        now: Int64
    ) async throws -> RunWait {
        if run.cancelRequested { return RunWait(.cancelRequested) }
        if let at = run.int(.runAt), at > now { return RunWait(.scheduled(at: at)) }
        let labels = run.engineLabels
        let executor = run.string(.executor) ?? RunExecutor.local.rawValue
        switch executor {
        case RunExecutor.client.rawValue: return RunWait(.reportedByClient)
        case RunExecutor.agent.rawValue:
            if !agentLabels.contains(where: { Set(labels).isSubset(of: $0) }) {
                return RunWait(.noAgentOnline(labels: labels))
            }
        default:
            if localExecutorSlots <= 0 { return RunWait(.noLocalExecutor) }
            if !labels.isEmpty { return RunWait(.localExecutorLacksLabels(labels)) }
        }
        if let testbed = run.testbedID, let holder = busy[testbed] {
            return RunWait(.testbedBusy(runID: holder.id, runName: holder.name))
        }
        return RunWait(
            .queued(ahead: try await ahead(of: run, executor: executor, busyTestbeds: Array(busy.keys), scope: scope))
        )
    }

    /// The waiting runs of the same executor the claim takes first: higher priority, or equal and older; runs
    /// held back by a busy testbed are not ahead, since the claim skips them.
    private func ahead(of run: Run, executor: String, busyTestbeds: [String], scope: Scope) async throws -> Int {
        let priority = run.priority
        let created = Timestamp.rfc3339(micros: run.createdAt)
        let first: Filter = .or([
            .predicate(Condition("priority", .greater, String(priority))),
            .predicate(Condition("priority", .equal, String(priority)))
                && .predicate(Condition("created_at", .less, created)),
        ])
        let filter: Filter =
            .equal("status", RunStatus.new.rawValue) && .equal("executor", executor)
            && .predicate(Condition("cancel_requested", .equal, "false")) && first
            && (busyTestbeds.isEmpty
                ? .predicate(Condition("cancel_requested", .equal, "false"))
                : .or([
                    .predicate(Condition.isNull("testbed_id")),
                    .predicate(Condition("testbed_id", .notIn, busyTestbeds)),
                ]))
        return try await store.count(.runs, query: Query(filter: filter), scope: scope)
    }
}
