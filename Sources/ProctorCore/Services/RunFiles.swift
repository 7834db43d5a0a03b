import Crypto
import Foundation

/// A run's files: blobs on disk under the data directory, a `files` row each, and, for result files
/// (JUnit XML, pyATS results.json), test results marked against the previous comparable run.
///
/// Every dialect that takes uploads (native, DCI, agents) goes through here, so a file uploaded through one
/// API is downloadable and its test cases listed through all of them.
public struct RunFiles: Sendable {
    public let store: any Store
    public let root: URL
    /// The largest upload accepted.
    public let maxBytes: Int

    public init(store: any Store, root: URL, maxBytes: Int = 64 << 20) {
        self.store = store
        self.root = root
        self.maxBytes = maxBytes
    }

    /// Which results format a file holds, from its declared type and name.
    public enum Format: String, Sendable {
        case junit
        case pyats
    }

    public static func format(mime: String, name: String) -> Format? {
        let lowerMime = mime.lowercased()
        let lowerName = name.lowercased()
        if lowerMime == "application/junit" || lowerMime.contains("junit") { return .junit }
        if (lowerName as NSString).lastPathComponent == "results.json" { return .pyats }
        if lowerName.hasSuffix(".xml") && (lowerName.contains("junit") || lowerName.contains("result") || lowerName.contains("test")) {
            return .junit
        }
        return nil
    }

    // MARK: Storing

