import Foundation
import ProctorStoreWriting

/// Wakes whoever waits for something to happen to runs (long-polls, SSE streams, log followers, executors)
/// in this process, and, through the store's ``ChangeFeed`` when it has one, in the other replicas.
///
/// A waiter reads the ``generation`` first, then checks the store, then waits for a newer generation, so a
/// change between its check and its wait is never missed; without a change feed (SQLite: one process), replicas
/// would see each other's changes only through the wait's timeout.
public actor EventHub {
    /// Moves at every change, whatever its topic.
    public private(set) var generation: UInt64 = 0
    /// Moves at every change that may give a claimer work or a running job news (``ChangeTopic/runs``, or a
    /// change of unknown topic), not at a log's growth.
    public private(set) var runGeneration: UInt64 = 0
    private var waiters: [UUID: (continuation: CheckedContinuation<Void, Never>, runsOnly: Bool)] = [:]
    private let feed: (any ChangeFeed)?
    /// An announcement is being sent; ``announcePending`` holds the topics to announce after it (a burst of
    /// changes costs at most one NOTIFY more per topic, not one each).
    private var announcing = false
    private var announcePending: Set<ChangeTopic> = []

    public init(feed: (any ChangeFeed)? = nil) {
        self.feed = feed
        if let feed {
            Task { [weak self] in
                await feed.follow { [weak self] topic in await self?.wakeLocally(topic) }
            }
        }
    }

    /// Something changed: wake the waiters here it concerns, and tell the other replicas.
    public func publish(_ topic: ChangeTopic = .runs) {
        wakeLocally(topic)
        guard let feed else { return }
        announcePending.insert(topic)
        if announcing { return }
        announcing = true
        Task { await self.announce(through: feed) }
    }

    private func announce(through feed: any ChangeFeed) async {
        while let topic = announcePending.popFirst() {
            await feed.announce(topic)
        }
        announcing = false
    }

    /// A change here or in another replica (nil: of unknown topic): wake the waiters here it concerns.
    private func wakeLocally(_ topic: ChangeTopic?) {
        generation &+= 1
        let concernsRuns = topic != .logs
        if concernsRuns { runGeneration &+= 1 }
        for (id, waiter) in waiters where concernsRuns || !waiter.runsOnly {
            waiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }

    /// Returns when the run generation (``runGeneration``) moves past `seen`, or after `timeout`: for claimers and
    /// running jobs, which a log's growth does not concern.
    public func waitForRuns(after seen: UInt64, timeout: Duration) async {
        await wait(after: seen, timeout: timeout, runsOnly: true)
    }

    /// Returns when the generation moves past `seen`, or after `timeout`.
    public func wait(after seen: UInt64, timeout: Duration) async {
        await wait(after: seen, timeout: timeout, runsOnly: false)
    }

    private func wait(after seen: UInt64, timeout: Duration, runsOnly: Bool) async {
        if (runsOnly ? runGeneration : generation) != seen { return }
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspend(id, seen: seen, runsOnly: runsOnly) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.resume(id)
            }
            await group.next()
            group.cancelAll()
            self.resume(id)
        }
    }

    private func suspend(_ id: UUID, seen: UInt64, runsOnly: Bool) async {
        await withCheckedContinuation { continuation in
            if Task.isCancelled || (runsOnly ? runGeneration : generation) != seen {
                continuation.resume()
            } else {
                waiters[id] = (continuation, runsOnly)
            }
        }
    }

    private func resume(_ id: UUID) {
        waiters.removeValue(forKey: id)?.continuation.resume()
    }
}

/// What a caller asks when launching a job: a definition and a profile (by id or name), optionally a
/// testbed, values for the definition's launch parameters (``LaunchParameters``), tags and labels.
public struct LaunchRequest: Sendable {
    public var definition: String
    public var profile: String?
    public var testbed: String?
    /// A config (id or name, in the definition's group) for this run instead of the profile's: a CDRouter job
    /// names its own.
    public var config: String?
    public var name: String?
    /// Values for declared job args and envargs, by name; anything else is refused.
    public var parameters: [String: JSONValue]
    /// What a door derived from its own documented fields (CDRouter's job options), limited to
    /// ``LaunchParameters/harnessInputKeys``.
    public var harnessInputs: [String: JSONValue]
    public var tags: [String]
    public var labels: [String: String]
    public var requestID: String?

