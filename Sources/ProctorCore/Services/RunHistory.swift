import ProctorStoreWriting

/// What a job's recent runs say: the pass-rate trend and the tests that flip between pass and fail.
///
/// Both read only the job's latest runs (the `definition_id, created_at` index) and those runs' test results
/// (the `run_id, …` indexes), so their cost does not grow with the store.
public struct RunHistory: Sendable {
    public let store: any StoreReader

    public init(store: any StoreReader) {
        self.store = store
    }

    /// One finished run on the trend: its pass rate among the tests that ran (skipped ones aside).
    public struct Point: Sendable, Equatable {
        public var runID: String
        public var createdAt: Int64
        public var status: String
        public var passed: Int64
        public var failed: Int64
        public var total: Int64

        /// Passed / (total − skipped), or nil when no test ran.
        public var passRate: Double? {
            let ran = passed + failed
            return ran > 0 ? Double(passed) / Double(ran) : nil
        }
    }

    /// A test whose outcome changed back and forth across the window, with its outcomes oldest first
    /// (`passed`, `failed`, `error`, `skipped`, or `-` where the run did not have it).
    public struct FlakyTest: Sendable, Equatable {
        public var classname: String
        public var name: String
        public var flips: Int
        public var passes: Int
        public var failures: Int
        public var outcomes: [String]
    }

    /// The job's latest runs, newest first.
    public func recentRuns(definitionID: String, limit: Int, scope: Scope, finishedOnly: Bool = false) async throws
        -> [Run]
    {
        var filter: Filter = .equal("definition_id", definitionID)
        if finishedOnly {
            filter =
                filter && .predicate(Condition("status", .in, RunStatus.allCases.filter(\.isTerminal).map(\.rawValue)))
        }
        return try await store.list(
            Run.self,
            query: Query(filter: filter, sort: [SortKey("created_at", descending: true)], limit: limit),
            scope: scope
        )
    }

    /// The pass rate of the job's last `limit` finished runs, oldest first.
    public func trend(definitionID: String, limit: Int = 30, scope: Scope) async throws -> [Point] {
        try await recentRuns(definitionID: definitionID, limit: limit, scope: scope, finishedOnly: true).reversed().map
        { run in
            Point(
                runID: run.id,
                createdAt: run.createdAt,
                status: run.string(.status) ?? "",
                passed: run.int(.testsPassed) ?? 0,
                failed: (run.int(.testsFailed) ?? 0) + (run.int(.testsErrored) ?? 0),
                total: run.int(.testsTotal) ?? 0
            )
        }
    }

    /// Tests that flipped between pass and fail at least `minFlips` times across the job's last `lastRuns`
    /// finished runs, most flips first. Reads at most `maxResults` test results.
    public func flakyTests(
        definitionID: String,
        lastRuns: Int = 10,
        minFlips: Int = 2,
        scope: Scope,
        maxResults: Int = 50_000
    ) async throws -> [FlakyTest] {
        let runs = try await recentRuns(definitionID: definitionID, limit: lastRuns, scope: scope, finishedOnly: true)
            .reversed()
        guard runs.count >= 2 else { return [] }
        let position = Dictionary(uniqueKeysWithValues: runs.enumerated().map { ($0.element.id, $0.offset) })
        struct Key: Hashable { var classname: String; var name: String }
        var outcomes: [Key: [String]] = [:]
        var cursor: String?
        var read = 0
        repeat {
            let page = try await store.page(
                TestResult.self,
                query: Query(
                    filter: .predicate(Condition("run_id", .in, Array(position.keys))),
                    sort: [SortKey("seq")],
                    limit: 1000,
                    cursor: cursor,
                    fields: ["run_id", "classname", "name", "status"]
                ),
                scope: scope
            )
            for result in page.items {
                guard let index = position[result.runID] else { continue }
                let key = Key(classname: result.classname, name: result.name)
                outcomes[key, default: Array(repeating: "-", count: runs.count)][index] = result.string(.status) ?? "-"
            }
            read += page.items.count
            cursor = page.nextCursor
        } while cursor != nil && read < maxResults
        var flaky: [FlakyTest] = []
        for (key, sequence) in outcomes {
            let judged = sequence.compactMap { $0 == "passed" ? true : ($0 == "failed" || $0 == "error") ? false : nil }
            let flips = zip(judged, judged.dropFirst()).filter { $0 != $1 }.count
            guard flips >= minFlips else { continue }
            flaky.append(
                FlakyTest(
                    classname: key.classname,
                    name: key.name,
                    flips: flips,
                    passes: judged.filter { $0 }.count,
                    failures: judged.filter { !$0 }.count,
                    outcomes: sequence
                )
            )
        }
        return flaky.sorted { ($0.flips, $1.classname, $1.name) > ($1.flips, $0.classname, $0.name) }
    }
}
