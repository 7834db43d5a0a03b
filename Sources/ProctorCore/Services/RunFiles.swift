import Crypto
import Foundation
import ProctorStoreWriting
import Synchronization

/// A run's files: blobs in the ``FileStore`` (the data directory's `files` folder, or an object store), a `files` row each, and, for result files
/// (JUnit XML, pyATS results.json), test results marked against the previous comparable run.
///
/// Every dialect that takes uploads (native, DCI, agents) goes through here, so a file uploaded through one
/// API is downloadable and its test cases listed through all of them.
public struct RunFiles: Sendable {
    public let store: any Store
    /// The local files directory: uploads are streamed to its `.incoming` folder (and, with the local file store,
    /// kept under it).
    public let root: URL
    /// Where the files' bytes are kept.
    public let blobs: any FileStore
    /// The largest upload accepted.
    public let maxBytes: Int

    /// - Parameter blobs: where the bytes go; by default ``LocalFileStore`` on `root`.
    public init(store: any Store, root: URL, maxBytes: Int = 64 << 20, blobs: (any FileStore)? = nil) {
        self.store = store
        self.root = root
        self.blobs = blobs ?? LocalFileStore(root: root)
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
        if lowerName.hasSuffix(".xml")
            && (lowerName.contains("junit") || lowerName.contains("result") || lowerName.contains("test"))
        {
            return .junit
        }
        return nil
    }

    // MARK: Storing