    public init(
        definition: String,
        profile: String? = nil,
        testbed: String? = nil,
        config: String? = nil,
        name: String? = nil,
        parameters: [String: JSONValue] = [:],
        harnessInputs: [String: JSONValue] = [:],
        tags: [String] = [],
        labels: [String: String] = [:],
        requestID: String? = nil
    ) {
        self.definition = definition
        self.profile = profile
        self.testbed = testbed
        self.config = config
        self.name = name
        self.parameters = parameters
        self.harnessInputs = harnessInputs
        self.tags = tags
        self.labels = labels
        self.requestID = requestID
    }
}

/// The one place a run changes status. Every change is checked against the rules of whoever makes it
/// (Proctor's executor or a reporting client), stored with its run event in one transaction, and announced
/// on the ``EventHub``.
public struct RunLifecycle: Sendable {
    public let store: any Store
    public let events: EventHub
    /// Where every committed status change is told (``RunActivity``).
    public let activity: RunActivityFeed

    public init(store: any Store, events: EventHub, activity: RunActivityFeed = RunActivityFeed()) {
        self.store = store
        self.events = events
        self.activity = activity
    }

    // MARK: Creating runs

    /// Launches a run of a job definition with one of its profiles: the profile's engine decides who executes
    /// it, its priority orders the queue, its max_run_time bounds it.
    public func launch(_ request: LaunchRequest, principal: Principal, scope: Scope) async throws -> Run {
        try await create(try await prepare(request, principal: principal, scope: scope), comment: "launched")
    }

    /// Launches several runs atomically: every run or none, so a client that retries a refused batch never
    /// leaves part of it on the lab (a CDRouter bulk launch; an XPRESSO request and its items).
    ///
    /// With `requestID`, the runs share one request id made from the first run's `seq`, so that it is unique
    /// across replicas without a counter of its own; each request's `requestID` is then ignored.
    public func launch(
        batch requests: [LaunchRequest],
        principal: Principal,
        scope: Scope,
        requestID: (@Sendable (Int64) -> String)? = nil
    ) async throws -> [Run] {
        guard !requests.isEmpty else { throw ProctorError.badRequest("a batch needs at least one run") }
        var prepared: [Run] = []
        for request in requests { prepared.append(try await prepare(request, principal: principal, scope: scope)) }
        let runs = try await store.transaction { [prepared] store in
            var runs: [Run] = []
            var shared: String?
            for var values in prepared {
                if let shared { values[.requestID] = .string(shared) }
                var run = Run(unchecked: try await store.insert(values.record))
                if shared == nil, let requestID {
                    let id = requestID(run.seq)
                    shared = id
                    run = Run(
                        unchecked: try await store.update(
                            .runs,
                            id: run.id,
                            changes: Run.changes([.requestID: .string(id)]),
                            ifMatch: nil,
                            scope: .everything
                        )
                    )
                }
                _ = try await store.insert(Self.creationEvent(run, comment: "launched").record)
                runs.append(run)
            }
            return runs
        }
        for run in runs { recordChange(run, from: nil, to: run.status, reason: nil) }
        await events.publish()
        return runs
    }

    /// Creates a run that Proctor executes from ready-made fields (no job definition: an image build's builder
    /// command, say), in the caller's transaction when given one.
    public func createExecuted(
        _ fields: Run,
        groupID: String,
        comment: String?,
        in transaction: (any Store)? = nil
    )
        async throws -> Run
    {
        var values = fields
        values[.groupID] = .string(groupID)
        if !values.has(.executor) { values[.executor] = .string(RunExecutor.local.rawValue) }
        values.status = .new
        values[.runAt] = .timestamp(Timestamp.now())
        guard let transaction else { return try await create(values, comment: comment) }
        let run = Run(unchecked: try await transaction.insert(values.record))
        _ = try await transaction.insert(Self.creationEvent(run, comment: comment).record)
        return run
    }

