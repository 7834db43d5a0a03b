import ProctorStoreWriting

/// One test across runs, and two runs side by side: what a reader asks after "it failed" ("since when?", "what
/// changed since the last good run?"). Both read through the `run_id` indexes of test results, over a bounded
/// number of runs.
extension RunHistory {
    /// A test's outcome in one run of its job (`-` when the run did not have it).
    public struct TestOutcome: Sendable, Equatable {
        public var runID: String
        public var runSeq: Int64?
        public var runName: String?
        public var createdAt: Int64
        public var status: String
        public var message: String?
    }

    /// The test's outcomes across the job's latest `limit` runs, newest first.
    public func testHistory(
        definitionID: String,
        classname: String,
        name: String,
        limit: Int = 50,
        scope: Scope
    ) async throws -> [TestOutcome] {
        let runs = try await recentRuns(definitionID: definitionID, limit: limit, scope: scope)
        guard !runs.isEmpty else { return [] }
        let results = try await store.list(
            TestResult.self,
            query: Query(
                filter: .predicate(Condition("run_id", .in, runs.map(\.id))) && .equal("name", name)
                    && .equal("classname", classname),
                limit: runs.count * 4,
                fields: ["run_id", "status", "message"]
            ),
            scope: scope
        )
        var byRun: [String: TestResult] = [:]
        for result in results { if let run = result.string(.runID) { byRun[run] = result } }
        return runs.map { run in
            TestOutcome(
                runID: run.id,
                runSeq: run.int(.seq),
                runName: run.name,
                createdAt: run.createdAt,
                status: byRun[run.id]?.string(.status) ?? "-",
                message: byRun[run.id]?.string(.message)
            )
        }
    }

    /// The oldest run of the newest unbroken streak of failures (`failed` or `error`) in `history` (newest first),
    /// or nil when the test's latest outcome is not a failure. Runs without the test do not break the streak.
    public static func failingSince(_ history: [TestOutcome]) -> TestOutcome? {
        var since: TestOutcome?
        for outcome in history where outcome.status != "-" {
            guard outcome.status == "failed" || outcome.status == "error" else { break }
            since = outcome
        }
        return since
    }

    /// A test whose status differs between two runs (`-`: the run did not have it).
    public struct TestChange: Sendable, Equatable {
        public var classname: String
        public var name: String
        public var before: String
        public var after: String
    }

    /// The tests whose status changed from `before` to `after`, by class and name; each run's first `maxResults`
    /// results are compared.
    public func changedTests(before: String, after: String, scope: Scope, maxResults: Int = 1000) async throws
        -> [TestChange]
    {
        struct Key: Hashable, Comparable {
            var classname: String
            var name: String
            static func < (a: Key, b: Key) -> Bool { (a.classname, a.name) < (b.classname, b.name) }
        }
        func statuses(_ runID: String) async throws -> [Key: String] {
            let items = try await store.list(
                TestResult.self,
                query: Query(
                    filter: .equal("run_id", runID),
                    sort: [SortKey("seq")],
                    limit: maxResults,
                    fields: ["classname", "name", "status"]
                ),
                scope: scope
            )
            var out: [Key: String] = [:]
            for item in items {
                out[Key(classname: item.classname, name: item.name)] = item.string(.status)
            }
            return out
        }
        let old = try await statuses(before)
        let new = try await statuses(after)
        return Set(old.keys).union(new.keys).sorted().compactMap { key in
            let was = old[key] ?? "-"
            let now = new[key] ?? "-"
            return was == now ? nil : TestChange(classname: key.classname, name: key.name, before: was, after: now)
        }
    }
}

extension RunHistory {
    /// A job's latest run and its latest successful one among its last ``window`` runs.
    public struct LastOutcome: Sendable {
        public var latest: Run?
        public var lastSuccess: Run?
        /// How many runs were looked through for the success: an older one is not searched for.
        public var window: Int
    }

    /// The latest run and latest success of each job, by job id: one indexed read (`definition_id, created_at`)
    /// of at most `window` rows per job, so that a job that never succeeds in a million runs costs no scan.
    public func lastOutcomes(definitionIDs: [String], window: Int = 50, scope: Scope) async throws
        -> [String: LastOutcome]
    {
        var out: [String: LastOutcome] = [:]
        for id in definitionIDs {
            let runs = try await store.list(
                Run.self,
                query: Query(
                    filter: .equal("definition_id", id),
                    sort: [SortKey("created_at", descending: true)],
                    limit: window,
                    fields: ["name", "seq", "status", "reason", "created_at", "finished_at"]
                ),
                scope: scope
            )
            out[id] = LastOutcome(
                latest: runs.first,
                lastSuccess: runs.first { $0.string(.status) == RunStatus.success.rawValue },
                window: window
            )
        }
        return out
    }
}