    /// Moves a completed upload (a temporary file) into the file store and records it: the row only once the
    /// store holds the bytes (a store that cannot be reached is a 503 and nothing is recorded), the bytes deleted
    /// again when the row cannot be written.
    public func store(
        moving temporary: URL,
        runID: String?,
        groupID: String,
        name: String,
        mime: String,
        fields: [String: Value] = [:]
    ) async throws -> Record {
        let size = (try FileManager.default.attributesOfItem(atPath: temporary.path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxBytes else {
            try? FileManager.default.removeItem(at: temporary)
            throw ProctorError(.tooLarge, "a file is at most \(maxBytes) bytes")
        }
        let digests = try Self.digests(of: temporary)
        let id = UUID().uuidString.lowercased()
        let relative = Self.storageKey(groupID: groupID, id: id)
        do {
            try await blobs.put(relative, from: temporary, size: size)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        // An object store copied it: the upload is no longer needed (the local store moved it away).
        try? FileManager.default.removeItem(at: temporary)
        return try await record(
            Self.fileRow(
                id: id,
                relative: relative,
                size: size,
                digests: digests,
                runID: runID,
                groupID: groupID,
                name: name,
                mime: mime,
                fields: fields
            )
        )
    }

    /// Where a file's bytes are kept in the file store: under its group, in one of 256 folders named by the first
    /// two hex digits of its (random) id. A folder per run made every upload create one, which on ext4 is the
    /// dearest system call of a DCI job's seeding (an inode and a block, and without a journal a scan past the
    /// recently deleted inodes); the shared folders are made once. Files stored before keep their `storage_path`.
    static func storageKey(groupID: String, id: String) -> String {
        "\(groupID)/\(id.prefix(2))/\(id)"
    }

    /// Records bytes held in memory (small uploads).
    public func store(
        data: Data,
        runID: String?,
        groupID: String,
        name: String,
        mime: String,
        fields: [String: Value] = [:]
    ) async throws -> Record {
        guard data.count <= maxBytes else { throw ProctorError(.tooLarge, "a file is at most \(maxBytes) bytes") }
        let id = UUID().uuidString.lowercased()
        let relative = Self.storageKey(groupID: groupID, id: id)
        guard try await blobs.put(relative, data: data) else {
            let temporary = try temporaryURL()
            try data.write(to: temporary)
            return try await store(
                moving: temporary,
                runID: runID,
                groupID: groupID,
                name: name,
                mime: mime,
                fields: fields
            )
        }
        return try await record(
            Self.fileRow(
                id: id,
                relative: relative,
                size: data.count,
                digests: Self.digests(of: data),
                runID: runID,
                groupID: groupID,
                name: name,
                mime: mime,
                fields: fields
            )
        )
    }

    /// Records a file whose bytes the store holds (at the row's `storage_path`), deleting them again when the row
    /// cannot be written.
    private func record(_ file: StoredFile) async throws -> Record {
        let relative = file.storagePath ?? ""
        do {
            return try await store.insert(file.record)
        } catch {
            try? await blobs.delete(relative)
            throw error
        }
    }

    /// The row of a file whose bytes the store holds under `relative`.
    private static func fileRow(
        id: String,
        relative: String,
        size: Int,
        digests: (md5: String, sha256: String),
        runID: String?,
        groupID: String,
        name: String,
        mime: String,
        fields: [String: Value]
    ) -> StoredFile {
        var file = StoredFile(checkedValues: fields)
        file[.id] = .string(id)
        file[.groupID] = .string(groupID)
        file[.runID] = runID.map(Value.string) ?? .null
        file[.name] = .string(name)
        file[.mime] = .string(mime.isEmpty ? "application/octet-stream" : mime)
        file[.size] = .int(Int64(size))
        file[.md5] = .string(digests.md5)
        file[.sha256] = .string(digests.sha256)
        file[.storagePath] = .string(relative)
        return file
    }

    /// A fresh path under the data directory for streaming an upload to (same file system as the blobs): in this
    /// process's own folder of `.incoming`, so that what a crashed process left there can be told apart (see
    /// ``removeAbandonedUploads(olderThan:)``).
    public func temporaryURL() throws -> URL {
        let directory = incoming.appendingPathComponent(UploadOwner.current.folder, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(UUID().uuidString)
    }

    /// Where uploads are streamed to before they are stored.
    public var incoming: URL { root.appendingPathComponent(".incoming", isDirectory: true) }

    /// Deletes the partial uploads that processes which are gone left in `.incoming` (a server killed mid-upload);
    /// the server calls it as it starts. Each process streams into its own folder, `<host>.<pid>.<instance>`: a
    /// folder of this host whose process is no longer running, or that has this process's id but another instance
    /// (a restarted container reuses its ids), is deleted whole. Anything else (another host's folder on a shared
    /// data directory, a live process's, files of older versions) goes only when nothing in it changed for
    /// `olderThan` seconds, so a live upload elsewhere, which writes as it receives, is never cut.
    ///
    /// - Returns: how many files it deleted.
    @discardableResult
    public func removeAbandonedUploads(olderThan grace: TimeInterval = 3600) -> Int {
        let manager = FileManager.default
        guard let entries = try? manager.contentsOfDirectory(at: incoming, includingPropertiesForKeys: nil) else {
            return 0
        }
        let current = UploadOwner.current
        let cutoff = Date().addingTimeInterval(-grace)
        func modified(_ url: URL) -> Date {
            (try? manager.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
        }
        var removed = 0
        for entry in entries {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: entry.path, isDirectory: &isDirectory) else { continue }
            guard isDirectory.boolValue else {
                if modified(entry) < cutoff, (try? manager.removeItem(at: entry)) != nil { removed += 1 }
                continue
            }
            let owner = UploadOwner(folder: entry.lastPathComponent)
            if owner == current { continue }
            let files = (try? manager.contentsOfDirectory(at: entry, includingPropertiesForKeys: nil)) ?? []
            if let owner, owner.host == current.host, owner.pid == current.pid || !UploadOwner.isRunning(owner.pid) {
                if (try? manager.removeItem(at: entry)) != nil { removed += files.count }
                continue
            }
            // The folder itself stays: its process may be about to stream into it.
            for file in files where modified(file) < cutoff {
                if (try? manager.removeItem(at: file)) != nil { removed += 1 }
            }
        }
        return removed
    }

    /// A file's key in the file store (its `storage_path`).
    func key(of file: Record) throws -> String {
        guard let relative = StoredFile(file)?.storagePath, !relative.contains("..") else {
            throw ProctorError.notFound("the file has no content")
        }
        return relative
    }

    /// A file's bytes, opened for streaming to a client.
    public func content(of file: Record) async throws -> StoredContent {
        try await blobs.open(try key(of: file))
    }

    /// A local file with a file's bytes (the stored file itself, or a copy in `.incoming` the caller deletes);
    /// nil when the store no longer has them.
    func localFile(of file: Record) async throws -> (url: URL, isCopy: Bool)? {
        do {
            return try await blobs.localFile(try key(of: file)) { try temporaryURL() }
        } catch let error as ProctorError where error.code == .notFound {
            return nil
        }
    }

    /// Deletes a file's row, then its bytes (bytes left behind by a store failing then cost space, never a row
    /// without its bytes). `file` must be read by id: listings leave out its storage path.
    ///
    /// - Returns: whether a row was deleted.
    @discardableResult
    public func delete(_ file: Record) async throws -> Bool {
        let deleted = try await store.delete(.files, id: file.id, ifMatch: nil, scope: .everything)
        if let key = try? key(of: file) { try? await blobs.delete(key) }
        return deleted
    }

    static func digests(of data: Data) -> (md5: String, sha256: String) {
        var md5 = Insecure.MD5()
        var sha = SHA256()
        md5.update(data: data)
        sha.update(data: data)
        return (Credentials.hex(md5.finalize()), Credentials.hex(sha.finalize()))
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
        return (Credentials.hex(md5.finalize()), Credentials.hex(sha.finalize()))
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
        /// The earlier files of the run with the same name that this one replaced (their ids): they and their cases
        /// are gone.
        public var replaced: [String] = []

        /// This file's summary, as ``RunFiles/results(fileID:runID:)`` counts it from the stored cases.
        public var results: FileResults {
            FileResults(tests: file, regressions: regressions, recoveries: recoveries, time: time)
        }
    }

    /// Parses a stored result file into test results of its run, each marked against the same file name in
    /// the previous comparable run, and refreshes the run's counts.
    ///
    /// All or nothing: the cases are written in one write transaction, together with the run's new counts, so a
    /// crash, a store failure or malformed input part-way leaves none of them. Malformed input is a 400 naming the
    /// line and column; the file itself stays stored, without results.
    ///
    /// A result file replaces the earlier files of its run with the same name: in the same transaction their rows
    /// and their cases are deleted (their bytes after it commits), so that uploading a file again, an agent's retry
    /// after the server died, never counts its cases twice. If a later upload of the same name replaced this file
    /// first, nothing is stored and the answer is a conflict.
    ///
    /// `summarize`, when given, changes a reported run's options in the same write as its counts, from this file's
    /// results and the ids of the files it replaced: where a door keeps per-file summaries on the run (DCI's
    /// `tests_results`), which then never disagree with the cases and cost no second write. A run Proctor executes
    /// keeps its options (``ReportedRuns/requireReported(_:)``); its summaries are counted from the cases.
    public func ingest(
        _ file: Record,
        run: Record,
        format: Format,
        summarize: OptionsChange? = nil
    ) async throws -> Ingest {
        // Looked at once the file's row is locked: a later upload of the same name may have replaced it. An object
        // store's file is copied to a local file first, which the parser streams.
        let local = try await localFile(of: file)
        defer { if let local, local.isCopy { try? FileManager.default.removeItem(at: local.url) } }
        let url = local?.url
        let name = file.name ?? ""
        let (ingest, replaced) = try await store.transaction { store in
            try await Self.ingestCases(
                file,
                run: run,
                source: .stored(url),
                format: format,
                summarize: summarize,
                store: store
            )
        }
        for old in replaced {
            if let key = try? key(of: old) { try? await blobs.delete(key) }
        }
        return ingest
    }

    /// A change of a run's options from one result file (its row as stored), its summary and the ids of the files
    /// it replaced.
    public typealias OptionsChange = @Sendable (Record, FileResults, [String], inout [String: JSONValue]) -> Void

    /// Where an ingest takes its cases from.
    private enum CaseSource {
        /// The stored file, at this local path (nil: its bytes are gone), parsed as it is read.
        case stored(URL?)
        /// Parsed already, from the bytes of an upload held in memory.
        case parsed([TestCase], TestSummary)
    }

    /// Stores a result file held in memory and ingests its cases (see ``store(data:runID:groupID:name:mime:fields:)``
    /// and ``ingest(_:run:format:summarize:)``, whose rules hold here too).
    ///
    /// On a store whose writes run one after another (SQLite), a JUnit file small enough to be parsed in place
    /// (``inlineParseBytes``) is parsed before anything is written, and its row, its cases and the run's counts
    /// and summary are one write: a DCI job's upload was two, and its bytes were read back from disk to be parsed.
    /// Elsewhere the file is stored, then ingested: on PostgreSQL two uploads of one name to one run are ordered
    /// by locking the committed row of the earlier one. A file that does not parse is stored all the same and the
    /// parse's 400 thrown, as an ingest throws it.
    public func storeAndIngest(
        data: Data,
        run: Record,
        name: String,
        mime: String,
        fields: [String: Value] = [:],
        format: Format,
        summarize: OptionsChange? = nil
    ) async throws -> (file: Record, ingest: Ingest) {
        let groupID = run.groupID ?? ""
        // Two writes: where the store is not serialized, the file large or of another format, the bytes bound for
        // an object store, or the body not JUnit (the ingest then throws the parse's 400, the file stays).
        let storeThenIngest = { () async throws -> (file: Record, ingest: Ingest) in
            let file = try await self.store(
                data: data,
                runID: run.id,
                groupID: groupID,
                name: name,
                mime: mime,
                fields: fields
            )
            return (file, try await self.ingest(file, run: run, format: format, summarize: summarize))
        }
        guard store.serializesWrites, format == .junit, data.count <= min(maxBytes, Self.inlineParseBytes) else {
            return try await storeThenIngest()
        }
        var parsed: [TestCase] = []
        guard let summary = try? JUnitParser.parse(data: data, onCase: { parsed.append($0) }) else {
            return try await storeThenIngest()
        }
        let cases = parsed
        let id = UUID().uuidString.lowercased()
        let relative = Self.storageKey(groupID: groupID, id: id)
        guard try await blobs.put(relative, data: data) else { return try await storeThenIngest() }
        let row = Self.fileRow(
            id: id,
            relative: relative,
            size: data.count,
            digests: Self.digests(of: data),
            runID: run.id,
            groupID: groupID,
            name: name,
            mime: mime,
            fields: fields
        )
        let (file, ingest, replaced): (Record, Ingest, [Record])
        do {
            (file, ingest, replaced) = try await store.transaction { store in
                let file = try await store.insert(row.record)
                let (ingest, replaced) = try await Self.ingestCases(
                    file,
                    run: run,
                    source: .parsed(cases, summary),
                    format: format,
                    summarize: summarize,
                    store: store
                )
                return (file, ingest, replaced)
            }
        } catch {
            try? await blobs.delete(relative)
            throw error
        }
        for old in replaced {
            if let key = try? key(of: old) { try? await blobs.delete(key) }
        }
        return (file, ingest)
    }

    /// The body of ``ingest(_:run:format:summarize:)`` and ``storeAndIngest(data:run:name:mime:fields:format:summarize:)``,
    /// inside their transaction.
    private static func ingestCases(
        _ file: Record,
        run: Record,
        source: CaseSource,
        format: Format,
        summarize: OptionsChange?,
        store: any Store
    ) async throws -> (Ingest, [Record]) {
        let name = file.name ?? ""
        // The previous run's statuses are read with the write: on SQLite the writer answers them in place, where
        // outside a transaction each read crossed to a reading thread and back.
        let previousRunID = try await previousRun(for: Run(unchecked: run), in: store)
        var previous: [TestCaseKey: TestStatus] = [:]
        if let previousRunID { previous = try await statuses(runID: previousRunID, fileName: name, in: store) }
        // Locked first: an upload of the same name that started later waits here for this one, then replaces it.
        guard try await store.lock(.files, id: file.id) else {
            throw ProctorError.conflict(
                "a later upload of \(name) to this run replaced the file before its results were stored"
            )
        }
        var earlier: [Record] = []
        if !name.isEmpty {
            earlier = try await store.list(
                .files,
                query: Query(
                    filter: .equal("run_id", run.id) && .equal("name", name)
                        && .predicate(Condition("seq", .less, String(file.seq))),
                    sort: [SortKey("seq")],
                    limit: 1000
                ),
                scope: .everything
            ).items
        }
        var replaced: [Record] = []
        for old in earlier {
            // Waits for an ingest of it still in progress, so that its cases are seen and deleted. Read whole (a
            // listing leaves out where its bytes are).
            if try await store.lock(.files, id: old.id),
                let full = try await store.get(.files, id: old.id, scope: .everything)
            {
                replaced.append(full)
            }
        }
        if !replaced.isEmpty {
            let ids = replaced.map(\.id)
            try await store.deleteAll(
                .testResults,
                query: Query(filter: .equal("run_id", run.id) && .predicate(Condition("file_id", .in, ids))),
                scope: .everything
            )
            try await store.deleteAll(
                .files,
                query: Query(filter: .predicate(Condition("id", .in, ids))),
                scope: .everything
            )
        }

        let groupID = run.groupID ?? ""
        var counts = (regressions: 0, recoveries: 0, additions: 0, time: 0.0)
        var seen = Set<TestCaseKey>()
        let size = file[StoredFile.slot(.size)].intValue.map(Int.init)
        let consume: ([TestCase]) async throws -> Void = { batch in
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
                    TestResult(pairs: [
                        .groupID: .string(groupID), .runID: .string(run.id), .fileID: .string(file.id),
                        .suite: .string(testCase.suite), .classname: .string(testCase.classname),
                        .name: .string(testCase.name), .status: .string(testCase.status.rawValue),
                        .time: .double(testCase.time), .message: testCase.message.map(Value.string) ?? .null,
                        .systemOut: testCase.systemOut.map(Value.string) ?? .null,
                        .systemErr: testCase.systemErr.map(Value.string) ?? .null,
                        .regression: .string(mark.rawValue),
                    ]).record
                )
            }
            try await store.insertMany(rows)
        }
        let summary: TestSummary
        switch source {
        case .stored(nil):
            throw ProctorError.notFound("the file's content is gone")
        case .stored(let url?):
            summary = try await streamCases(from: url, format: format, size: size, consume: consume)
        case .parsed(let cases, let parsed):
            try await consumeInBatches(cases, consume)
            summary = parsed
        }
        let removals = previous.keys.filter { !seen.contains($0) }.count
        let results = FileResults(
            tests: summary,
            regressions: counts.regressions,
            recoveries: counts.recoveries,
            time: counts.time
        )
        let replacedIDs = replaced.map(\.id)
        var change: (@Sendable (inout [String: JSONValue]) -> Void)?
        if let summarize { change = { options in summarize(file, results, replacedIDs, &options) } }
        let totals = try await refreshCounts(runID: run.id, in: store, options: change)
        let ingest = Ingest(
            file: summary,
            run: totals,
            regressions: counts.regressions,
            recoveries: counts.recoveries,
            additions: counts.additions,
            removals: removals,
            previousRunID: previousRunID,
            time: counts.time,
            replaced: replacedIDs
        )
        return (ingest, replaced)
    }

    /// A stored result file's summary, counted from its stored cases.
    public func results(fileID: String, runID: String) async throws -> FileResults {
        let ofFile: Filter = .equal("run_id", runID) && .equal("file_id", fileID)
        func counts(by field: String) async throws -> [Value: Int] {
            try await store.count(.testResults, by: field, query: Query(filter: ofFile), scope: .everything)
        }
        var results = FileResults(tests: TestSummary(byStatus: try await counts(by: "status")))
        let byMark = try await counts(by: "regression")
        results.regressions = byMark[.string(Regression.regressed.rawValue)] ?? 0
        results.recoveries = byMark[.string(Regression.recovered.rawValue)] ?? 0
        var cursor: String?
        repeat {
            let page = try await store.page(
                TestResult.self,
                query: Query(filter: ofFile, sort: [SortKey("seq")], limit: 1000, cursor: cursor, fields: ["time"]),
                scope: .everything
            )
            for row in page.items { results.time += row.time }
            cursor = page.nextCursor
        } while cursor != nil
        return results
    }

    /// Recomputes a run's test counts from its stored results.
    @discardableResult
    public func refreshCounts(runID: String) async throws -> TestSummary {
        try await Self.refreshCounts(runID: runID, in: store)
    }

    /// Recomputes a run's test counts from its stored results, through `store` (a transaction's); `options`
    /// changes a reported run's options in the same write, read under the run's lock so no other write is lost.
    @discardableResult
    static func refreshCounts(
        runID: String,
        in store: any Store,
        options change: (@Sendable (inout [String: JSONValue]) -> Void)? = nil
    ) async throws -> TestSummary {
        let byStatus = try await store.count(
            .testResults,
            by: "status",
            query: Query(filter: .equal("run_id", runID)),
            scope: .everything
        )
        let summary = TestSummary(byStatus: byStatus)
        var changes: [Run.Field: Value] = [
            .testsTotal: .int(Int64(summary.total)), .testsPassed: .int(Int64(summary.passed)),
            .testsFailed: .int(Int64(summary.failed)), .testsErrored: .int(Int64(summary.errored)),
            .testsSkipped: .int(Int64(summary.skipped)),
        ]
        if let change, try await store.lock(.runs, id: runID),
            let run = try await store.get(Run.self, id: runID, scope: .everything), run.executor == .client
        {
            var options = run.options
            change(&options)
            changes[.options] = .json(.object(options))
        }
        _ = try await store.update(.runs, id: runID, changes: Run.changes(changes), ifMatch: nil, scope: .everything)
        return summary
    }

    /// The run this one's results are compared with: the one recorded at launch, else (client-reported runs)
    /// the latest earlier run of the same topic, remote CI and name.
    public func previousRun(for run: Run) async throws -> String? {
        try await Self.previousRun(for: run, in: store)
    }

    /// ``previousRun(for:)`` through `store` (a transaction's).
    static func previousRun(for run: Run, in store: any StoreReader) async throws -> String? {
        if let id = run.string(.previousRunID) { return id }
        guard let topic = run.string(.topicID), let remoteci = run.string(.remoteciID) else { return nil }
        var filter: Filter = .equal("topic_id", topic) && .equal("remoteci_id", remoteci)
        if let name = run.name { filter = filter && .equal("name", name) }
        filter = filter && .predicate(Condition("seq", .less, String(run.seq)))
        let page = try await store.list(
            .runs,
            query: Query(filter: filter, sort: [SortKey("seq", descending: true)], limit: 1, fields: ["id"]),
            scope: .everything
        )
        return page.items.first?.id
    }

    /// The statuses of a run's results, of its files named `fileName` when it has some.
    private static func statuses(runID: String, fileName: String, in store: any StoreReader) async throws
        -> [TestCaseKey: TestStatus]
    {
        var fileIDs: Set<String>?
        if !fileName.isEmpty {
            let files = try await store.list(
                .files,
                query: Query(filter: .equal("run_id", runID) && .equal("name", fileName), limit: 100, fields: ["id"]),
                scope: .everything
            )
            if !files.items.isEmpty { fileIDs = Set(files.items.map(\.id)) }
        }
        var out: [TestCaseKey: TestStatus] = [:]
        var cursor: String?
        repeat {
            let page = try await store.page(
                TestResult.self,
                query: Query(
                    filter: .equal("run_id", runID),
                    sort: [SortKey("seq")],
                    limit: 1000,
                    cursor: cursor,
                    fields: ["suite", "classname", "name", "status", "file_id"]
                ),
                scope: .everything
            )
            for row in page.items {
                if let fileIDs, let fileID = row.string(.fileID), !fileIDs.contains(fileID) { continue }
                let key = TestCaseKey(suite: row.suite, classname: row.classname, name: row.name)
                out[key] = TestStatus(rawValue: row.status) ?? .passed
            }
            cursor = page.nextCursor
        } while cursor != nil
        return out
    }

    /// How many cases an ingest inserts at a time.
    static let ingestBatchSize = 500

    /// Hands `cases` to `consume` `size` at a time.
    private static func consumeInBatches(
        _ cases: [TestCase],
        size: Int = ingestBatchSize,
        _ consume: ([TestCase]) async throws -> Void
    ) async throws {
        for start in stride(from: 0, to: cases.count, by: size) {
            try await consume(Array(cases[start..<min(start + size, cases.count)]))
        }
    }

    /// Files up to this size (the usual report of a few hundred cases) are parsed where they are ingested, their
    /// cases held whole: a parser thread of their own would cost more than the parse.
    static let inlineParseBytes = 256 * 1024

    /// Parses on a separate thread and hands batches to `consume` with back-pressure (at most a few batches
    /// in memory), so a 50 MB file never sits in memory as test cases; a file of at most ``inlineParseBytes``
    /// (`size`, when known) is parsed in place.
    static func streamCases(
        from url: URL,
        format: Format,
        size: Int? = nil,
        batchSize: Int = ingestBatchSize,
        consume: ([TestCase]) async throws -> Void
    ) async throws -> TestSummary {
        if let size, size <= inlineParseBytes {
            var cases: [TestCase] = []
            let summary = try parse(url, format: format) { cases.append($0) }
            try await consumeInBatches(cases, size: batchSize, consume)
            return summary
        }
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
                let summary = try parse(url, format: format, onCase: onCase)
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

    /// Parses the file at `url`, calling `onCase` for each case in document order.
    private static func parse(
        _ url: URL,
        format: Format,
        onCase: (TestCase) throws -> Void
    ) throws -> TestSummary {
        switch format {
        case .junit: return try JUnitParser.parse(fileAt: url, onCase: onCase)
        case .pyats:
            let report = try PyATSResultsParser.parse(fileAt: url)
            for testCase in report.cases { try onCase(testCase) }
            return report.summary
        }
    }

    enum ParseEvent: Sendable {
        case batch([TestCase])
        case done(TestSummary)
        case failed(any Error)
    }
}

/// Which process an `.incoming` folder belongs to: `<host>.<pid>.<instance>`.
struct UploadOwner: Equatable, Sendable {
    var host: String
    var pid: Int32
    var instance: String

    var folder: String { "\(host).\(pid).\(instance)" }

    /// This process: its host name, its id and a value drawn once per process.
    static let current = UploadOwner(
        host: hostName(),
        pid: getpid(),
        instance: String(UUID().uuidString.prefix(8)).lowercased()
    )

    init(host: String, pid: Int32, instance: String) {
        self.host = host
        self.pid = pid
        self.instance = instance
    }

    /// Parses a folder name; nil when it is not one (the host name may hold dots, the last two parts may not).
    init?(folder: String) {
        let parts = folder.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), pid > 0 else { return nil }
        self.init(host: parts.dropLast(2).joined(separator: "."), pid: pid, instance: String(parts[parts.count - 1]))
    }

    /// Whether a process with this id exists on this host (EPERM: it exists, as another user's).
    static func isRunning(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let name = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "/", with: "_")
        return name.isEmpty ? "localhost" : name
    }
}

/// A flag the consumer sets to stop the parsing thread early.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