    /// The fields of a run launched from a job definition and one of its profiles.
    private func prepare(_ request: LaunchRequest, principal: Principal, scope: Scope) async throws -> Run {
        let definition = Definition(
            unchecked: try await resolve(.definitions, request.definition, scope: scope, field: "definition")
        )
        let groupID = definition.groupID ?? ""
        try principal.require(.member, in: groupID, resource: "definition")
        guard definition.isLaunchable else {
            throw ProctorError(
                .unprocessable,
                "the job '\(definition.name.isEmpty ? definition.id : definition.name)' is disabled",
                field: "definition"
            )
        }
        let profile = try await profile(for: definition, named: request.profile)
        var engine: Engine?
        if let engineID = profile?.engineID { engine = try await store.get(Engine.self, id: engineID) }
        let executor: RunExecutor = engine?.isAgent == true ? .agent : .local

        var testbedID: String?
        if let testbed = request.testbed {
            testbedID = try await resolve(.testbeds, testbed, scope: .groups([groupID]), field: "testbed").id
        } else {
            testbedID = profile?.testbedIDs.first
        }

        var options: [String: JSONValue] = [:]
        if let profile {
            options["envargs"] = profile.json(.envargs) ?? .array([])
            options["jobargs"] = profile.json(.jobargs) ?? .array([])
        }
        options["job_file"] = .string(definition.jobFile)
        for (key, value) in definition.config
        where options[key] == nil && !LaunchParameters.serverOnlyKeys.contains(key) {
            options[key] = value
        }
        if let binary = try await HarnessBinaries.chosen(
            harness: definition.harness,
            profile: profile,
            groupID: groupID,
            store: store
        ) {
            options[binary.key] = .string(binary.path)
        }
        try LaunchParameters.apply(request.parameters, definition: definition, profile: profile, to: &options)
        try LaunchParameters.checkHarnessInputs(request.harnessInputs)
        for (key, value) in request.harnessInputs { options[key] = value }

        var run = Run([
            .groupID: .string(groupID),
            .name: .string(request.name ?? definition.string(.name) ?? "run"),
            .status: .string(RunStatus.new.rawValue),
            .executor: .string(executor.rawValue),
            .harness: .string(definition.harness),
            .definitionID: .string(definition.id),
            .launchedBy: principal.kind == .user ? .string(principal.id) : .null,
            .priority: .int(profile?.priority ?? 4),
            .maxRunTime: profile?.maxRunTime.map(Value.int) ?? .null,
            .options: .json(.object(options)),
            .tags: .strings(request.tags),
            .labels: .json(.object(request.labels.mapValues(JSONValue.string))),
            .engineLabels: .strings(engine?.labels ?? []),
            .runAt: .timestamp(Timestamp.now()),
        ])
        if let profile { run[.profileID] = .string(profile.id) }
        if let engine { run[.engineID] = .string(engine.id) }
        if let testbedID { run[.testbedID] = .string(testbedID) }
        if let config = request.config {
            run[.configID] = .string(
                try await resolve(.configs, config, scope: .groups([groupID]), field: "config").id
            )
        } else if let configID = profile?.configID {
            run[.configID] = .string(configID)
        }
        if let requestID = request.requestID {
            try await checkJoinable(requestID: requestID, groupID: groupID)
            run[.requestID] = .string(requestID)
        }
        if let previous = try await previousRun(definitionID: definition.id, profileID: profile?.id) {
            run[.previousRunID] = .string(previous.id)
        }
        return run
    }

    /// Launches the same job again: the run's definition, profile, testbed, name, tags and labels, its launch
    /// parameters and harness inputs, over the definition and profile as they are now.
    public func relaunch(runID: String, principal: Principal, scope: Scope) async throws -> Run {
        let run = try await store.require(Run.self, id: runID, scope: scope)
        guard let definition = run.definitionID else {
            throw ProctorError.conflict(
                "this run was reported by a client, not launched from a job; it cannot be relaunched"
            )
        }
        let options = run.options
        return try await launch(
            LaunchRequest(
                definition: definition,
                profile: run.profileID,
                testbed: run.testbedID,
                name: run.name,
                parameters: options[LaunchParameters.recordKey]?.objectValue ?? [:],
                harnessInputs: options.filter { LaunchParameters.harnessInputKeys.contains($0.key) },
                tags: run.tags,
                labels: run.labels
            ),
            principal: principal,
            scope: scope
        )
    }

    /// Creates a run that a client executes itself and reports on (DCI jobs, KernelCI jobs, bare native runs).
    public func createReported(_ fields: Run, groupID: String, comment: String? = nil) async throws -> Run {
        var values = fields
        values[.groupID] = .string(groupID)
        values[.executor] = .string(RunExecutor.client.rawValue)
        if values[.status].isNull { values.status = .new }
        return try await create(values, comment: comment)
    }

    private func create(_ values: Run, comment: String?) async throws -> Run {
        let run = try await store.transaction { store in
            let run = Run(unchecked: try await store.insert(values.record))
            _ = try await store.insert(Self.creationEvent(run, comment: comment).record)
            return run
        }
        recordChange(run, from: nil, to: run.status, reason: nil)
        await events.publish()
        return run
    }

    /// Tells the observers that `run` (as stored after the change) went from `from` to `to`.
    func recordChange(_ run: Run, from: RunStatus?, to: RunStatus, reason: String?) {
        activity.record(
            .statusChanged(
                runID: run.id,
                from: from,
                to: to,
                executor: run.string(.executor) ?? "",
                reason: reason,
                durationSeconds: to.isTerminal ? run.double(.duration) : nil
            )
        )
    }

