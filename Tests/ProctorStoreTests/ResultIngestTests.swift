import Foundation
import ProctorStoreWriting
import ProctorTestSupport
import Synchronization
import Testing

@testable import ProctorCore
@testable import ProctorStore

/// Ingesting a result file (``RunFiles/ingest(_:run:format:)``) is all or nothing, and a file uploaded again under
/// the same name replaces the earlier one's cases instead of adding to them; on SQLite and PostgreSQL.
@Suite struct ResultIngestTests {
    /// More cases than one batch of the parser (500), so that an ingest stored batch by batch would have
    /// committed some of them before it failed: a file parsed in place (at most ``RunFiles/inlineParseBytes``) and
    /// one parsed on a thread of its own as it is stored.
    static let caseCounts = [1_234, 6_000]

    /// The store dies (every call fails, as after `kill -9`) once it has been asked to store the third batch of
    /// cases: nothing of the file may be left, and uploading it again stores exactly its cases.
    @Test(arguments: Backend.available, caseCounts)
    func aStoreThatDiesMidIngestKeepsNoCase(_ backend: Backend, caseCount: Int) async throws {
        try await withStore(backend) { store in
            let lab = try await IngestLab.make(store)
            let dying = DyingStore(base: store, insertsBeforeDeath: 2)
            let files = RunFiles(store: dying, root: lab.root)
            let file = try await lab.upload(junit(cases: caseCount), name: "big.xml", files: files)
            await #expect(throws: DyingStore.Dead.self) {
                _ = try await files.ingest(file, run: lab.run, format: .junit)
            }
            #expect(dying.insertCalls >= 3)
            #expect(try await lab.caseCount() == 0)
            #expect(try await lab.testsTotal() == 0)

            // The retry, as an agent sends it again to the restarted server.
            let healthy = RunFiles(store: store, root: lab.root)
            let again = try await lab.upload(junit(cases: caseCount), name: "big.xml", files: healthy)
            let ingest = try await healthy.ingest(again, run: lab.run, format: .junit)
            #expect(ingest.file.total == caseCount)
            #expect(ingest.run.total == caseCount)
            #expect(ingest.replaced == [file.id])
            #expect(try await lab.caseCount() == caseCount)
            #expect(try await lab.testsTotal() == caseCount)
            #expect(try await lab.fileNames() == ["big.xml"])
        }
    }

    /// Bytes held in memory go straight to their place in a local file store, folders made as needed, with the
    /// digests of the bytes; no temporary file is made, and an existing file is never written over.
    @Test(arguments: Backend.available)
    func aFileHeldInMemoryIsWrittenInPlace(_ backend: Backend) async throws {
        try await withIngestLab(backend) { store, lab, files in
            let data = junit(cases: 3)
            let file = try await lab.upload(data, name: "r.xml", files: files)
            let path = try #require(file.string("storage_path"))
            let written = lab.root.appendingPathComponent(path)
            #expect(try Data(contentsOf: written) == data)
            let digests = try RunFiles.digests(of: written)
            #expect(file.string("md5") == digests.md5)
            #expect(file.string("sha256") == digests.sha256)
            #expect(file["size"].intValue == Int64(data.count))
            #expect(!FileManager.default.fileExists(atPath: files.incoming.path))

            let local = LocalFileStore(root: lab.root)
            await #expect(throws: ProctorError.self) { _ = try await local.put(path, data: Data("other".utf8)) }
            #expect(try Data(contentsOf: written) == data)
            #expect(LocalFileStore.writeFailure(ENOSPC).code == .insufficientStorage)
            #expect(LocalFileStore.writeFailure(EACCES).code == .internal)
        }
    }

    /// A small JUnit file held in memory is stored and ingested in one write on SQLite (two elsewhere): its row,
    /// its cases, the run's counts and the summary arrive together; an upload of the same name replaces it, row,
    /// cases and bytes; a file that does not parse is kept without cases and its 400 thrown.
    @Test(arguments: Backend.available)
    func aSmallFileInMemoryIsStoredAndIngestedInOneWrite(_ backend: Backend) async throws {
        try await withIngestLab(backend) { store, lab, files in
            let summarize: RunFiles.OptionsChange = { file, results, replaced, options in
                options["kept"] = .array([
                    .string(file.id), .number(Double(results.tests.failed)), .number(Double(replaced.count)),
                ])
            }
            let commitsBefore = store.writeGroups?.committedCount
            let (first, ingest) = try await files.storeAndIngest(
                data: junit(cases: 12, failing: 2),
                run: lab.run,
                name: "r.xml",
                mime: "application/junit",
                format: .junit,
                summarize: summarize
            )
            if let commitsBefore { #expect(store.writeGroups?.committedCount == commitsBefore + 1) }
            #expect(ingest.file.total == 12 && ingest.file.failed == 2 && ingest.run.total == 12)
            #expect(try await lab.caseCount() == 12)
            #expect(try await lab.testsTotal() == 12)
            let bytes = lab.root.appendingPathComponent(try #require(first.string("storage_path")))
            #expect(try Data(contentsOf: bytes) == junit(cases: 12, failing: 2))
            #expect(first.string("md5") == (try RunFiles.digests(of: bytes)).md5)
            // `lab.run` is not a reported run (its executor is the default): its options are left alone.
            #expect(try await store.require(Run.self, id: lab.run.id).options["kept"] == nil)

            let reported = try await store.insert(
                Record(.runs, ["group_id": .string(lab.group.id), "executor": .string("client")])
            )
            let (again, _) = try await files.storeAndIngest(
                data: junit(cases: 3),
                run: reported,
                name: "r.xml",
                mime: "application/junit",
                format: .junit,
                summarize: summarize
            )
            let (replacing, replaced) = try await files.storeAndIngest(
                data: junit(cases: 5, failing: 1),
                run: reported,
                name: "r.xml",
                mime: "application/junit",
                format: .junit,
                summarize: summarize
            )
            #expect(replaced.replaced == [again.id])
            #expect(try await store.get(.files, id: again.id) == nil)
            let gone = lab.root.appendingPathComponent(try #require(again.string("storage_path")))
            #expect(!FileManager.default.fileExists(atPath: gone.path))
            let options = try await store.require(Run.self, id: reported.id).options
            #expect(options["kept"] == .array([.string(replacing.id), .number(1), .number(1)]))
            #expect(Int(try await store.require(.runs, id: reported.id)["tests_total"].intValue ?? -1) == 5)

            let refusal = await #expect(throws: ProctorError.self) {
                _ = try await files.storeAndIngest(
                    data: Data("<testsuites><testsuite>".utf8),
                    run: reported,
                    name: "broken.xml",
                    mime: "application/junit",
                    format: .junit
                )
            }
            #expect(refusal?.code == .badRequest)
            let broken = try await store.list(
                .files,
                query: Query(filter: .equal("run_id", reported.id) && .equal("name", "broken.xml")),
                scope: .everything
            )
            #expect(broken.items.count == 1)
            #expect(Int(try await store.require(.runs, id: reported.id)["tests_total"].intValue ?? -1) == 5)
        }
    }

    /// The files of every run of a group share the group's 256 folders (named by the ids' first two hex digits):
    /// an upload makes no folder of its own, and one made for an earlier upload is used again.
    @Test func theRunsOfAGroupShareItsFolders() async throws {
        try await withIngestLab(.sqlite) { _, lab, files in
            var runs = [lab.run]
            for _ in 0..<3 { runs.append(try await lab.newRun()) }
            var paths: [String] = []
            for index in 0..<40 {
                let file = try await lab.upload(
                    Data("file \(index)".utf8),
                    name: "f\(index).txt",
                    files: files,
                    run: runs[index % runs.count]
                )
                let path = try #require(file.string("storage_path"))
                #expect(path == "\(lab.group.id)/\(file.id.prefix(2))/\(file.id)")
                #expect(
                    try String(contentsOf: lab.root.appendingPathComponent(path), encoding: .utf8) == "file \(index)"
                )
                paths.append(path)
            }
            let folders = try FileManager.default.contentsOfDirectory(
                atPath: lab.root.appendingPathComponent(lab.group.id).path
            )
            #expect(Set(folders) == Set(paths.map { String($0.split(separator: "/")[1]) }))
            #expect(folders.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) })
        }
    }

    /// The sizes of ``caseCounts`` take both of the parser's paths.
    @Test func theCaseCountsTakeBothParsePaths() {
        #expect(Self.caseCounts.map { junit(cases: $0).count > RunFiles.inlineParseBytes } == [false, true])
    }

    /// A summary a door keeps on a reported run (`summarize`, DCI's `tests_results`) is written with the cases or
    /// not at all; on a run Proctor executes it is not written (its options are the executor's), the cases are.
    @Test(arguments: Backend.available)
    func aSummaryKeptOnTheRunIsWrittenWithItsCases(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let lab = try await IngestLab.make(store)
            let reported = try await store.insert(
                Record(.runs, ["group_id": .string(lab.group.id), "executor": .string("client")])
            )
            let summarize: RunFiles.OptionsChange = { _, results, replaced, options in
                options["kept"] = .array([.number(Double(results.tests.total)), .number(Double(replaced.count))])
            }
            func kept(_ run: Record) async throws -> JSONValue? {
                try await store.require(Run.self, id: run.id).options["kept"]
            }
            let dying = RunFiles(store: DyingStore(base: store, insertsBeforeDeath: 2), root: lab.root)
            let file = try await lab.upload(junit(cases: 1_234), name: "r.xml", files: dying, run: reported)
            await #expect(throws: DyingStore.Dead.self) {
                _ = try await dying.ingest(file, run: reported, format: .junit, summarize: summarize)
            }
            #expect(try await kept(reported) == nil)

            let files = RunFiles(store: store, root: lab.root)
            let again = try await lab.upload(junit(cases: 1_234), name: "r.xml", files: files, run: reported)
            _ = try await files.ingest(again, run: reported, format: .junit, summarize: summarize)
            #expect(try await kept(reported) == .array([.number(1_234), .number(1)]))

            let executed = try await files.ingest(
                try await lab.upload(junit(cases: 3), name: "r.xml", files: files),
                run: lab.run,
                format: .junit,
                summarize: summarize
            )
            #expect(executed.run.total == 3)
            #expect(try await kept(lab.run) == nil)
        }
    }

    /// A file whose last case is malformed is refused (400 naming the line) and leaves no case; the run's other
    /// results stay as they were.
    @Test(arguments: Backend.available, caseCounts)
    func aFileMalformedNearItsEndKeepsNoCase(_ backend: Backend, caseCount: Int) async throws {
        try await withStore(backend) { store in
            let lab = try await IngestLab.make(store)
            let files = RunFiles(store: store, root: lab.root)
            let other = try await lab.upload(junit(cases: 3), name: "other.xml", files: files)
            _ = try await files.ingest(other, run: lab.run, format: .junit)

            let broken = junit(cases: caseCount, tail: "<testcase name=\"last\"><failure></testcase>")
            let file = try await lab.upload(broken, name: "big.xml", files: files)
            do {
                _ = try await files.ingest(file, run: lab.run, format: .junit)
                Issue.record("a malformed file was ingested")
            } catch let error as ProctorError {
                #expect(error.code == .badRequest)
                #expect(error.message.contains("line"))
            }
            #expect(try await lab.caseCount() == 3)
            #expect(try await lab.testsTotal() == 3)
            // The file itself is kept, without results.
            #expect(try await lab.fileNames() == ["big.xml", "other.xml"])

            let fixed = try await lab.upload(junit(cases: caseCount), name: "big.xml", files: files)
            let ingest = try await files.ingest(fixed, run: lab.run, format: .junit)
            #expect(ingest.file.total == caseCount)
            #expect(try await lab.caseCount() == caseCount + 3)
            #expect(try await lab.testsTotal() == caseCount + 3)
        }
    }

    /// Uploading a result file again under the same name replaces the earlier file and its cases: the counts are
    /// the new file's, its bytes are gone, and files of other names or other runs are untouched.
    @Test(arguments: Backend.available)
    func aReuploadReplacesTheEarlierFilesCases(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let lab = try await IngestLab.make(store)
            let files = RunFiles(store: store, root: lab.root)
            let first = try await lab.upload(junit(cases: 700), name: "suite.xml", files: files)
            #expect(try await files.ingest(first, run: lab.run, format: .junit).run.total == 700)
            let kept = try await lab.upload(junit(cases: 5), name: "kept.xml", files: files)
            #expect(try await files.ingest(kept, run: lab.run, format: .junit).run.total == 705)
            let firstBytes = files.root.appendingPathComponent(try #require(first.string("storage_path")))
            #expect(FileManager.default.fileExists(atPath: firstBytes.path))

            let second = try await lab.upload(junit(cases: 650, failing: 10), name: "suite.xml", files: files)
            let ingest = try await files.ingest(second, run: lab.run, format: .junit)
            #expect(ingest.replaced == [first.id])
            #expect(ingest.file.total == 650)
            #expect(ingest.file.failed == 10)
            #expect(ingest.run.total == 655)
            #expect(ingest.run.failed == 10)
            #expect(try await lab.caseCount() == 655)
            #expect(try await lab.testsTotal() == 655)
            #expect(try await lab.fileNames() == ["kept.xml", "suite.xml"])
            #expect(try await store.get(.files, id: first.id) == nil)
            #expect(!FileManager.default.fileExists(atPath: firstBytes.path))
            #expect(
                try await store.count(
                    .testResults,
                    query: Query(filter: .equal("file_id", first.id)),
                    scope: .everything
                ) == 0
            )

            // The same name in another run is another file.
            let otherRun = try await lab.newRun()
            let elsewhere = try await lab.upload(junit(cases: 4), name: "suite.xml", files: files, run: otherRun)
            let there = try await files.ingest(elsewhere, run: otherRun, format: .junit)
            #expect(there.replaced.isEmpty)
            #expect(there.run.total == 4)
            #expect(try await lab.caseCount() == 655)
        }
    }

    /// An ingest whose file was replaced meanwhile (a later upload of the same name got there first) stores nothing
    /// and says so.
    @Test(arguments: Backend.available)
    func anIngestOfAReplacedFileIsAConflict(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let lab = try await IngestLab.make(store)
            let files = RunFiles(store: store, root: lab.root)
            let early = try await lab.upload(junit(cases: 20), name: "r.xml", files: files)
            let late = try await lab.upload(junit(cases: 30), name: "r.xml", files: files)
            #expect(try await files.ingest(late, run: lab.run, format: .junit).replaced == [early.id])
            do {
                _ = try await files.ingest(early, run: lab.run, format: .junit)
                Issue.record("the replaced file was ingested")
            } catch let error as ProctorError {
                #expect(error.code == .conflict)
            }
            #expect(try await lab.caseCount() == 30)
        }
    }

    /// What crashed servers left in `.incoming` goes when the next one starts; live uploads stay.
    @Test func abandonedUploadsAreRemoved() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "proctor-incoming-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: root) }
        let files = RunFiles(store: UnusedStore(), root: root)
        let incoming = files.incoming
        let current = UploadOwner.current
        let dead = deadProcessID()
        let old = Date().addingTimeInterval(-2 * 3600)

        func put(_ path: String, modified: Date? = nil) throws -> URL {
            let url = incoming.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try Data(repeating: 7, count: 1000).write(to: url)
            if let modified {
                try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: url.path)
            }
            return url
        }
        let removed = [
            // A process of this host that is gone, however recent its upload.
            try put("\(current.host).\(dead).abcd1234/a"),
            try put("\(current.host).\(dead).abcd1234/b"),
            // This process's id with another instance: a restarted container's predecessor.
            try put("\(current.host).\(current.pid).0ldinst0/c"),
            // Another host's, untouched for two hours; an old version's flat file as old.
            try put("elsewhere.example.7.ffff0000/d", modified: old),
            try put("0A1B2C3D-LEGACY", modified: old),
        ]
        let kept = [
            try files.temporaryURL().appendingPathExtension("keep"),
            try put("elsewhere.example.7.ffff0000/e"),
            try put("0A1B2C3D-FRESH"),
        ]
        try Data("live".utf8).write(to: kept[0])

        #expect(files.removeAbandonedUploads() == removed.count)
        for url in removed { #expect(!FileManager.default.fileExists(atPath: url.path), "\(url.path)") }
        for url in kept { #expect(FileManager.default.fileExists(atPath: url.path), "\(url.path)") }
        #expect(
            !FileManager.default.fileExists(
                atPath: incoming.appendingPathComponent("\(current.host).\(dead).abcd1234").path
            )
        )
        #expect(files.removeAbandonedUploads() == 0)
    }

    @Test func uploadFolderNamesRoundTrip() {
        let owner = UploadOwner(host: "lab.example.com", pid: 4242, instance: "0a1b2c3d")
        #expect(owner.folder == "lab.example.com.4242.0a1b2c3d")
        #expect(UploadOwner(folder: owner.folder) == owner)
        #expect(UploadOwner(folder: "0A1B2C3D-E5F6") == nil)
        #expect(UploadOwner(folder: "host.notapid.x") == nil)
        #expect(UploadOwner.isRunning(getpid()))
    }
}

