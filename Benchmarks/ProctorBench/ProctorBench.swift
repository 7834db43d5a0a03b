import ArgumentParser
import Foundation
import Logging
import ProctorCore
import ProctorHTTPKit
import ProctorStore

/// `proctor-bench store`: seeds runs and times the list queries issue #2 asks about, for SQLite and PostgreSQL.
@main
struct ProctorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proctor-bench",
        abstract: "Seed a store with runs and print p50/p99 of the list queries.",
        discussion: "Run it in release mode: swift run -c release proctor-bench --runs 1000000"
    )

    @Option(help: "How many runs to seed.")
    var runs = 1_000_000

    @Option(help: "How many times to repeat each query.")
    var repeats = 200

    @Option(help: "PostgreSQL URL; when given, PostgreSQL is measured too (default: env PROCTOR_TEST_POSTGRES_URL).")
    var databaseURL: String?

    @Flag(help: "Measure SQLite only.")
    var sqliteOnly = false

    @Option(help: "Instead of the store: write a JUnit file of this many MB and time JUnitParser on it (e.g. 50).")
    var junitMb: Int?

    @Flag(
        help:
            "Time the dashboard's runs page (issue #9: under 100 ms of server time at 1,000,000 runs) instead of the raw queries."
    )
    var dashboard = false

    @Option(
        help: "Instead of the store: load this many KernelCI jobs (e.g. 1000000) and time the dialect's /job queries."
    )
    var kernelci: Int?

    @Option(
        help: "Instead of the store: load this many full KernelCI job documents (e.g. 200000) and measure /job's gzip."
    )
    var kernelciGzip: Int?

    @Option(
        help:
            "Instead of the store: seed this many DCI jobs (e.g. 2000) and print the DCI door's CPU per request, with and without embeds."
    )
    var dci: Int?

    @Option(
        help:
            "Instead of the store: seed this many native runs (e.g. 20000) as Benchmarks/http.sh does and print the CPU per request of its three routes, served in process."
    )
    var native: Int?

    @Option(
        help:
            "Instead of the store: put this running server (e.g. http://127.0.0.1:8080) under a write load of --clients clients for --seconds s (runs created, then reported running and success) and print acknowledged writes/s and p50/p99."
    )
    var writeLoad: String?

    @Flag(help: "Seed only: print the bulk import's runs/s on each backend (SQLite's C API, PostgreSQL's COPY).")
    var importOnly = false

    @Flag(
        help:
            "Time the first page against the page 100,000 rows deep by offset: with no keyset anchor (each read from the start), when the page before was read just before (a client walking the pages), the same deep page again, and by keyset cursor."
    )
    var deepPages = false

    @Option(
        help:
            "Instead of the store: simulate a lab against these running replicas (comma-separated URLs): --agents agents claim and finish --runs runs over --testbeds testbeds; prints exactly-once, testbed exclusivity, dispatch p50/p99 and runs/s."
    )
    var labSimulation: String?

    @Option(help: "With --lab-simulation: how many simulated agents.")
    var agents = 100

    @Option(help: "With --lab-simulation: how many testbeds the runs are spread over.")
    var testbeds = 200

    @Option(help: "With --write-load or --lab-simulation: the bearer token (default: env PROCTOR_TOKEN).")
    var token: String?

    @Option(help: "With --write-load: how many concurrent clients.")
    var clients = 200

    @Option(help: "With --write-load: how many seconds.")
    var seconds = 30.0

    func run() async throws {
        AllocatorTuning.apply()
        if let labSimulation {
            let options = LabSimulation.Options(
                replicas: labSimulation.split(separator: ",").map(String.init),
                token: token ?? ProcessInfo.processInfo.environment["PROCTOR_TOKEN"] ?? "",
                agents: agents,
                runs: runs,
                testbeds: testbeds
            )
            return try await LabSimulation.run(options)
        }
        if let writeLoad {
            let token = token ?? ProcessInfo.processInfo.environment["PROCTOR_TOKEN"] ?? ""
            return try await WriteLoadBench.measure(url: writeLoad, token: token, clients: clients, seconds: seconds)
        }
        if let junitMb { return try JUnitBench.run(megabytes: junitMb) }
        if let kernelciGzip { return try await KernelCIGzipBench.measure(jobs: kernelciGzip) }
        if let dci { return try await DCIBench.measure(jobs: dci, repeats: repeats) }
        if let native { return try await NativeBench.measure(runs: native, repeats: repeats) }
        if let kernelci { return try await KernelCIBench.measure(jobs: kernelci, repeats: repeats) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "proctor-bench-\(UUID().uuidString)"
        )
        let sqlite = try await SQLStore.sqlite(
            path: directory.appendingPathComponent("bench.sqlite").path,
            logger: logger
        )
        try await measure(sqlite, name: "SQLite")
        await sqlite.shutdown()
        try? FileManager.default.removeItem(at: directory)
        if !sqliteOnly, let url = databaseURL ?? ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"] {
            let schema = "bench_" + String(UUID().uuidString.prefix(8)).lowercased()
            let postgres = try await SQLStore.postgres(url: url, connections: 4, schema: schema, logger: logger)
            var failure: (any Error)?
            do { try await measure(postgres, name: "PostgreSQL") } catch { failure = error }
            await postgres.shutdown()
            // The schema goes whatever happened: 200,000 runs take 376 MB of the server's disk, a million five times that.
            do {
                try await SQLStore.dropPostgresSchema(schema, url: url, logger: logger)
            } catch {
                failure = failure ?? error
            }
            if let failure { throw failure }
        }
    }

    func measure(_ store: SQLStore, name: String) async throws {
        _ = try await store.migrate()
        print("== \(name): seeding \(runs) runs across 100 job definitions, 10 groups, 3 years")
        let seeded = try await Seeder.seed(store, runs: runs)
        print(
            String(
                format: "seeding: %.1f s, %.0f runs/s (%@, load average %@)",
                seeded.seconds,
                Double(runs) / seeded.seconds,
                (store.backend == "postgres" ? "COPY" : "C API") as NSString,
                loadAverage() as NSString
            )
        )
        if importOnly { return }
        if dashboard { return try await DashboardBench.measure(store, seeded: seeded, runs: runs, repeats: repeats) }
        if deepPages { return try await DeepPageBench.measure(store, seeded: seeded, repeats: repeats) }

        let filter = Filter.and([
            .equal("group_id", seeded.bigGroup), .equal("status", "success"), .equal("labels.branch", "main"),
        ])
        let firstPage = Query(filter: filter, sort: [SortKey("created_at", descending: true)], limit: 50)
        var deep = firstPage
        deep.offset = 100_000
        let deepRow = try await store.list(
            .runs,
            query: Query(filter: filter, sort: firstPage.sort, limit: 1, offset: 99_999),
            scope: .everything
        )
        var keyset = firstPage
        // The cursor after the 100,000th row: what a client holds after walking 2,000 pages.
        keyset.cursor = deepRow.nextCursor
        let scope = Scope.groups([seeded.bigGroup])
        let cases: [(String, () async throws -> Int)] = [
            (
                "first page (group+status+label, created desc, 50)",
                {
                    try await store.list(.runs, query: firstPage, scope: scope).items.count
                }
            ),
            ("page 100,000 rows deep, offset", { try await store.list(.runs, query: deep, scope: scope).items.count }),
            (
                "page 100,000 rows deep, keyset cursor",
                { try await store.list(.runs, query: keyset, scope: scope).items.count }
            ),
            ("count with that filter", { try await store.count(.runs, query: Query(filter: filter), scope: scope) }),
            (
                "distinct labels.job",
                {
                    try await store.distinct(.runs, field: "labels.job", query: Query(), scope: .everything).count
                }
            ),
            (
                "distinct labels.kernel where job=X, last 5 days",
                {
                    let now = Timestamp.now()
                    let query = Query(
                        filter: .equal("labels.job", seeded.sampleJob),
                        window: TimeWindow(field: "created_at", from: now - 5 * 86_400_000_000, to: nil)
                    )
                    return try await store.distinct(.runs, field: "labels.kernel", query: query, scope: .everything)
                        .count
                }
            ),
        ]
        for (label, body) in cases {
            let count = label.contains("deep, offset") || label.contains("count") ? max(10, repeats / 10) : repeats
            try await Self.time(label, times: count, body)
        }
    }

    /// Runs `body` `times` times and prints p50 and p99 with the last result (rows, bytes…).
    static func time(_ label: String, times count: Int, _ body: () async throws -> Int) async throws {
        var samples: [Double] = []
        var rows = 0
        for _ in 0..<count {
            let start = ContinuousClock.now
            rows = try await body()
            samples.append(milliseconds(ContinuousClock.now - start))
        }
        samples.sort()
        let p50 = samples[samples.count / 2]
        let p99 = samples[min(samples.count - 1, Int(Double(samples.count) * 0.99))]
        print(
            String(
                format: "%-52@ p50 %7.2f ms  p99 %7.2f ms  (%d rows, %d runs)",
                label as NSString,
                p50,
                p99,
                rows,
                count
            )
        )
    }

    /// The first three fields of /proc/loadavg, or "?" where there is none.
    func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}