    /// Moves a completed upload (a temporary file) into place and records it.
    public func store(
        moving temporary: URL, runID: String?, groupID: String, name: String, mime: String, fields: [String: Value] = [:]
    ) async throws -> Record {
        let size = (try FileManager.default.attributesOfItem(atPath: temporary.path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxBytes else {
            try? FileManager.default.removeItem(at: temporary)
            throw ProctorError(.tooLarge, "a file is at most \(maxBytes) bytes")
        }
        let digests = try Self.digests(of: temporary)
        let id = UUID().uuidString.lowercased()
        let relative = "\(groupID)/\(runID ?? "unattached")/\(id)"
        let destination = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: temporary, to: destination)
        var values = fields
        values["id"] = .string(id)
        values["group_id"] = .string(groupID)
        values["run_id"] = runID.map(Value.string) ?? .null
        values["name"] = .string(name)
        values["mime"] = .string(mime.isEmpty ? "application/octet-stream" : mime)
        values["size"] = .int(Int64(size))
        values["md5"] = .string(digests.md5)
        values["sha256"] = .string(digests.sha256)
        values["storage_path"] = .string(relative)
        do {
            return try await store.insert(Record(.files, values))
        } catch {
            try? FileManager.default.removeItem(at: destination)
            throw error
        }
    }

    /// Records bytes held in memory (small uploads).
    public func store(
        data: Data, runID: String?, groupID: String, name: String, mime: String, fields: [String: Value] = [:]
    ) async throws -> Record {
        guard data.count <= maxBytes else { throw ProctorError(.tooLarge, "a file is at most \(maxBytes) bytes") }
        let temporary = try temporaryURL()
        try data.write(to: temporary)
        return try await store(moving: temporary, runID: runID, groupID: groupID, name: name, mime: mime, fields: fields)
    }

    /// A fresh path under the data directory for streaming an upload to (same file system as the blobs).
    public func temporaryURL() throws -> URL {
        let directory = root.appendingPathComponent(".incoming", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(UUID().uuidString)
    }

    /// Where a file's bytes are.
    public func location(of file: Record) throws -> URL {
        guard let relative = file.string("storage_path"), !relative.contains("..") else {
            throw ProctorError.notFound("the file has no content")
        }
        let url = root.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { throw ProctorError.notFound("the file's content is gone") }
        return url
    }

    public func delete(_ file: Record) async throws {
        if let url = try? location(of: file) { try? FileManager.default.removeItem(at: url) }
        try await store.delete(.files, id: file.id, ifMatch: nil, scope: .everything)
    }

    static func digests(of url: URL) throws -> (md5: String, sha256: String) {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var md5 = Insecure.MD5()
        var sha = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            md5.update(data: chunk)
            sha.update(data: chunk)
        }
        let hex: (any Sequence<UInt8>) -> String = { $0.map { String(format: "%02x", $0) }.joined() }
        return (hex(Array(md5.finalize())), hex(Array(sha.finalize())))
    }

    // MARK: Results

    /// One result file's summary (DCI's per-file `tests_results`): its cases by status, how many regressed or
    /// recovered against the previous run, and the sum of their times (a suite's own `time` attribute is
    /// ignored, as DCI does).
    public struct FileResults: Sendable, Equatable {
        public var tests: TestSummary
        public var regressions: Int
        public var recoveries: Int
        public var time: Double

        public init(tests: TestSummary = TestSummary(), regressions: Int = 0, recoveries: Int = 0, time: Double = 0) {
            self.tests = tests
            self.regressions = regressions
            self.recoveries = recoveries
            self.time = time
        }
    }

    /// What ingesting one result file did.
    public struct Ingest: Sendable {
        /// This file's cases.
        public var file: TestSummary
        /// The run's totals over all its result files.
        public var run: TestSummary
        public var regressions: Int
        public var recoveries: Int
        public var additions: Int
        public var removals: Int
        public var previousRunID: String?
        /// The sum of this file's case times.
        public var time: Double

        /// This file's summary, as ``RunFiles/results(fileID:runID:)`` counts it from the stored cases.
        public var results: FileResults { FileResults(tests: file, regressions: regressions, recoveries: recoveries, time: time) }
    }

    /// Parses a stored result file into test results of its run, each marked against the same file name in
    /// the previous comparable run, and refreshes the run's counts. Malformed input is a 400 naming the line
    /// and column; the file itself stays stored, without results: the cases stored before the parse failed
    /// (they are stored in batches as the file streams by) are deleted again.
    public func ingest(_ file: Record, run: Record, format: Format) async throws -> Ingest {
        do {
            return try await ingestCases(file, run: run, format: format)
        } catch {
            try await store.deleteAll(
                .testResults, query: Query(filter: .equal("run_id", run.id) && .equal("file_id", file.id)), scope: .everything
            )
            try await refreshCounts(runID: run.id)
            throw error
        }
    }

    private func ingestCases(_ file: Record, run: Record, format: Format) async throws -> Ingest {
        let url = try location(of: file)
        let name = file.name ?? ""
        let previousRunID = try await previousRun(for: run)
        var previous: [TestCaseKey: TestStatus] = [:]
        if let previousRunID { previous = try await statuses(runID: previousRunID, fileName: name) }

        let groupID = run.groupID ?? ""
        var counts = (regressions: 0, recoveries: 0, additions: 0, time: 0.0)
        var seen = Set<TestCaseKey>()
        let summary = try await Self.streamCases(from: url, format: format) { batch in
            var rows: [Record] = []
            rows.reserveCapacity(batch.count)
            for testCase in batch {
                let key = testCase.key
                seen.insert(key)
                counts.time += testCase.time
                let mark: Regression
                if let before = previous[key] {
                    mark = RegressionMarker.mark(was: before, now: testCase.status)
                    if mark == .regressed { counts.regressions += 1 }
                    if mark == .recovered { counts.recoveries += 1 }
                } else if previousRunID != nil {
                    mark = .added
                    counts.additions += 1
                } else {
                    mark = .unchanged
                }
                rows.append(
                    Record(
                        .testResults,
                        [
                            "group_id": .string(groupID), "run_id": .string(run.id), "file_id": .string(file.id),
                            "suite": .string(testCase.suite), "classname": .string(testCase.classname),
                            "name": .string(testCase.name), "status": .string(testCase.status.rawValue),
                            "time": .double(testCase.time), "message": testCase.message.map(Value.string) ?? .null,
                            "system_out": testCase.systemOut.map(Value.string) ?? .null,
                            "system_err": testCase.systemErr.map(Value.string) ?? .null, "regression": .string(mark.rawValue),
                        ]
                    )
                )
            }
            try await store.insertMany(rows)
        }
        let removals = previous.keys.filter { !seen.contains($0) }.count
        let totals = try await refreshCounts(runID: run.id)
        return Ingest(
            file: summary, run: totals, regressions: counts.regressions, recoveries: counts.recoveries,
            additions: counts.additions, removals: removals, previousRunID: previousRunID, time: counts.time
        )
    }

    /// A stored result file's summary, counted from its stored cases.
    public func results(fileID: String, runID: String) async throws -> FileResults {
        let ofFile: Filter = .equal("run_id", runID) && .equal("file_id", fileID)
        func number(_ extra: Filter) async throws -> Int {
            try await store.count(.testResults, query: Query(filter: ofFile && extra), scope: .everything)
        }
        var results = FileResults()
        results.tests.passed = try await number(.equal("status", TestStatus.passed.rawValue))
        results.tests.failed = try await number(.equal("status", TestStatus.failed.rawValue))
        results.tests.errored = try await number(.equal("status", TestStatus.error.rawValue))
        results.tests.skipped = try await number(.equal("status", TestStatus.skipped.rawValue))
        results.tests.total = results.tests.passed + results.tests.failed + results.tests.errored + results.tests.skipped
        results.regressions = try await number(.equal("regression", Regression.regressed.rawValue))
        results.recoveries = try await number(.equal("regression", Regression.recovered.rawValue))
        var cursor: String?
        repeat {
            let page = try await store.list(
                .testResults, query: Query(filter: ofFile, sort: [SortKey("seq")], limit: 1000, cursor: cursor, fields: ["time"]),
                scope: .everything
            )
            for row in page.items { results.time += row["time"].doubleValue ?? 0 }
            cursor = page.nextCursor
        } while cursor != nil
        return results
    }

    /// Recomputes a run's test counts from its stored results.
    @discardableResult
    public func refreshCounts(runID: String) async throws -> TestSummary {
        var summary = TestSummary()
        for status in TestStatus.allCases {
            let count = try await store.count(
                .testResults, query: Query(filter: .equal("run_id", runID) && .equal("status", status.rawValue)), scope: .everything
            )
            switch status {
            case .passed: summary.passed = count
            case .failed: summary.failed = count
            case .error: summary.errored = count
            case .skipped: summary.skipped = count
            }
        }
        summary.total = summary.passed + summary.failed + summary.errored + summary.skipped
        _ = try await store.update(
            .runs, id: runID,
            changes: [
                "tests_total": .int(Int64(summary.total)), "tests_passed": .int(Int64(summary.passed)),
                "tests_failed": .int(Int64(summary.failed)), "tests_errored": .int(Int64(summary.errored)),
                "tests_skipped": .int(Int64(summary.skipped)),
            ],
            ifMatch: nil, scope: .everything
        )
        return summary
    }

    /// The run this one's results are compared with: the one recorded at launch, else (client-reported runs)
    /// the latest earlier run of the same topic, remote CI and name.
    public func previousRun(for run: Record) async throws -> String? {
        if let id = run.string("previous_run_id") { return id }
        guard let topic = run.string("topic_id"), let remoteci = run.string("remoteci_id") else { return nil }
        var filter: Filter = .equal("topic_id", topic) && .equal("remoteci_id", remoteci)
        if let name = run.name { filter = filter && .equal("name", name) }
        filter = filter && .predicate(Condition("seq", .less, String(run.seq)))
        let page = try await store.list(
            .runs, query: Query(filter: filter, sort: [SortKey("seq", descending: true)], limit: 1, fields: ["id"]), scope: .everything
        )
        return page.items.first?.id
    }

    private func statuses(runID: String, fileName: String) async throws -> [TestCaseKey: TestStatus] {
        var fileIDs: Set<String>?
        if !fileName.isEmpty {
            let files = try await store.list(
                .files, query: Query(filter: .equal("run_id", runID) && .equal("name", fileName), limit: 100, fields: ["id"]),
                scope: .everything
            )
            if !files.items.isEmpty { fileIDs = Set(files.items.map(\.id)) }
        }
        var out: [TestCaseKey: TestStatus] = [:]
        var cursor: String?
        repeat {
            let page = try await store.list(
                .testResults,
                query: Query(
                    filter: .equal("run_id", runID), sort: [SortKey("seq")], limit: 1000, cursor: cursor,
                    fields: ["suite", "classname", "name", "status", "file_id"]
                ),
                scope: .everything
            )
            for row in page.items {
                if let fileIDs, let fileID = row.string("file_id"), !fileIDs.contains(fileID) { continue }
                let key = TestCaseKey(suite: row.string("suite") ?? "", classname: row.string("classname") ?? "", name: row.name ?? "")
                out[key] = TestStatus(rawValue: row.string("status") ?? "") ?? .passed
            }
            cursor = page.nextCursor
        } while cursor != nil
        return out
    }

    /// Parses on a separate thread and hands batches to `consume` with back-pressure (at most a few batches
    /// in memory), so a 50 MB file never sits in memory as test cases.
    static func streamCases(
        from url: URL, format: Format, batchSize: Int = 500,
        consume: ([TestCase]) async throws -> Void
    ) async throws -> TestSummary {
        let (stream, continuation) = AsyncStream<ParseEvent>.makeStream()
        let gate = DispatchSemaphore(value: 4)
        let cancelled = CancelFlag()
        Thread.detachNewThread {
            var batch: [TestCase] = []
            do {
                let onCase: (TestCase) throws -> Void = { testCase in
                    batch.append(testCase)
                    if batch.count >= batchSize {
                        if cancelled.isSet { throw CancellationError() }
                        gate.wait()
                        continuation.yield(.batch(batch))
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                let summary: TestSummary
                switch format {
                case .junit: summary = try JUnitParser.parse(fileAt: url, onCase: onCase)
                case .pyats:
                    let report = try PyATSResultsParser.parse(fileAt: url)
                    for testCase in report.cases { try onCase(testCase) }
                    summary = report.summary
                }
                if !batch.isEmpty {
                    gate.wait()
                    continuation.yield(.batch(batch))
                }
                continuation.yield(.done(summary))
            } catch {
                continuation.yield(.failed(error))
            }
            continuation.finish()
        }
        var result: TestSummary?
        var failure: (any Error)?
        for await event in stream {
            switch event {
            case .batch(let cases):
                gate.signal()
                if failure == nil {
                    do { try await consume(cases) } catch {
                        failure = error
                        cancelled.set()
                    }
                }
            case .done(let summary): result = summary
            case .failed(let error): failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return result ?? TestSummary()
    }

    enum ParseEvent: Sendable {
        case batch([TestCase])
        case done(TestSummary)
        case failed(any Error)
    }
}

/// A flag the consumer sets to stop the parsing thread early.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