/// A process id that no process has: one of a child that has exited and been reaped.
private func deadProcessID() -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try? process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

/// JUnit XML with `cases` test cases, the first `failing` of them failed, and `tail` appended as it is inside the
/// suite.
func junit(cases: Int, failing: Int = 0, tail: String = "") -> Data {
    var text = "<?xml version=\"1.0\"?>\n<testsuites>\n<testsuite name=\"s\">\n"
    for index in 0..<cases {
        if index < failing {
            text += "<testcase classname=\"c\" name=\"t\(index)\" time=\"0.5\"><failure message=\"no\"/></testcase>\n"
        } else {
            text += "<testcase classname=\"c\" name=\"t\(index)\" time=\"0.5\"/>\n"
        }
    }
    text += tail
    text += "</testsuite>\n</testsuites>\n"
    return Data(text.utf8)
}

/// A lab on `backend`'s store with files over its own directory, removed afterwards.
func withIngestLab(_ backend: Backend, _ body: (SQLStore, IngestLab, RunFiles) async throws -> Void) async throws {
    try await withStore(backend) { store in
        let lab = try await IngestLab.make(store)
        defer { try? FileManager.default.removeItem(at: lab.root) }
        try await body(store, lab, RunFiles(store: store, root: lab.root))
    }
}