/// Deterministic synthetic data: one big group (half of all runs) and nine smaller ones.
enum Seeder {
    struct Result {
        var seconds: Double
        var bigGroup: String
        var sampleJob: String
        /// The testbed of the big group (half of all runs).
        var sampleTestbed: String
    }

    static func seed(_ store: SQLStore, runs: Int) async throws -> Result {
        var groups: [String] = []
        for index in 0..<10 {
            groups.append(try await store.insert(Record(.groups, ["name": .string("group-\(index)")])).id)
        }
        var testbeds: [String: String] = [:]
        for (index, group) in groups.enumerated() {
            testbeds[group] = try await store.insert(
                Record(.testbeds, ["group_id": .string(group), "name": .string("bench-\(index)")])
            ).id
        }
        var definitions: [(id: String, name: String, group: String)] = []
        for index in 0..<100 {
            let group = groups[index % 10]
            let row = try await store.insert(
                Record(.definitions, ["group_id": .string(group), "name": .string("job-\(index)")])
            )
            definitions.append((row.id, "job-\(index)", group))
        }
        let batches = RunBatches(runs: runs, definitions: definitions, testbeds: testbeds, now: Timestamp.now())
        let start = ContinuousClock.now
        // An import, as when a lab brings its run history: one transaction, each batch written while the next is made.
        try await store.importRecords(.runs, batches)
        let seconds = ProctorBench.milliseconds(ContinuousClock.now - start) / 1000
        return Result(
            seconds: seconds,
            bigGroup: groups[0],
            sampleJob: "job-0",
            sampleTestbed: testbeds[groups[0]] ?? ""
        )
    }
}