    /// The event recording a run's change to `status` (its creation when `previous` is nil).
    private static func event(
        _ run: Run,
        status: RunStatus,
        previous: RunStatus?,
        comment: String?
    ) -> RunEvent {
        RunEvent([
            .groupID: run[.groupID], .runID: .string(run.id), .status: .string(status.rawValue),
            .previousStatus: previous.map { .string($0.rawValue) } ?? .null,
            .comment: comment.map(Value.string) ?? .null,
        ])
    }

    /// The first event of a new run.
    private static func creationEvent(_ run: Run, comment: String?) -> RunEvent {
        event(run, status: run.status, previous: nil, comment: comment)
    }

    // MARK: Changing status

    /// A status reported by the client that executes the run, with DCI's rules: any status may follow any;
    /// a failure or error reported while the run is new or pre-run is recorded as `error` in the event.
    ///
    /// A run that Proctor executes changes status only through its executor or a cancel: whichever door reports
    /// on it gets a conflict.
    public func report(runID: String, status: RunStatus, comment: String?, scope: Scope) async throws -> (
        run: Run, event: RunEvent
    ) {
        let result = try await store.transaction { store -> (Run, RunEvent, RunStatus) in
            let run = try await store.require(Run.self, id: runID, scope: scope)
            guard run.executor == .client else {
                throw ProctorError.conflict(
                    "Proctor executes this run; only its executor or a cancel changes its status",
                    field: "status"
                )
            }
            let previous = run.status
            var recorded = status
            if (status == .failure || status == .error) && (previous == .new || previous == .preRun) {
                recorded = .error
            }
            var changes: [Run.Field: Value] = [.status: .string(status.rawValue)]
            let now = Timestamp.now()
            if run.has(.createdAt) { changes[.duration] = .double(Double(now - run.createdAt) / 1_000_000) }
            if status == .running && run.startedAt == nil { changes[.startedAt] = .timestamp(now) }
            if status.isTerminal { changes[.finishedAt] = .timestamp(now) }
            let updated = try await store.update(
                .runs,
                id: run.id,
                changes: Run.changes(changes),
                ifMatch: nil,
                scope: .everything
            )
            let event = try await store.insert(
                Self.event(run, status: recorded, previous: previous, comment: comment).record
            )
            return (Run(unchecked: updated), RunEvent(unchecked: event), previous)
        }
        recordChange(result.0, from: result.2, to: status, reason: comment)
        await events.publish()
        return (result.0, result.1)
    }

    /// Moves a run Proctor executes to its next phase; an illegal change is a conflict.
    /// `changes` are stored with the status (exit code, reason, counts…).
    @discardableResult
    public func advance(
        runID: String,
        to next: RunStatus,
        reason: String? = nil,
        changes extra: [Run.Field: Value] = [:],
        expecting: Set<RunStatus>? = nil,
        ifMatch: String? = nil,
        claim: RunQueue.Claim? = nil
    ) async throws -> Run {
        let result = try await store.transaction { store -> (Run, RunStatus) in
            let run = try await store.require(Run.self, id: runID)
            let current = run.status
            if let ifMatch, ifMatch != run.etag { throw ProctorError.conflict("the run changed meanwhile") }
            if let claim, !claim.holds(run) {
                throw ProctorError.conflict(
                    "the run is no longer under this claim (its lease expired and it was requeued)"
                )
            }
            if let expecting, !expecting.contains(current) {
                throw ProctorError.conflict(
                    "the run is \(current.rawValue), not \(expecting.map(\.rawValue).sorted().joined(separator: " or "))",
                    field: "status"
                )
            }
            guard current.canAdvance(to: next) else {
                throw ProctorError.conflict(
                    "a run cannot go from \(current.rawValue) to \(next.rawValue)",
                    field: "status"
                )
            }
            var changes = extra
            changes[.status] = .string(next.rawValue)
            let now = Timestamp.now()
            if let reason { changes[.reason] = .string(reason) }
            switch next {
            case .running:
                changes[.startedAt] = .timestamp(now)
            case .new:
                changes[.claimedBy] = .null
                changes[.leaseExpiresAt] = .null
            case _ where next.isTerminal:
                changes[.finishedAt] = .timestamp(now)
                changes[.leaseExpiresAt] = .null
                let start = run.startedAt ?? (run.has(.createdAt) ? run.createdAt : now)
                changes[.duration] = .double(Double(now - start) / 1_000_000)
            default: break
            }
            let updated = Run(
                unchecked: try await store.update(
                    .runs,
                    id: run.id,
                    changes: Run.changes(changes),
                    ifMatch: run.etag,
                    scope: .everything
                )
            )
            if next.isTerminal { try await ImageBuilds.finish(run: updated, status: next, in: store) }
            _ = try await store.insert(Self.event(run, status: next, previous: current, comment: reason).record)
            return (updated, current)
        }
        recordChange(result.0, from: result.1, to: next, reason: reason)
        await events.publish()
        return result.0
    }