/// A group, a run in it, and a files directory.
struct IngestLab {
    let store: SQLStore
    let group: Record
    let run: Record
    let root: URL

    static func make(_ store: SQLStore) async throws -> IngestLab {
        let group = try await makeGroup(store)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("proctor-files-\(UUID().uuidString)")
        let run = try await store.insert(Record(.runs, ["group_id": .string(group.id), "name": .string("ingest")]))
        return IngestLab(store: store, group: group, run: run, root: root)
    }

    func newRun() async throws -> Record {
        try await store.insert(Record(.runs, ["group_id": .string(group.id), "name": .string("another")]))
    }

    func upload(_ data: Data, name: String, files: RunFiles, run: Record? = nil) async throws -> Record {
        let run = run ?? self.run
        return try await files.store(
            data: data,
            runID: run.id,
            groupID: group.id,
            name: name,
            mime: "application/junit"
        )
    }

    func caseCount() async throws -> Int {
        try await store.count(.testResults, query: Query(filter: .equal("run_id", run.id)), scope: .everything)
    }

    func testsTotal() async throws -> Int {
        Int(try await store.require(.runs, id: run.id)["tests_total"].intValue ?? -1)
    }

    func fileNames() async throws -> [String] {
        try await store.list(
            .files,
            query: Query(filter: .equal("run_id", run.id), sort: [SortKey("name")]),
            scope: .everything
        )
        .items.compactMap(\.name)
    }
}

