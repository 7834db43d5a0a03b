import Foundation
import ProctorStoreWriting

/// Wakes whoever waits for something to happen to runs (long-polls, SSE streams, log followers, executors)
/// in this process, and, through the store's ``ChangeFeed`` when it has one, in the other replicas.
///
/// A waiter reads the ``generation`` first, then checks the store, then waits for a newer generation, so a
/// change between its check and its wait is never missed; without a change feed (SQLite: one process), replicas
/// would see each other's changes only through the wait's timeout.
public actor EventHub {
    public private(set) var generation: UInt64 = 0
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    private let feed: (any ChangeFeed)?
    /// An announcement is being sent; ``announcePending`` asks for one more after it (a burst of changes costs
    /// at most two NOTIFYs, not one each).
    private var announcing = false
    private var announcePending = false

    public init(feed: (any ChangeFeed)? = nil) {
        self.feed = feed
        if let feed {
            Task { [weak self] in
                await feed.follow { [weak self] in await self?.wakeLocally() }
            }
        }
    }

    /// Something changed: wake every waiter here, and tell the other replicas.
    public func publish() {
        wakeLocally()
        guard let feed else { return }
        if announcing {
            announcePending = true
            return
        }
        announcing = true
        Task { await self.announce(through: feed) }
    }

    private func announce(through feed: any ChangeFeed) async {
        repeat {
            announcePending = false
            await feed.announce()
        } while announcePending
        announcing = false
    }

    /// Another replica changed something: wake every waiter here only.
    private func wakeLocally() {
        generation &+= 1
        let pending = waiters
        waiters.removeAll()
        for continuation in pending.values { continuation.resume() }
    }

    /// Returns when the generation moves past `seen`, or after `timeout`.
    public func wait(after seen: UInt64, timeout: Duration) async {
        if generation != seen { return }
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspend(id, seen: seen) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.resume(id)
            }
            await group.next()
            group.cancelAll()
            self.resume(id)
        }
    }

    private func suspend(_ id: UUID, seen: UInt64) async {
        await withCheckedContinuation { continuation in
            if Task.isCancelled || generation != seen {
                continuation.resume()
            } else {
                waiters[id] = continuation
            }
        }
    }

    private func resume(_ id: UUID) {
        waiters.removeValue(forKey: id)?.resume()
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
    public func launch(_ request: LaunchRequest, principal: Principal, scope: Scope) async throws -> Record {
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
    ) async throws -> [Record] {
        guard !requests.isEmpty else { throw ProctorError.badRequest("a batch needs at least one run") }
        var fields: [[String: Value]] = []
        for request in requests { fields.append(try await prepare(request, principal: principal, scope: scope)) }
        let prepared = fields
        let runs = try await store.transaction { store in
            var runs: [Record] = []
            var shared: String?
            for var values in prepared {
                if let shared { values["request_id"] = .string(shared) }
                var run = try await store.insert(Record(.runs, values))
                if shared == nil, let requestID {
                    let id = requestID(run.seq)
                    shared = id
                    run = try await store.update(
                        .runs,
                        id: run.id,
                        changes: ["request_id": .string(id)],
                        ifMatch: nil,
                        scope: .everything
                    )
                }
                _ = try await store.insert(Self.creationEvent(run, comment: "launched"))
                runs.append(run)
            }
            return runs
        }
        for run in runs { recordCreated(run) }
        await events.publish()
        return runs
    }

    /// Creates a run that Proctor executes from ready-made fields (no job definition: an image build's builder
    /// command, say), in the caller's transaction when given one.
    public func createExecuted(
        _ fields: [String: Value],
        groupID: String,
        comment: String?,
        in transaction: (any Store)? = nil
    )
        async throws -> Record
    {
        var values = fields
        values["group_id"] = .string(groupID)
        values["executor"] = values["executor"] ?? .string(RunExecutor.local.rawValue)
        values["status"] = .string(RunStatus.new.rawValue)
        values["run_at"] = .timestamp(Timestamp.now())
        guard let transaction else { return try await create(values, comment: comment) }
        let run = try await transaction.insert(Record(.runs, values))
        _ = try await transaction.insert(Self.creationEvent(run, comment: comment))
        return run
    }

    /// The fields of a run launched from a job definition and one of its profiles.
    private func prepare(_ request: LaunchRequest, principal: Principal, scope: Scope) async throws -> [String: Value] {
        let definition = try await resolve(.definitions, request.definition, scope: scope, field: "definition")
        let groupID = definition.groupID ?? ""
        try principal.require(.member, in: groupID, resource: "definition")
        if definition.bool("deleted") == true || definition.string("configuration_state") == "DISABLED" {
            throw ProctorError(
                .unprocessable,
                "the job '\(definition.name ?? definition.id)' is disabled",
                field: "definition"
            )
        }
        let profile = try await profile(for: definition, named: request.profile)
        var engine: Record?
        if let engineID = profile?.string("engine_id") { engine = try await store.get(.engines, id: engineID) }
        let executor: RunExecutor = engine?.string("type") == "agent" ? .agent : .local

        var testbedID: String?
        if let testbed = request.testbed {
            testbedID = try await resolve(.testbeds, testbed, scope: .groups([groupID]), field: "testbed").id
        } else {
            testbedID = profile?.strings("testbed_ids").first
        }

        var options: [String: JSONValue] = [:]
        if let profile {
            options["envargs"] = profile["envargs"].jsonValue ?? .array([])
            options["jobargs"] = profile["jobargs"].jsonValue ?? .array([])
        }
        options["job_file"] = .string(definition.string("job_file") ?? "")
        if case .object(let config) = definition["config"].jsonValue ?? .null {
            for (key, value) in config where options[key] == nil && !LaunchParameters.serverOnlyKeys.contains(key) {
                options[key] = value
            }
        }
        if let binary = try await HarnessBinaries.chosen(
            harness: definition.string("harness") ?? "shell",
            profile: profile,
            groupID: groupID,
            store: store
        ) {
            options[binary.key] = .string(binary.path)
        }
        try LaunchParameters.apply(request.parameters, definition: definition, profile: profile, to: &options)
        try LaunchParameters.checkHarnessInputs(request.harnessInputs)
        for (key, value) in request.harnessInputs { options[key] = value }

        var values: [String: Value] = [
            "group_id": .string(groupID),
            "name": .string(request.name ?? definition.name ?? "run"),
            "status": .string(RunStatus.new.rawValue),
            "executor": .string(executor.rawValue),
            "harness": .string(definition.string("harness") ?? "shell"),
            "definition_id": .string(definition.id),
            "launched_by": principal.kind == .user ? .string(principal.id) : .null,
            "priority": .int(profile?.int("priority") ?? 4),
            "max_run_time": profile?.int("max_run_time").map(Value.int) ?? .null,
            "options": .json(.object(options)),
            "tags": .strings(request.tags),
            "labels": .json(.object(request.labels.mapValues(JSONValue.string))),
            "engine_labels": .strings(engine?.strings("labels") ?? []),
            "run_at": .timestamp(Timestamp.now()),
        ]
        if let profile { values["profile_id"] = .string(profile.id) }
        if let engine { values["engine_id"] = .string(engine.id) }
        if let testbedID { values["testbed_id"] = .string(testbedID) }
        if let config = request.config {
            values["config_id"] = .string(
                try await resolve(.configs, config, scope: .groups([groupID]), field: "config").id
            )
        } else if let configID = profile?.string("config_id") {
            values["config_id"] = .string(configID)
        }
        if let requestID = request.requestID {
            try await checkJoinable(requestID: requestID, groupID: groupID)
            values["request_id"] = .string(requestID)
        }
        if let previous = try await previousRun(definitionID: definition.id, profileID: profile?.id) {
            values["previous_run_id"] = .string(previous.id)
        }
        return values
    }

    /// Launches the same job again: the run's definition, profile, testbed, name, tags and labels, its launch
    /// parameters and harness inputs, over the definition and profile as they are now.
    public func relaunch(runID: String, principal: Principal, scope: Scope) async throws -> Record {
        let run = try await store.require(.runs, id: runID, scope: scope)
        guard let definition = run.string("definition_id") else {
            throw ProctorError.conflict(
                "this run was reported by a client, not launched from a job; it cannot be relaunched"
            )
        }
        let options = run["options"].jsonValue?.objectValue ?? [:]
        var labels: [String: String] = [:]
        for (key, value) in run["labels"].jsonValue?.objectValue ?? [:] { labels[key] = value.stringValue }
        return try await launch(
            LaunchRequest(
                definition: definition,
                profile: run.string("profile_id"),
                testbed: run.string("testbed_id"),
                name: run.name,
                parameters: options[LaunchParameters.recordKey]?.objectValue ?? [:],
                harnessInputs: options.filter { LaunchParameters.harnessInputKeys.contains($0.key) },
                tags: run.strings("tags"),
                labels: labels
            ),
            principal: principal,
            scope: scope
        )
    }

    /// Creates a run that a client executes itself and reports on (DCI jobs, KernelCI jobs, bare native runs).
    public func createReported(_ fields: [String: Value], groupID: String, comment: String? = nil) async throws
        -> Record
    {
        var values = fields
        values["group_id"] = .string(groupID)
        values["executor"] = .string(RunExecutor.client.rawValue)
        if values["status"] == nil || values["status"] == .null { values["status"] = .string(RunStatus.new.rawValue) }
        return try await create(values, comment: comment)
    }

    private func create(_ values: [String: Value], comment: String?) async throws -> Record {
        let run = try await store.transaction { store in
            let run = try await store.insert(Record(.runs, values))
            _ = try await store.insert(Self.creationEvent(run, comment: comment))
            return run
        }
        recordCreated(run)
        await events.publish()
        return run
    }

    private func recordCreated(_ run: Record) {
        let status = RunStatus(rawValue: run.string("status") ?? "") ?? .new
        recordChange(run, from: nil, to: status, reason: nil)
    }

    /// Tells the observers that `run` (as stored after the change) went from `from` to `to`.
    func recordChange(_ run: Record, from: RunStatus?, to: RunStatus, reason: String?) {
        activity.record(
            .statusChanged(
                runID: run.id,
                from: from,
                to: to,
                executor: run.string("executor") ?? "",
                reason: reason,
                durationSeconds: to.isTerminal ? run["duration"].doubleValue : nil
            )
        )
    }

    /// The first event of a new run.
    private static func creationEvent(_ run: Record, comment: String?) -> Record {
        Record(
            .runEvents,
            [
                "group_id": run["group_id"], "run_id": .string(run.id), "status": run["status"],
                "comment": comment.map(Value.string) ?? .null,
            ]
        )
    }

    // MARK: Changing status

    /// A status reported by the client that executes the run, with DCI's rules: any status may follow any;
    /// a failure or error reported while the run is new or pre-run is recorded as `error` in the event.
    ///
    /// A run that Proctor executes changes status only through its executor or a cancel: whichever door reports
    /// on it gets a conflict.
    public func report(runID: String, status: RunStatus, comment: String?, scope: Scope) async throws -> (
        run: Record, event: Record
    ) {
        let result = try await store.transaction { store -> (Record, Record, RunStatus) in
            let run = try await store.require(.runs, id: runID, scope: scope)
            guard run.string("executor") == RunExecutor.client.rawValue else {
                throw ProctorError.conflict(
                    "Proctor executes this run; only its executor or a cancel changes its status",
                    field: "status"
                )
            }
            let previous = RunStatus(rawValue: run.string("status") ?? "") ?? .new
            var recorded = status
            if (status == .failure || status == .error) && (previous == .new || previous == .preRun) {
                recorded = .error
            }
            var changes: [String: Value] = ["status": .string(status.rawValue)]
            let now = Timestamp.now()
            if let created = run.int("created_at") { changes["duration"] = .double(Double(now - created) / 1_000_000) }
            if status == .running && run["started_at"].isNull { changes["started_at"] = .timestamp(now) }
            if status.isTerminal { changes["finished_at"] = .timestamp(now) }
            let updated = try await store.update(.runs, id: run.id, changes: changes, ifMatch: nil, scope: .everything)
            let event = try await store.insert(
                Record(
                    .runEvents,
                    [
                        "group_id": run["group_id"], "run_id": .string(run.id), "status": .string(recorded.rawValue),
                        "previous_status": .string(previous.rawValue), "comment": comment.map(Value.string) ?? .null,
                    ]
                )
            )
            return (updated, event, previous)
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
        changes extra: [String: Value] = [:],
        expecting: Set<RunStatus>? = nil,
        ifMatch: String? = nil,
        claim: RunQueue.Claim? = nil
    ) async throws -> Record {
        let result = try await store.transaction { store -> (Record, Record, RunStatus) in
            let run = try await store.require(.runs, id: runID)
            let current = RunStatus(rawValue: run.string("status") ?? "") ?? .new
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
            changes["status"] = .string(next.rawValue)
            let now = Timestamp.now()
            if let reason { changes["reason"] = .string(reason) }
            switch next {
            case .running:
                changes["started_at"] = .timestamp(now)
            case .new:
                changes["claimed_by"] = .null
                changes["lease_expires_at"] = .null
            case _ where next.isTerminal:
                changes["finished_at"] = .timestamp(now)
                changes["lease_expires_at"] = .null
                let start = run.int("started_at") ?? run.int("created_at") ?? now
                changes["duration"] = .double(Double(now - start) / 1_000_000)
            default: break
            }
            let updated = try await store.update(
                .runs,
                id: run.id,
                changes: changes,
                ifMatch: run.etag,
                scope: .everything
            )
            if next.isTerminal { try await ImageBuilds.finish(run: updated, status: next, in: store) }
            let event = try await store.insert(
                Record(
                    .runEvents,
                    [
                        "group_id": run["group_id"], "run_id": .string(run.id), "status": .string(next.rawValue),
                        "previous_status": .string(current.rawValue), "comment": reason.map(Value.string) ?? .null,
                    ]
                )
            )
            return (updated, event, current)
        }
        recordChange(result.0, from: result.2, to: next, reason: reason)
        await events.publish()
        return result.0
    }

    /// Cancels a run: one still queued ends `killed` at once; one executing is flagged, and its executor
    /// kills the process group and reports `killed` (reason `canceled`). A finished run is a conflict.
    public func cancel(runID: String, principal: Principal, scope: Scope) async throws -> Record {
        let run = try await store.require(.runs, id: runID, scope: scope)
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        let status = RunStatus(rawValue: run.string("status") ?? "") ?? .new
        if status.isTerminal {
            throw ProctorError.conflict("the run already ended (\(status.rawValue))", field: "status")
        }
        if run.string("executor") == RunExecutor.client.rawValue {
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
            changes: ["cancel_requested": .bool(true)],
            ifMatch: nil,
            scope: .everything
        )
        await events.publish()
        return flagged
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
        guard runs.contains(where: { !(RunStatus(rawValue: $0.string("status") ?? "")?.isTerminal ?? true) }) else {
            throw ProctorError.conflict("the request \(requestID) has finished; launch a new one", field: "request_id")
        }
    }

    /// Finds a row by id or, failing that, by name within the scope.
    public func resolve(_ kind: ResourceKind, _ reference: String, scope: Scope, field: String) async throws -> Record {
        if let row = try await store.get(kind, id: reference, scope: scope) { return row }
        if let row = try await store.first(kind, matching: ["name": .string(reference)], scope: scope) { return row }
        throw ProctorError(.notFound, "no such \(kind.singular): \(reference)", field: field)
    }

    private func profile(for definition: Record, named reference: String?) async throws -> Record? {
        let scope = Scope.groups([definition.groupID ?? ""])
        if let reference {
            if let row = try await store.get(.profiles, id: reference, scope: scope),
                row.string("definition_id") == definition.id
            {
                return row
            }
            if let row = try await store.first(
                .profiles,
                matching: ["definition_id": .string(definition.id), "name": .string(reference)],
                scope: scope
            ) {
                return row
            }
            throw ProctorError(.notFound, "the job has no profile '\(reference)'", field: "profile")
        }
        if let row = try await store.first(
            .profiles,
            matching: ["definition_id": .string(definition.id), "is_default": .bool(true)],
            scope: scope
        ) {
            return row
        }
        return try await store.first(.profiles, matching: ["definition_id": .string(definition.id)], scope: scope)
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