    /// Cancels a run: one still queued ends `killed` at once; one executing is flagged, and its executor
    /// kills the process group and reports `killed` (reason `canceled`). A finished run is a conflict.
    public func cancel(runID: String, principal: Principal, scope: Scope) async throws -> Run {
        let run = try await store.require(Run.self, id: runID, scope: scope)
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        let status = run.status
        if status.isTerminal {
            throw ProctorError.conflict("the run already ended (\(status.rawValue))", field: "status")
        }
        if run.executor == .client {
            return try await report(runID: run.id, status: .killed, comment: "canceled", scope: scope).run
        }
        if status == .new {
            do {
                return try await advance(runID: run.id, to: .killed, reason: "canceled", expecting: [.new])
            } catch let failure as ProctorError where failure.code == .conflict {
                // Claimed meanwhile: flag it for the executor below.
            }
        }
        let flagged = try await store.update(
            .runs,
            id: run.id,
            changes: Run.changes([.cancelRequested: .bool(true)]),
            ifMatch: nil,
            scope: .everything
        )
        await events.publish()
        return Run(unchecked: flagged)
    }

    // MARK: Helpers

    /// A launch may join a request (an XPRESSO request's items) only when it is a request of the job's own group
    /// that has not finished: some run of it is still new or active.
    private func checkJoinable(requestID: String, groupID: String) async throws {
        guard !requestID.isEmpty, requestID.count <= 64 else {
            throw ProctorError.badRequest("request_id must be a request's id (1 to 64 characters)", field: "request_id")
        }
        let runs = try await store.list(
            .runs,
            query: Query(filter: .equal("request_id", requestID), limit: 100, fields: ["id", "status"]),
            scope: .groups([groupID])
        ).items
        guard !runs.isEmpty else {
            throw ProctorError(.notFound, "no request \(requestID) in the job's group", field: "request_id")
        }
        guard
            runs.contains(where: {
                !(RunStatus(rawValue: Run(unchecked: $0).string(.status) ?? "")?.isTerminal ?? true)
            })
        else {
            throw ProctorError.conflict("the request \(requestID) has finished; launch a new one", field: "request_id")
        }
    }

    /// Finds a row by id or, failing that, by name within the scope.
    public func resolve(_ kind: ResourceKind, _ reference: String, scope: Scope, field: String) async throws -> Record {
        if let row = try await store.get(kind, id: reference, scope: scope) { return row }
        if let row = try await store.first(kind, matching: ["name": .string(reference)], scope: scope) { return row }
        throw ProctorError(.notFound, "no such \(kind.singular): \(reference)", field: field)
    }

    private func profile(for definition: Definition, named reference: String?) async throws -> Profile? {
        let scope = Scope.groups([definition.groupID ?? ""])
        let ofDefinition: Value = .string(definition.id)
        if let reference {
            if let row = try await store.get(Profile.self, id: reference, scope: scope),
                row.definitionID == definition.id
            {
                return row
            }
            if let row = try await store.first(
                Profile.self,
                matching: [.definitionID: ofDefinition, .name: .string(reference)],
                scope: scope
            ) {
                return row
            }
            throw ProctorError(.notFound, "the job has no profile '\(reference)'", field: "profile")
        }
        if let row = try await store.first(
            Profile.self,
            matching: [.definitionID: ofDefinition, .isDefault: .bool(true)],
            scope: scope
        ) {
            return row
        }
        return try await store.first(Profile.self, matching: [.definitionID: ofDefinition], scope: scope)
    }

    /// The latest earlier run of the same definition and profile: what regressions are measured against.
    private func previousRun(definitionID: String, profileID: String?) async throws -> Record? {
        var filter: Filter = .equal("definition_id", definitionID)
        if let profileID { filter = filter && .equal("profile_id", profileID) }
        let page = try await store.list(
            .runs,
            query: Query(filter: filter, sort: [SortKey("created_at", descending: true)], limit: 1, fields: ["id"]),
            scope: .everything
        )
        return page.items.first
    }
}