/// A store that works until it has been asked `insertsBeforeDeath + 1` times to insert rows, and from then on fails
/// every call, as a server killed with `kill -9` does nothing more: no clean-up after the failure reaches the
/// database.
final class DyingStore: Store, @unchecked Sendable {
    struct Dead: Error {}

    let base: any Store
    private let state: Mutex<(inserts: Int, dead: Bool)>
    private let insertsBeforeDeath: Int

    /// The store whose counter a transaction's store shares.
    private let parent: DyingStore?

    init(base: any Store, insertsBeforeDeath: Int) {
        self.base = base
        self.insertsBeforeDeath = insertsBeforeDeath
        self.state = Mutex((0, false))
        self.parent = nil
    }

    private init(base: any Store, sharing other: DyingStore) {
        self.base = base
        self.insertsBeforeDeath = other.insertsBeforeDeath
        self.state = Mutex((0, false))
        self.parent = other
    }
    private var root: DyingStore { parent?.root ?? self }

    var insertCalls: Int { root.state.withLock { $0.inserts } }

    private func alive() throws {
        if root.state.withLock({ $0.dead }) { throw Dead() }
    }

    var backend: String { base.backend }
    var accessGeneration: UInt64 { base.accessGeneration }
    func migrate() async throws -> [Int] { try alive(); return try await base.migrate() }
    func health() async -> StoreHealth { await base.health() }
    func insert(_ record: Record) async throws -> Record { try alive(); return try await base.insert(record) }