/// The seeded runs, 10,000 at a time: half belong to definitions of group-0 (a big lab), the rest spread evenly;
/// they arrive in time order, as in a lab: three years, oldest first, with jitter.
struct RunBatches: AsyncSequence {
    typealias Element = [Record]
    let runs: Int
    let definitions: [(id: String, name: String, group: String)]
    let testbeds: [String: String]
    let now: Int64

    func makeAsyncIterator() -> Iterator {
        Iterator(batches: self)
    }

    struct Iterator: AsyncIteratorProtocol {
        let batches: RunBatches
        var random = SplitMix(seed: 42)
        var made = 0

        static let statuses = [
            "success", "success", "success", "success", "success", "success", "success", "failure", "failure", "error",
        ]
        static let branches = ["main", "main", "main", "main", "stable"]
        static let span: Int64 = 3 * 365 * 86_400_000_000

        mutating func next() async throws -> [Record]? {
            let runs = batches.runs
            guard made < runs else { return nil }
            let count = Swift.min(10_000, runs - made)
            var records: [Record] = []
            records.reserveCapacity(count)
            let step = Self.span / Int64(Swift.max(1, runs))
            for _ in 0..<count {
                let definition =
                    random.next() % 2 == 0
                    ? batches.definitions[Int(random.next() % 10) * 10]
                    : batches.definitions[Int(random.next() % 100)]
                let created =
                    batches.now - Self.span + Int64(made + records.count) * step
                    + Int64(random.next() % UInt64(Swift.max(1, step)))
                records.append(
                    Record(
                        .runs,
                        [
                            "group_id": .string(definition.group), "definition_id": .string(definition.id),
                            "testbed_id": .string(batches.testbeds[definition.group] ?? ""),
                            "status": .string(Self.statuses[Int(random.next() % 10)]),
                            "created_at": .timestamp(created),
                            "updated_at": .timestamp(created), "executor": .string("external"),
                            "labels": .json(
                                .object([
                                    "job": .string(definition.name),
                                    "kernel": .string("v6.\(random.next() % 12)-rc\(random.next() % 8)"),
                                    "branch": .string(Self.branches[Int(random.next() % 5)]),
                                ])
                            ),
                        ]
                    )
                )
            }
            made += count
            return records
        }
    }
}

/// A small, fast, seeded generator so every run of the benchmark sees the same data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
