import Foundation
import ProctorStoreWriting

/// Runs that a client executes elsewhere and reports on, known to that client by a few labels rather than by
/// Proctor's id: KernelCI's jobs are identified by (job, kernel, git_branch), and a CI loop that imports builds in
/// parallel must not create the same job twice.
///
/// A dialect marks its runs with a `harness` value so that its listings see only its own runs, and names each
/// run's identity with labels, which the native API can filter on (`filter=labels.kernel=…`).
public struct ReportedRuns: Sendable {
    public let services: RunServices

    /// Serialises find-or-create per identity within this process (see ``findOrCreate(harness:identity:scope:groupID:fields:comment:)``).
    private static let locks = KeyedLock()

    public init(services: RunServices) {
        self.services = services
    }

    var store: any Store { services.writer }

    /// Which runs DCI shows as its jobs: runs of a topic reported by a remote CI. Runs that Proctor executes
    /// (native launches, CDRouter and XPRESSO jobs) have neither, and DCI neither lists nor changes them.
    public static let dciJobs: Filter = .and([
        .predicate(Condition("topic_id", .isNotNull, [])), .predicate(Condition("remoteci_id", .isNotNull, [])),
    ])

    /// The rows (files, events) of DCI's jobs: what DCI lists of them.
    public static let ofDCIJobs: Filter = .related(field: "run_id", kind: .runs, dciJobs)

    /// Whether a run is one of DCI's jobs (``dciJobs``).
    public static func isDCIJob(_ run: Run) -> Bool { !run[.topicID].isNull && !run[.remoteciID].isNull }

    /// Runs of `harness` whose labels hold every given value.
    public static func filter(harness: String, identity: [String: String]) -> Filter {
        var parts: [Filter] = [.equal("harness", harness)]
        for (key, value) in identity.sorted(by: { $0.key < $1.key }) {
            parts.append(.equal("labels.\(key)", value))
        }
        return .and(parts)
    }

    /// The oldest run of `harness` with this identity that the scope can see, or nil.
    public func find(harness: String, identity: [String: String], scope: Scope) async throws -> Run? {
        try await store.list(
            Run.self,
            query: Query(filter: Self.filter(harness: harness, identity: identity), sort: [SortKey("seq")], limit: 1),
            scope: scope
        ).first
    }