    func insertMany(_ records: [Record]) async throws {
        try alive()
        let dies = root.state.withLock { state in
            state.inserts += 1
            if state.inserts > insertsBeforeDeath { state.dead = true }
            return state.dead
        }
        if dies { throw Dead() }
        try await base.insertMany(records)
    }

    func get(_ kind: ResourceKind, id: String, scope: Scope) async throws -> Record? {
        try alive()
        return try await base.get(kind, id: id, scope: scope)
    }

    func first(_ kind: ResourceKind, matching: [String: Value], scope: Scope) async throws -> Record? {
        try alive()
        return try await base.first(kind, matching: matching, scope: scope)
    }

    func update(_ kind: ResourceKind, id: String, changes: [String: Value], ifMatch: String?, scope: Scope) async throws
        -> Record
    {
        try alive()
        return try await base.update(kind, id: id, changes: changes, ifMatch: ifMatch, scope: scope)
    }

    func delete(_ kind: ResourceKind, id: String, ifMatch: String?, scope: Scope) async throws -> Bool {
        try alive()
        return try await base.delete(kind, id: id, ifMatch: ifMatch, scope: scope)
    }

    func deleteAll(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        try alive()
        return try await base.deleteAll(kind, query: query, scope: scope)
    }

    func list(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Page {
        try alive()
        return try await base.list(kind, query: query, scope: scope)
    }

    func listJSON(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> JSONPage {
        try alive()
        return try await base.listJSON(kind, query: query, scope: scope)
    }

    func scan<State: Sendable>(
        _ kind: ResourceKind,
        fields: [String],
        query: Query,
        scope: Scope,
        into state: State,
        _ body: @escaping @Sendable (inout State, any ScannedRow) throws -> Void
    ) async throws -> State {
        try alive()
        return try await base.scan(kind, fields: fields, query: query, scope: scope, into: state, body)
    }

    func count(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        try alive()
        return try await base.count(kind, query: query, scope: scope)
    }

    func count(_ kind: ResourceKind, by field: String, query: Query, scope: Scope) async throws -> [Value: Int] {
        try alive()
        return try await base.count(kind, by: field, query: query, scope: scope)
    }

    func distinct(_ kind: ResourceKind, field: String, query: Query, scope: Scope) async throws -> [Value] {
        try alive()
        return try await base.distinct(kind, field: field, query: query, scope: scope)
    }

    func transaction<T: Sendable>(_ body: @Sendable (any Store) async throws -> T) async throws -> T {
        try alive()
        return try await base.transaction { store in try await body(DyingStore(base: store, sharing: self)) }
    }

    func lock(_ kind: ResourceKind, id: String) async throws -> Bool {
        try alive()
        return try await base.lock(kind, id: id)
    }

    func claimRun(_ claim: RunClaim) async throws -> Record? {
        try alive()
        return try await base.claimRun(claim)
    }

    func shutdown() async {}
}

/// A store for code that must not touch one.
struct UnusedStore: Store {
    struct Touched: Error {}
    var backend: String { "none" }
    var accessGeneration: UInt64 { 0 }
    func migrate() async throws -> [Int] { throw Touched() }
    func health() async -> StoreHealth { StoreHealth(ok: false, backend: "none", schemaVersion: 0, message: nil) }
    func insert(_ record: Record) async throws -> Record { throw Touched() }
    func insertMany(_ records: [Record]) async throws { throw Touched() }
    func get(_ kind: ResourceKind, id: String, scope: Scope) async throws -> Record? { throw Touched() }
    func first(_ kind: ResourceKind, matching: [String: Value], scope: Scope) async throws -> Record? {
        throw Touched()
    }
    func update(_ kind: ResourceKind, id: String, changes: [String: Value], ifMatch: String?, scope: Scope) async throws
        -> Record
    { throw Touched() }
    func delete(_ kind: ResourceKind, id: String, ifMatch: String?, scope: Scope) async throws -> Bool {
        throw Touched()
    }
    func deleteAll(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int { throw Touched() }
    func list(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Page { throw Touched() }
    func listJSON(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> JSONPage { throw Touched() }
    func scan<State: Sendable>(
        _ kind: ResourceKind,
        fields: [String],
        query: Query,
        scope: Scope,
        into state: State,
        _ body: @escaping @Sendable (inout State, any ScannedRow) throws -> Void
    ) async throws -> State { throw Touched() }
    func count(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int { throw Touched() }
    func count(_ kind: ResourceKind, by field: String, query: Query, scope: Scope) async throws -> [Value: Int] {
        throw Touched()
    }
    func distinct(_ kind: ResourceKind, field: String, query: Query, scope: Scope) async throws -> [Value] {
        throw Touched()
    }
    func transaction<T: Sendable>(_ body: @Sendable (any Store) async throws -> T) async throws -> T { throw Touched() }
    func lock(_ kind: ResourceKind, id: String) async throws -> Bool { throw Touched() }
    func claimRun(_ claim: RunClaim) async throws -> Record? { throw Touched() }
    func shutdown() async {}
}