    /// The run of `harness` with this identity, created from `fields` in `groupID` when the scope has none.
    ///
    /// Callers in this process asking for the same identity at the same time wait for each other, so exactly one
    /// of them creates the run. Processes sharing a PostgreSQL database are not serialised against each other;
    /// ``find(harness:identity:scope:)`` returns the oldest run, so a rare duplicate stays invisible to clients.
    ///
    /// - Parameters:
    ///   - fields: the new run's fields; `harness` and the identity labels are added to its `labels`.
    /// - Returns: the run, and whether this call created it.
    public func findOrCreate(
        harness: String,
        identity: [String: String],
        scope: Scope,
        groupID: String,
        fields: Run,
        comment: String?
    ) async throws -> (run: Run, created: Bool) {
        let key = ([harness] + identity.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }).joined(
            separator: "\u{0}"
        )
        return try await Self.locks.withLock(key) {
            if let existing = try await find(harness: harness, identity: identity, scope: scope) {
                return (existing, false)
            }
            var values = fields
            var labels = values.json(.labels)?.objectValue ?? [:]
            for (name, value) in identity { labels[name] = .string(value) }
            values[.labels] = .json(.object(labels))
            values[.harness] = .string(harness)
            let run = try await services.lifecycle.createReported(values, groupID: groupID, comment: comment)
            return (run, true)
        }
    }

    /// Records one result of a reported run, replacing an earlier result with the same suite, class and name
    /// (a client that re-sends a report corrects it rather than adding to it), and recounts the run's results.
    ///
    /// Everything happens in one transaction that first writes the run row: concurrent reports on one run
    /// (a CI loop importing builds in parallel) queue on that row, so each recount sees every earlier result.
    ///
    /// - Returns: the stored result and whether it replaced an earlier one.
    @discardableResult
    public func recordResult(_ result: TestCase, run: Run) async throws -> (result: TestResult, replaced: Bool) {
        let values: [TestResult.Field: Value] = [
            .status: .string(result.status.rawValue), .time: .double(result.time),
            .message: result.message.map(Value.string) ?? .null,
            .systemOut: result.systemOut.map(Value.string) ?? .null,
            .systemErr: result.systemErr.map(Value.string) ?? .null,
        ]
        let identity: [TestResult.Field: Value] = [
            .runID: .string(run.id), .suite: .string(result.suite), .classname: .string(result.classname),
            .name: .string(result.name),
        ]
        let outcome: (TestResult, Bool) = try await store.transaction { store in
            let current = try await store.require(Run.self, id: run.id)
            _ = try await store.update(
                .runs,
                id: run.id,
                changes: Run.changes([.testsTotal: current[.testsTotal]]),
                ifMatch: nil,
                scope: .everything
            )
            let stored: (Record, Bool)
            if let existing = try await store.first(TestResult.self, matching: identity, scope: .everything) {
                stored = (
                    try await store.update(
                        .testResults,
                        id: existing.id,
                        changes: TestResult.changes(values),
                        ifMatch: nil,
                        scope: .everything
                    ), true
                )
            } else {
                var fresh = TestResult(values.merging(identity) { $1 })
                fresh[.groupID] = run[.groupID]
                stored = (try await store.insert(fresh.record), false)
            }
            try await RunFiles.refreshCounts(runID: run.id, in: store)
            return (TestResult(unchecked: stored.0), stored.1)
        }
        await services.events.publish()
        return outcome
    }

    // MARK: Changing a reported run

    /// What a reporting client may change on its run itself. Its status changes through
    /// ``RunLifecycle/report(runID:status:comment:scope:)``, which records the event; the rest is Proctor's.
    public static let editableFields: Set<Run.Field> = [
        .name, .comment, .configuration, .url, .reason, .tags, .state, .components, .options, .labels,
    ]

    /// Changes fields of a run that a client reports on. A run that Proctor executes changes only through its
    /// executor or a cancel, whatever door asks (409); `ifMatch` guards against a concurrent change (412).
    @discardableResult
    public func edit(runID: String, changes: [Run.Field: Value], ifMatch: String? = nil, scope: Scope) async throws
        -> Run
    {
        if let field = changes.keys.first(where: { !Self.editableFields.contains($0) }) {
            throw ProctorError(.internal, "\(field.rawValue) is not a field a reporting client changes")
        }
        let run = try await store.require(Run.self, id: runID, scope: scope)
        try Self.requireReported(run)
        guard !changes.isEmpty else { return run }
        return Run(
            unchecked: try await store.update(
                .runs,
                id: runID,
                changes: Run.changes(changes),
                ifMatch: ifMatch,
                scope: scope
            )
        )
    }

    /// Read-modify-write of a reported run's options (DCI's key/values and results summaries). With `ifMatch`
    /// a concurrent change is the caller's 412; without, the change is retried on the fresh row.
    @discardableResult
    public func updateOptions(
        runID: String,
        ifMatch: String? = nil,
        scope: Scope,
        _ change: @Sendable (inout [String: JSONValue]) throws -> Void
    ) async throws -> Run {
        for attempt in 0..<8 {
            let run = try await store.require(Run.self, id: runID, scope: scope)
            try Self.requireReported(run)
            var options = run.options
            try change(&options)
            do {
                return Run(
                    unchecked: try await store.update(
                        .runs,
                        id: runID,
                        changes: Run.changes([.options: .json(.object(options))]),
                        ifMatch: ifMatch ?? run.etag,
                        scope: scope
                    )
                )
            } catch let failure as ProctorError
                where ifMatch == nil && attempt < 7
                && (failure.code == .conflict || failure.code == .preconditionFailed)
            {
                continue
            }
        }
        throw ProctorError.conflict("the run kept changing; try again")
    }

    /// Archives a reported run and its files in one transaction (DCI's soft delete: rows stay, lists hide them).
    public func archive(runID: String, ifMatch: String?, scope: Scope) async throws {
        let run = try await store.require(Run.self, id: runID, scope: scope)
        try Self.requireReported(run)
        try await store.transaction { store in
            _ = try await store.update(
                .runs,
                id: runID,
                changes: Run.changes([.state: .string("archived")]),
                ifMatch: ifMatch,
                scope: scope
            )
            var cursor: String?
            repeat {
                let page = try await store.list(
                    .files,
                    query: Query(
                        filter: .equal("run_id", runID) && .predicate(Condition("state", .notEqual, "archived")),
                        sort: [SortKey("seq")],
                        limit: 500,
                        cursor: cursor,
                        fields: ["id"]
                    ),
                    scope: .everything
                )
                for file in page.items {
                    _ = try await store.update(
                        .files,
                        id: file.id,
                        changes: StoredFile.changes([.state: .string("archived")]),
                        ifMatch: nil,
                        scope: .everything
                    )
                }
                cursor = page.nextCursor
            } while cursor != nil
        }
        await services.events.publish()
    }

    /// Archives one file of a reported run.
    public func archiveFile(_ file: StoredFile, scope: Scope) async throws {
        if let runID = file.runID {
            try Self.requireReported(try await store.require(Run.self, id: runID, scope: .everything))
        }
        _ = try await store.update(
            .files,
            id: file.id,
            changes: StoredFile.changes([.state: .string("archived")]),
            ifMatch: nil,
            scope: scope
        )
    }

    /// A run Proctor executes is not a client's to change.
    static func requireReported(_ run: Run) throws {
        guard run.executor == .client else {
            throw ProctorError.conflict(
                "run \(run.id) is executed by Proctor; it changes only through its executor or a cancel"
            )
        }
    }

    /// Deletes a run with everything it owns: its stored files (content included), then the row, whose events,
    /// results and log chunks go with it.
    ///
    /// - Returns: false when the scope holds no such run.
    @discardableResult
    public func delete(runID: String, scope: Scope) async throws -> Bool {
        guard try await store.get(.runs, id: runID, scope: scope) != nil else { return false }
        while true {
            let listed = try await store.list(
                .files,
                query: Query(filter: .equal("run_id", runID), limit: 200, fields: ["id"]),
                scope: .everything
            ).items
            if listed.isEmpty { break }
            var removed = 0
            for row in listed {
                // A listing leaves out secret fields such as storage_path; the row read by id has it, so that the
                // file's content is removed with it.
                guard let file = try await store.get(.files, id: row.id, scope: .everything) else { continue }
                if try await services.files.delete(file) { removed += 1 }
            }
            // Every page must delete something (or its rows vanished meanwhile); otherwise stop instead of
            // listing the same rows again and again.
            guard removed > 0 || listed.count < 200 else {
                throw ProctorError(.unavailable, "the files of run \(runID) could not be deleted; try again")
            }
        }
        let deleted = try await store.delete(.runs, id: runID, ifMatch: nil, scope: scope)
        if deleted { await services.events.publish() }
        return deleted
    }
}

/// Mutual exclusion per key within one process: `withLock` runs its body while no other body holding the same
/// key runs; waiters are served in arrival order.
public actor KeyedLock {
    private var held: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    public func withLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T {
        await acquire(key)
        do {
            let value = try await body()
            release(key)
            return value
        } catch {
            release(key)
            throw error
        }
    }

    private func acquire(_ key: String) async {
        if held.insert(key).inserted { return }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    /// Hands the key to the next waiter (it stays held), or frees it.
    private func release(_ key: String) {
        if var queue = waiting[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            held.remove(key)
        }
    }
}
