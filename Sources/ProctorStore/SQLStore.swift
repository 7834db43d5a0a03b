import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import ProctorCore
import SQLKit
import SQLiteKit
import Synchronization

/// The ``Store`` over SQL: SQLite (embedded default: WAL, foreign keys on, one writer and a few readers)
/// or PostgreSQL (a pool of connections shared by reads and writes).
public struct SQLStore: Store {
    public let flavor: SQLFlavor
    public var backend: String { flavor.rawValue }
    /// The largest page a list returns, whatever the client asks.
    public let maxPageSize: Int
    public let defaultPageSize: Int
    private let readers: SessionPool
    private let writers: SessionPool
    /// Set inside ``transaction(_:)``: every call goes to this one session.
    private let pinned: (any SQLDatabase)?
    /// SQLite only: reads of one row by id, inline (see ``SQLitePointReader``).
    private let pointReader: SQLitePointReader?
    /// SQLite only: the database file, for the connections the store opens itself (imports).
    private let sqlitePath: String?
    private let generation: AccessGenerationCounter
    private let statistics = StatisticsSchedule()
    private let logger: Logger

    private init(
        flavor: SQLFlavor,
        readers: SessionPool,
        writers: SessionPool,
        pinned: (any SQLDatabase)?,
        pointReader: SQLitePointReader? = nil,
        sqlitePath: String? = nil,
        logger: Logger,
        maxPageSize: Int,
        defaultPageSize: Int,
        generation: AccessGenerationCounter = AccessGenerationCounter()
    ) {
        self.generation = generation
        self.pointReader = pointReader
        self.sqlitePath = sqlitePath
        self.flavor = flavor
        self.readers = readers
        self.writers = writers
        self.pinned = pinned
        self.logger = logger
        self.maxPageSize = maxPageSize
        self.defaultPageSize = defaultPageSize
    }

    /// Opens (creating if needed) the SQLite file at `path`.
    public static func sqlite(
        path: String,
        readers: Int = 4,
        logger: Logger = Logger(label: "proctor.store"),
        maxPageSize: Int = 1000,
        defaultPageSize: Int = 50
    ) async throws -> SQLStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ProctorError(
                    .unavailable,
                    "cannot create the data directory \(directory): \(error.localizedDescription)"
                )
            }
            guard FileManager.default.isWritableFile(atPath: directory) else {
                throw ProctorError(.unavailable, "the data directory \(directory) is not writable")
            }
        }
        let open: @Sendable () async throws -> SessionPool.Session = {
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            let database = SQLiteSession(connection: connection, base: connection.sql(queryLogLevel: nil))
            // 16 KiB pages (set before a new file has its first table; an existing store keeps its size): index
            // entries of UUIDs and timestamps fill pages quickly, and larger pages split, balance and log less; a
            // million-run import took 15% less time than with 4 KiB pages, and the long scans of lists and
            // counts read fewer pages.
            for pragma in [
                "PRAGMA page_size = 16384", "PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 10000",
                "PRAGMA synchronous = NORMAL", "PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY",
            ] {
                try await database.raw(SQLQueryString(pragma)).run()
            }
            try await connection.install(customFunction: regexpFunction)
            return SessionPool.Session(
                database: database,
                isClosed: { connection.isClosed },
                close: { try? await connection.close() }
            )
        }
        // Open one connection first so the file and WAL mode exist before readers race for them.
        let writers = SessionPool(capacity: 1, open: open)
        try await writers.withSession { _ in () }
        return SQLStore(
            flavor: .sqlite,
            readers: SessionPool(capacity: readers, open: open),
            writers: writers,
            pinned: nil,
            pointReader: SQLitePointReader(path: path, capacity: readers),
            sqlitePath: path,
            logger: logger,
            maxPageSize: maxPageSize,
            defaultPageSize: defaultPageSize
        )
    }

    /// Connects to PostgreSQL at a `postgres://user:pass@host:port/db` URL.
    public static func postgres(
        url: String,
        connections: Int = 8,
        schema: String? = nil,
        logger: Logger = Logger(label: "proctor.store"),
        maxPageSize: Int = 1000,
        defaultPageSize: Int = 50
    ) async throws -> SQLStore {
        if let schema, !schema.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw ProctorError.badRequest("invalid schema name '\(schema)'")
        }
        var configuration: SQLPostgresConfiguration
        do {
            configuration = try SQLPostgresConfiguration(url: url)
        } catch {
            throw ProctorError.badRequest(
                "invalid PostgreSQL URL '\(url)': expected postgres://user:password@host:port/database"
            )
        }
        if !url.contains("sslmode") && !url.contains("tlsmode") {
            configuration.coreConfiguration.tls = .disable
        }
        let core = configuration.coreConfiguration
        let counter = ConnectionCounter()
        let createSchema = OneShot()
        let open: @Sendable () async throws -> SessionPool.Session = {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(),
                configuration: core,
                id: counter.next(),
                logger: logger
            )
            let database = connection.sql(queryLogLevel: nil)
            if let schema {
                do {
                    // A private schema per store: tests and benchmarks share one server without seeing each other.
                    if createSchema.claim() {
                        try await database.raw(SQLQueryString("CREATE SCHEMA IF NOT EXISTS \(unsafeRaw: schema)")).run()
                    }
                    try await database.raw(SQLQueryString("SET search_path TO \(unsafeRaw: schema)")).run()
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
            return SessionPool.Session(
                database: database,
                isClosed: { connection.isClosed },
                close: { try? await connection.close() }
            )
        }
        let pool = SessionPool(capacity: connections, open: open)
        do {
            try await pool.withSession { db in try await db.raw("SELECT 1").run() }
        } catch {
            throw ProctorError(.unavailable, "cannot connect to PostgreSQL at \(redacted(url)): \(describe(error))")
        }
        return SQLStore(
            flavor: .postgres,
            readers: pool,
            writers: pool,
            pinned: nil,
            logger: logger,
            maxPageSize: maxPageSize,
            defaultPageSize: defaultPageSize
        )
    }

    public var accessGeneration: UInt64 { generation.value }

    /// Called after a write of `kind` succeeded.
    private func wrote(_ kind: ResourceKind) {
        if AccessGenerationCounter.kinds.contains(kind) { generation.bump() }
    }

    public func shutdown() async {
        pointReader?.shutdown()
        await readers.shutdown()
        await writers.shutdown()
    }

    // MARK: Sessions

    private func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let pinned { return try await body(pinned) }
        return try await mapErrors { try await readers.withSession(body) }
    }

    private func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let pinned { return try await body(pinned) }
        defer { refreshStatisticsWhenDue() }
        return try await mapErrors { try await writers.withSession(body) }
    }

    /// Runs `body` inside one transaction on one session.
    func inTransaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let pinned { return try await body(pinned) }
        defer { refreshStatisticsWhenDue() }
        return try await mapErrors {
            try await writers.withSession { db in
                try await db.raw(SQLQueryString(flavor.beginWrite)).run()
                let before = generation.value
                do {
                    let result = try await body(db)
                    try await db.raw("COMMIT").run()
                    // A principal read between the write and the commit saw the old rows: stale it again.
                    if generation.value != before { generation.bump() }
                    return result
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any Store) async throws -> T) async throws -> T {
        try await inTransaction { db in try await body(pinned(to: db)) }
    }

    /// This store with every call sent to one session (inside a transaction).
    func pinned(to db: any SQLDatabase) -> SQLStore {
        SQLStore(
            flavor: flavor,
            readers: readers,
            writers: writers,
            pinned: db,
            pointReader: pointReader,
            sqlitePath: sqlitePath,
            logger: logger,
            maxPageSize: maxPageSize,
            defaultPageSize: defaultPageSize,
            generation: generation
        )
    }

    /// Driver errors never reach clients: constraint violations become conflicts, the rest unavailability.
    private func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreUnavailable {
            throw ProctorError(.unavailable, error.message)
        } catch  where error is SQLiteError || error is PSQLError {
            let text = describe(error)
            let postgresDiskFull = (error as? PSQLError)?.serverInfo?[.sqlState] == "53100"
            if let full = postgresDiskFull ? ProctorError.diskFullError : ProctorError.diskFull(from: error) {
                logger.error("store error: \(text)")
                throw full
            }
            if text.contains("UNIQUE constraint failed") || text.contains("23505") {
                throw ProctorError.conflict("a row with the same identity already exists")
            }
            if text.contains("FOREIGN KEY constraint failed") || text.contains("23503") {
                throw ProctorError.conflict(
                    "the row is referenced by, or refers to, a row that does not exist or still exists"
                )
            }
            logger.error("store error: \(text)")
            throw ProctorError(.unavailable, "the store failed: \(text.prefix(200))")
        }
    }

    // MARK: Migrations

    public func migrate() async throws -> [Int] {
        let applied = try await inTransaction { db -> [Int] in
            if flavor == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(7152024)").run()
            }
            return try await applyMigrations(db, upTo: Catalog.version)
        }
        try await refreshStatistics()
        return applied
    }

    /// Applies the migrations up to `version` only (tests of a later version's migration).
    func migrate(upTo version: Int) async throws {
        _ = try await inTransaction { db in try await applyMigrations(db, upTo: version) }
    }

    private func applyMigrations(_ db: any SQLDatabase, upTo target: Int) async throws -> [Int] {
        try await db.raw(
            "CREATE TABLE IF NOT EXISTS proctor_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        ).run()
        let current = try await currentVersion(db)
        guard current < target else { return [] }
        var applied: [Int] = []
        for version in (current + 1)...target {
            for statement in Migrations.statements(for: version, flavor: flavor) {
                try await db.raw(SQLQueryString(statement)).run()
            }
            try await db.raw(
                "INSERT INTO proctor_migrations (version, applied_at) VALUES (\(bind: version), \(bind: Timestamp.now()))"
            ).run()
            applied.append(version)
        }
        return applied
    }

    /// Gives SQLite's planner fresh statistics: `PRAGMA optimize=0x10002` runs ANALYZE (bounded by
    /// `analysis_limit`) on the tables whose statistics are missing or stale. Without them the planner prefers
    /// an index that serves the sort (`run_events (group_id, created_at)` for a run's events newest first) to
    /// the selective one (`run_id`). Done after migrations, and at most hourly after writes, since a new
    /// store's tables start empty. PostgreSQL's autovacuum keeps its own statistics: nothing to do there.
    /// (The writer session runs the ANALYZE itself, so it sees the statistics at once.)
    public func refreshStatistics() async throws {
        guard flavor == .sqlite else { return }
        try await mapErrors {
            try await writers.withSession { db in
                try await db.raw("PRAGMA analysis_limit = 1000").run()
                try await db.raw("PRAGMA optimize = 0x10002").run()
            }
        }
        // Open connections keep the statistics they loaded: readers are reopened to see the new ones.
        await readers.renew()
    }

    /// Refreshes the statistics in the background when an hour has passed since the last time.
    private func refreshStatisticsWhenDue() {
        guard flavor == .sqlite, statistics.claim() else { return }
        Task { [self] in
            do { try await refreshStatistics() } catch { logger.warning("refreshing SQLite statistics: \(error)") }
        }
    }

    private func currentVersion(_ db: any SQLDatabase) async throws -> Int {
        let row = try await db.raw("SELECT MAX(version) AS v FROM proctor_migrations").first()
        guard let row, !(try row.decodeNil(column: "v")) else { return 0 }
        return try row.decode(column: "v", as: Int.self)
    }

    public func health() async -> StoreHealth {
        do {
            let version = try await read { db in
                try await db.raw("SELECT 1 AS one").run()
                return try await currentVersion(db)
            }
            return StoreHealth(
                ok: version == Catalog.version,
                backend: flavor.rawValue,
                schemaVersion: version,
                message: nil
            )
        } catch {
            return StoreHealth(ok: false, backend: flavor.rawValue, schemaVersion: 0, message: describe(error))
        }
    }

    // MARK: Writes

    public func insert(_ record: Record) async throws -> Record {
        defer { wrote(record.kind) }
        let prepared = try RowCodec.prepareInsert(record, now: Timestamp.now())
        let schema = record.kind.schema
        let codec = RowCodec(flavor: flavor, schema: schema)
        let insert = try codec.insertStatement([prepared])
        let labels = codec.labelsValues(prepared)
        if labels.isEmpty {
            let seq = try await write { db in try await Self.insertReturningSeq(db, insert) }
            var stored = prepared
            stored["seq"] = .int(seq)
            return stored
        }
        return try await inTransaction { db in
            let seq = try await Self.insertReturningSeq(db, insert)
            var stored = prepared
            stored["seq"] = .int(seq)
            try await db.raw(try codec.labelsInsert([(seq, stored)])).run()
            return stored
        }
    }

    private static func insertReturningSeq(_ db: any SQLDatabase, _ statement: SQLQueryString) async throws -> Int64 {
        guard let row = try await db.raw(statement + " RETURNING seq").first() else {
            throw ProctorError(.internal, "insert returned no row")
        }
        return try row.decode(column: "seq", as: Int64.self)
    }

    public func insertMany(_ records: [Record]) async throws {
        guard let kind = records.first?.kind else { return }
        var start = records.startIndex
        _ = try await importRecords(kind) {
            guard start < records.endIndex else { return nil }
            defer { start = min(records.endIndex, start + 5_000) }
            return Array(records[start..<min(records.endIndex, start + 5_000)])
        }
    }

    /// Imports rows of one kind in one write transaction: a lab's run history brought over from another server,
    /// a restore, a benchmark's seed. `batches` yields the rows a batch at a time (a few thousand each).
    ///
    /// Every row is checked and filled in as ``insert(_:)`` does (id, timestamps, etag, defaults, labels) and rows
    /// are stored in the order given, so their `seq`s follow it. Readers see nothing until the whole import
    /// commits; a bad row, or a reference to a group, definition, run or user that does not exist, rolls it all
    /// back. On SQLite the import holds the writer for its length and writes each batch while the next is read
    /// and prepared, with statements prepared once and references checked once per distinct value rather than
    /// once per row (see ``SQLiteDirectImport``). Inside ``transaction(_:)``, and on PostgreSQL, it is multi-row
    /// INSERTs in the caller's transaction or one of its own.
    ///
    /// - Returns: how many rows were imported.
    @discardableResult
    public func importRecords<Batches: AsyncSequence>(_ kind: ResourceKind, _ batches: Batches) async throws -> Int
    where Batches.Element == [Record] {
        var iterator = batches.makeAsyncIterator()
        return try await importRecords(kind) { try await iterator.next() }
    }

    private func importRecords(_ kind: ResourceKind, next: () async throws -> [Record]?) async throws -> Int {
        defer { wrote(kind) }
        let layout = InsertLayout(kind.schema)
        let count: Int
        if pinned == nil, flavor == .sqlite, let sqlitePath {
            count = try await importDirectly(layout, path: sqlitePath, next: next)
        } else {
            count = try await inTransaction { db in
                var count = 0
                while let batch = try await next() {
                    let now = Timestamp.now()
                    try await insertRows(
                        try batch.map { try RowCodec.prepareRow($0, layout: layout, now: now) },
                        layout: layout,
                        on: db
                    )
                    count += batch.count
                }
                return count
            }
        }
        if pinned == nil, count >= Self.importAnalyzedFrom { try await analyze(kind) }
        return count
    }

    /// An import of at least this many rows refreshes the planner's statistics of its tables at once.
    static let importAnalyzedFrom = 10_000

    /// Fresh planner statistics for a kind's tables after a bulk load. Without them PostgreSQL plans the next
    /// queries as for the table before the load (until autovacuum's ANALYZE, up to a minute later): a label
    /// filter over a million freshly imported runs ran for minutes as a nested loop over all labels rows.
    private func analyze(_ kind: ResourceKind) async throws {
        switch flavor {
        case .sqlite:
            try await refreshStatistics()
        case .postgres:
            let schema = kind.schema
            var tables = [quoted(schema.table)]
            if schema.labelsField != nil { tables.append(quoted(schema.table + "_labels")) }
            try await mapErrors {
                try await writers.withSession { db in
                    try await db.raw(SQLQueryString("ANALYZE " + tables.joined(separator: ", "))).run()
                }
            }
        }
    }

    /// An import on SQLite outside a transaction: ``SQLiteDirectImport`` writes each batch on the thread pool while
    /// the next is read and prepared here, so both cores work. The writer session is held throughout, so this
    /// process's other writes wait for the import instead of for the file lock.
    private func importDirectly(_ layout: InsertLayout, path: String, next: () async throws -> [Record]?) async throws
        -> Int
    {
        defer { refreshStatisticsWhenDue() }
        return try await mapErrors {
            try await writers.withSession { _ in
                let pool = NIOThreadPool.singleton
                let importer = try await pool.runIfActive { try SQLiteDirectImport(path: path, layout: layout) }
                var count = 0
                var pending: Task<Void, any Error>?
                do {
                    while let batch = try await next() {
                        let now = Timestamp.now()
                        let ready = importer.batch(
                            try batch.map { try RowCodec.prepareRow($0, layout: layout, now: now) }
                        )
                        try await pending?.value
                        pending = Task { try await pool.runIfActive { try importer.write(ready) } }
                        count += batch.count
                    }
                    try await pending?.value
                    try await pool.runIfActive { try importer.commit() }
                } catch {
                    _ = try? await pending?.value
                    try? await pool.runIfActive { importer.rollback() }
                    throw error
                }
                return count
            }
        }
    }

    /// Writes prepared rows (``RowCodec/prepareRow(_:layout:now:)``) and their labels with SQLKit, on a session
    /// that holds the write transaction (PostgreSQL's bulk path).
    private func insertRows(_ rows: [[Value]], layout: InsertLayout, on db: any SQLDatabase) async throws {
        let codec = RowCodec(flavor: flavor, schema: layout.schema)
        let perStatement = max(1, 30_000 / max(1, layout.fields.count))
        let hasLabels = layout.schema.labelsField != nil
        for start in stride(from: 0, to: rows.count, by: perStatement) {
            let records = rows[start..<min(rows.count, start + perStatement)].map(layout.record)
            let statement = try codec.insertStatement(records)
            if hasLabels {
                let seqs = try await db.raw(statement + " RETURNING seq").all().map {
                    try $0.decode(column: "seq", as: Int64.self)
                }
                let pairs = zip(seqs.sorted(), records).map { ($0, $1) }
                let labelRows = pairs.filter { !codec.labelsValues($0.1).isEmpty }
                for labelStart in stride(from: 0, to: labelRows.count, by: 2000) {
                    let part = Array(labelRows[labelStart..<min(labelRows.count, labelStart + 2000)])
                    try await db.raw(try codec.labelsInsert(part)).run()
                }
            } else {
                try await db.raw(statement).run()
            }
        }
    }

    public func update(
        _ kind: ResourceKind,
        id: String,
        changes: [String: Value],
        ifMatch: String?,
        scope: Scope
    ) async throws -> Record {
        defer { wrote(kind) }
        let schema = kind.schema
        let codec = RowCodec(flavor: flavor, schema: schema)
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let validated = try RowCodec.validateChanges(changes, schema: schema)
        let now = Timestamp.now()
        return try await inTransaction { db in
            var assignments: [SQLQueryString] = []
            for (name, value) in validated.sorted(by: { $0.key < $1.key }) {
                assignments.append(
                    "\(unsafeRaw: quoted(name)) = \(bind: try compiler.encodable(value, type: schema.field(name)?.type))"
                )
            }
            assignments.append("updated_at = \(bind: now)")
            assignments.append("etag = \(bind: RowCodec.newETag())")
            var statement: SQLQueryString = "UPDATE \(unsafeRaw: quoted(schema.table)) SET "
            statement += assignments.joined(separator: ", ")
            statement += " WHERE id = \(bind: id)"
            if let scopeClause = try compiler.whereClause(Query(), scope: scope) { statement += " AND " + scopeClause }
            if let ifMatch { statement += " AND etag = \(bind: ifMatch)" }
            let rows = try await db.raw(statement + " RETURNING seq").all()
            guard let row = rows.first else {
                if ifMatch != nil, try await self.fetch(db, kind, id: id, scope: scope) != nil {
                    throw ProctorError.conflict(
                        "the \(kind.singular) changed since it was read (etag mismatch)",
                        field: "If-Match"
                    )
                }
                throw ProctorError.notFound("no such \(kind.singular): \(id)")
            }
            let seq = try row.decode(column: "seq", as: Int64.self)
            guard let updated = try await self.fetch(db, kind, id: id, scope: .everything) else {
                throw ProctorError.notFound("no such \(kind.singular): \(id)")
            }
            if let labels = schema.labelsField, validated[labels.name] != nil {
                try await db.raw("DELETE FROM \(unsafeRaw: codec.labelsTable) WHERE row_seq = \(bind: seq)").run()
                if !codec.labelsValues(updated).isEmpty {
                    try await db.raw(try codec.labelsInsert([(seq, updated)])).run()
                }
            }
            return updated
        }
    }

    public func delete(_ kind: ResourceKind, id: String, ifMatch: String?, scope: Scope) async throws -> Bool {
        defer { wrote(kind) }
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        return try await write { db in
            var statement: SQLQueryString = "DELETE FROM \(unsafeRaw: quoted(schema.table)) WHERE id = \(bind: id)"
            if let scopeClause = try compiler.whereClause(Query(), scope: scope) { statement += " AND " + scopeClause }
            if let ifMatch { statement += " AND etag = \(bind: ifMatch)" }
            let deleted = try await db.raw(statement + " RETURNING id").all()
            if deleted.isEmpty, ifMatch != nil, try await self.fetch(db, kind, id: id, scope: scope) != nil {
                throw ProctorError.conflict(
                    "the \(kind.singular) changed since it was read (etag mismatch)",
                    field: "If-Match"
                )
            }
            return !deleted.isEmpty
        }
    }

    public func deleteAll(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        defer { wrote(kind) }
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        return try await write { db in
            var statement: SQLQueryString = "DELETE FROM \(unsafeRaw: quoted(schema.table))"
            if let clause = try compiler.whereClause(query, scope: scope) { statement += " WHERE " + clause }
            return try await db.raw(statement + " RETURNING seq").all().count
        }
    }

    public func lock(_ kind: ResourceKind, id: String) async throws -> Bool {
        let lockClause = flavor == .postgres ? " FOR UPDATE" : ""
        return try await write { db in
            try await db.raw(
                "SELECT seq FROM \(unsafeRaw: quoted(kind.schema.table)) WHERE id = \(bind: id)\(unsafeRaw: lockClause)"
            ).first() != nil
        }
    }

    // MARK: Reads

    public func get(_ kind: ResourceKind, id: String, scope: Scope) async throws -> Record? {
        // Inside a transaction the pinned session must answer: it sees the transaction's own writes.
        if pinned == nil, let pointReader {
            switch pointReader.get(kind, id: id, scope: scope) {
            case .found(let record): return record
            case .missing: return nil
            case .undecided: break
            }
        }
        return try await read { db in try await fetch(db, kind, id: id, scope: scope) }
    }

    private func fetch(_ db: any SQLDatabase, _ kind: ResourceKind, id: String, scope: Scope) async throws -> Record? {
        try await first(db, kind, matching: ["id": .string(id)], scope: scope)
    }

    public func first(_ kind: ResourceKind, matching: [String: Value], scope: Scope) async throws -> Record? {
        try await read { db in try await first(db, kind, matching: matching, scope: scope) }
    }

    private func first(
        _ db: any SQLDatabase,
        _ kind: ResourceKind,
        matching: [String: Value],
        scope: Scope
    ) async throws -> Record? {
        let schema = kind.schema
        let codec = RowCodec(flavor: flavor, schema: schema)
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        var statement: SQLQueryString =
            "SELECT \(unsafeRaw: schema.fields.map { quoted($0.name) }.joined(separator: ", ")) FROM \(unsafeRaw: quoted(schema.table)) WHERE 1 = 1"
        for (name, value) in matching.sorted(by: { $0.key < $1.key }) {
            guard schema.field(name) != nil else {
                throw ProctorError.unknownField(name, valid: schema.fields.map(\.name))
            }
            if value.isNull {
                statement += " AND \(unsafeRaw: quoted(name)) IS NULL"
            } else {
                statement += " AND \(unsafeRaw: quoted(name)) = \(bind: try compiler.encodable(value))"
            }
        }
        if let scopeClause = try compiler.whereClause(Query(), scope: scope) { statement += " AND " + scopeClause }
        return try await records(db, statement + " LIMIT 1", kind: kind, fields: schema.fields, codec: codec).first
    }

    /// The rows of a SELECT of exactly `fields`, decoded: by position on SQLite, by name through SQLKit on PostgreSQL.
    private func records(
        _ db: any SQLDatabase,
        _ statement: SQLQueryString,
        kind: ResourceKind,
        fields: [FieldSpec],
        codec: RowCodec
    ) async throws -> [Record] {
        if let session = db as? SQLiteSession {
            return try await session.records(statement, kind: kind, fields: fields)
        }
        return try await db.raw(statement).all().map { try codec.decode($0, fields: fields) }
    }

    public func list(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Page {
        let (statement, columns, keys, limit) = try listStatement(kind, query: query, scope: scope)
        let codec = RowCodec(flavor: flavor, schema: kind.schema)
        let countQuery = query
        return try await read { db in
            let rows = try await records(db, statement, kind: kind, fields: columns, codec: codec)
            var items = Array(rows.prefix(limit))
            let hasMore = rows.count > limit
            let next = hasMore ? items.last.map { Cursor.encode($0, keys: keys) } : nil
            if let fields = query.fields, !fields.isEmpty {
                let keep = Set(fields + ["id"])
                items = items.map { record in
                    var trimmed = record
                    trimmed.values = record.values.filter { keep.contains($0.key) }
                    return trimmed
                }
            }
            let total = query.includeTotal ? try await count(db, kind, query: countQuery, scope: scope) : nil
            return Page(items: items, total: total, nextCursor: next, limit: limit)
        }
    }

    /// SQLite's plan for a ``list(_:query:scope:)`` (the `detail` column of `EXPLAIN QUERY PLAN`).
    func queryPlan(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> [String] {
        try await explain(try listStatement(kind, query: query, scope: scope).statement)
    }

    func explain(_ statement: SQLQueryString) async throws -> [String] {
        try await read { db in
            try await db.raw("EXPLAIN QUERY PLAN " + statement).all().map {
                try $0.decode(column: "detail", as: String.self)
            }
        }
    }

    /// SQLite's plan for a ``count(_:query:scope:)``.
    func countPlan(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> [String] {
        try await explain(try countStatement(kind, query: query, scope: scope))
    }

    /// A row of `<table>_labels`, with the group it carries as the group's id (tests).
    struct StoredLabel: Equatable, Sendable, CustomStringConvertible {
        var seq: Int64
        var key, value: String
        var createdAt: Int64
        var groupID, status: String?
        var description: String { "\(seq) \(key)=\(value) @\(createdAt) \(groupID ?? "-") \(status ?? "-")" }
    }

    /// Every labels row of a kind, by seq and key (tests).
    func storedLabels(_ kind: ResourceKind) async throws -> [StoredLabel] {
        let schema = kind.schema
        let carried = schema.labelsCarried
        let group = carried.contains(where: \.isGroup)
        let status = carried.contains { $0.column == "status" }
        let statement: SQLQueryString = """
            SELECT l.row_seq, l.key, l.value, l.created_at, \(unsafeRaw: group ? "g.id" : "NULL") AS group_id, \(unsafeRaw: status ? "l.status" : "NULL") AS status
            FROM \(unsafeRaw: quoted(schema.table + "_labels")) AS l \(unsafeRaw: group ? "LEFT JOIN \(quoted(ResourceKind.groups.schema.table)) AS g ON g.seq = l.group_seq" : "")
            ORDER BY l.row_seq, l.key
            """
        return try await read { db in
            try await db.raw(statement).all().map { row in
                StoredLabel(
                    seq: try row.decode(column: "row_seq", as: Int64.self),
                    key: try row.decode(column: "key", as: String.self),
                    value: try row.decode(column: "value", as: String.self),
                    createdAt: try row.decode(column: "created_at", as: Int64.self),
                    groupID: try row.decodeNil(column: "group_id")
                        ? nil : try row.decode(column: "group_id", as: String.self),
                    status: try row.decodeNil(column: "status")
                        ? nil : try row.decode(column: "status", as: String.self)
                )
            }
        }
    }

    /// Runs one statement as it is (tests).
    /// Whether the planner has statistics of a table gathered by ANALYZE (tests).
    func hasStatistics(_ table: String) async throws -> Bool {
        let statement: SQLQueryString =
            flavor == .sqlite
            ? "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1' AND EXISTS (SELECT 1 FROM sqlite_stat1 WHERE tbl = \(bind: table))"
            : "SELECT COUNT(*) AS n FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = \(bind: table) AND last_analyze IS NOT NULL"
        return try await read { db in try await db.raw(statement).first()?.decode(column: "n", as: Int.self) ?? 0 } > 0
    }

    /// The store's indexes by name, each with its definition as the database prints it (tests).
    func indexDefinitions() async throws -> [String: String] {
        let statement: SQLQueryString =
            flavor == .sqlite
            ? "SELECT name, sql AS definition FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            : "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE schemaname = current_schema()"
        return try await read { db in
            var out: [String: String] = [:]
            for row in try await db.raw(statement).all() {
                out[try row.decode(column: "name", as: String.self)] = try row.decode(
                    column: "definition",
                    as: String.self
                )
            }
            return out
        }
    }

    func execute(_ statement: SQLQueryString) async throws {
        try await write { db in try await db.raw(statement).run() }
    }

    /// The SELECT of a page (one row more than the limit, to know whether there is a next page).
    private func listStatement(_ kind: ResourceKind, query: Query, scope: Scope) throws
        -> (statement: SQLQueryString, columns: [FieldSpec], keys: [SortKey], limit: Int)
    {
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let keys = try compiler.sortKeys(query)
        let columns = try compiler.columns(for: query, sortKeys: keys)
        let limit = min(max(query.limit ?? defaultPageSize, 0), maxPageSize)
        var conditions: [SQLQueryString] = []
        if let clause = try compiler.whereClause(query, scope: scope) { conditions.append(clause) }
        if let cursor = query.cursor {
            let values = try Cursor.decode(cursor, keys: keys, schema: schema)
            conditions.append(try compiler.keysetCondition(keys, after: values))
        }
        var statement: SQLQueryString =
            "SELECT \(unsafeRaw: columns.map { quoted($0.name) }.joined(separator: ", ")) FROM \(unsafeRaw: quoted(schema.table))"
        if !conditions.isEmpty {
            statement += " WHERE " + conjunction(conditions)
        }
        statement += " ORDER BY " + compiler.orderBy(keys)
        statement += " LIMIT \(bind: limit + 1)"
        if query.cursor == nil, query.offset > 0 { statement += " OFFSET \(bind: query.offset)" }
        return (statement, columns, keys, limit)
    }

    public func count(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        try await read { db in try await count(db, kind, query: query, scope: scope) }
    }

    private func count(_ db: any SQLDatabase, _ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        guard let row = try await db.raw(try countStatement(kind, query: query, scope: scope)).first() else { return 0 }
        return try row.decode(column: "n", as: Int.self)
    }

    /// The count, from the labels rows alone when the query allows (``SQLCompiler/labelsCount(_:scope:)``).
    private func countStatement(_ kind: ResourceKind, query: Query, scope: Scope) throws -> SQLQueryString {
        let compiler = SQLCompiler(flavor: flavor, schema: kind.schema)
        if let labelsCount = try compiler.labelsCount(query, scope: scope) { return labelsCount }
        var statement: SQLQueryString = "SELECT COUNT(*) AS n FROM \(unsafeRaw: compiler.table)"
        if let clause = try compiler.whereClause(query, scope: scope) { statement += " WHERE " + clause }
        return statement
    }

    public func distinct(_ kind: ResourceKind, field: String, query: Query, scope: Scope) async throws -> [Value] {
        try await distinct(kind, field: field, query: query, scope: scope, plan: nil)
    }

    /// How the distinct values of a label are read (see ``distinctLabel(_:_:key:query:scope:limit:plan:)``).
    enum LabelDistinctPlan: CaseIterable {
        /// No filter: a loose index scan of the label's values.
        case scan
        /// Each matching row's label, by primary key.
        case fromRows
        /// Each of the label's values, kept when a matching row has it.
        case walk
        /// Every row of the label, kept when its row matches.
        case whole
    }

    /// ``distinct(_:field:query:scope:)``; for a label, `plan` (tests) forces one plan instead of choosing.
    func distinct(
        _ kind: ResourceKind,
        field: String,
        query: Query,
        scope: Scope,
        plan: LabelDistinctPlan?
    ) async throws -> [Value] {
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let limit = min(max(query.limit ?? maxPageSize, 0), maxPageSize)
        let codec = RowCodec(flavor: flavor, schema: schema)
        if field.hasPrefix("labels."), schema.labelsField != nil {
            let key = String(field.dropFirst("labels.".count))
            guard limit > 0 else { return [] }
            return try await read { db in
                try await distinctLabel(db, compiler, key: key, query: query, scope: scope, limit: limit, plan: plan)
                    .map {
                        try codec.decodeValue($0, column: "v", type: .string)
                    }
            }
        }
        let clause = try compiler.whereClause(query, scope: scope)
        let spec = try compiler.filterField(field)
        guard spec.sortable else {
            throw ProctorError.unknownField(field, valid: schema.sortableNames, role: "distinct field")
        }
        var statement: SQLQueryString =
            "SELECT DISTINCT \(unsafeRaw: quoted(spec.name)) AS v FROM \(unsafeRaw: compiler.table)"
        if let clause { statement += " WHERE " + clause }
        statement += " ORDER BY v LIMIT \(bind: limit)"
        return try await read { db in
            try await db.raw(statement).all().map { try codec.decodeValue($0, column: "v", type: spec.type) }
        }
    }

    /// Matching rows up to which a label's distinct values are read from those rows' labels.
    static let distinctFromRows = 10_000
    /// Distinct values up to which a label's values are walked one by one, each checked for a matching row.
    static let distinctWalk = 10_000

    /// The distinct values of a label among the matching rows, by the cheapest of the ``LabelDistinctPlan``s:
    /// no filter, a loose index scan of the label's values; few matching rows (at most ``distinctFromRows``),
    /// each row's label by primary key; else each of the label's values (at most ``distinctWalk`` of them) kept
    /// when one matching row has it, checked on what the labels rows carry where possible. A label with more
    /// values than that is read whole.
    private func distinctLabel(
        _ db: any SQLDatabase,
        _ compiler: SQLCompiler,
        key: String,
        query: Query,
        scope: Scope,
        limit: Int,
        plan forced: LabelDistinctPlan?
    ) async throws -> [any SQLRow] {
        let clause = try compiler.whereClause(query, scope: scope)
        var plan = forced ?? .scan
        if forced == nil, let clause {
            let few: SQLQueryString =
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM \(unsafeRaw: compiler.table) WHERE " + clause
                + " LIMIT \(bind: Self.distinctFromRows + 1)) AS m"
            if try await db.raw(few).first()?.decode(column: "n", as: Int.self) ?? 0 <= Self.distinctFromRows {
                plan = .fromRows
            } else {
                let values =
                    try await db.raw(compiler.labelValueCount(key, cap: Self.distinctWalk)).first()?
                    .decode(column: "n", as: Int.self) ?? 0
                plan = values <= Self.distinctWalk ? .walk : .whole
            }
        }
        let statement: SQLQueryString
        switch (plan, clause) {
        case (_, nil), (.scan, _):
            guard clause == nil else { throw ProctorError(.internal, "a label scan takes no filter") }
            statement = compiler.labelValues(key, matching: nil, limit: limit)
        case (.fromRows, let clause?):
            statement = compiler.labelValues(key, ofRowsMatching: clause, limit: limit)
        case (.walk, _):
            statement = compiler.labelValues(
                key,
                matching: try compiler.labelsRowCondition(query, scope: scope),
                limit: limit
            )
        case (.whole, let clause?):
            statement =
                "SELECT DISTINCT value AS v FROM \(unsafeRaw: compiler.labelsTable) WHERE key = \(bind: key)"
                + " AND row_seq IN (SELECT seq FROM \(unsafeRaw: compiler.table) WHERE " + clause
                + ") ORDER BY v LIMIT \(bind: limit)"
        }
        return try await db.raw(statement).all()
    }
}

/// True exactly once.
private final class OneShot: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false
    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if claimed { return false }
        claimed = true
        return true
    }
}

/// Hands out distinct connection ids for PostgreSQL logs.
private final class ConnectionCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

/// `REGEXP` for SQLite (PostgreSQL has `~` built in). `(?i)` at the start makes it case-insensitive.
let regexpFunction = SQLiteCustomFunction("regexp", argumentCount: 2, pure: true) { args in
    guard case .text(let pattern) = args[0] else { return nil }
    guard case .text(let text) = args[1] else { return false }
    guard let regex = RegexCache.shared.regex(pattern) else { return false }
    let range = NSRange(text.startIndex..., in: text)
    return regex.firstMatch(in: text, range: range) != nil
}

/// Compiled regular expressions, so that a filter is compiled once, not once per row.
final class RegexCache: @unchecked Sendable {
    static let shared = RegexCache()
    private let lock = NSLock()
    private var cache: [String: NSRegularExpression] = [:]

    func regex(_ pattern: String) -> NSRegularExpression? {
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[pattern] { return hit }
        guard let compiled = try? NSRegularExpression(pattern: pattern) else { return nil }
        if cache.count > 256 { cache.removeAll() }
        cache[pattern] = compiled
        return compiled
    }
}

func describe(_ error: any Error) -> String {
    String(reflecting: error)
}

func redacted(_ url: String) -> String {
    guard var components = URLComponents(string: url) else { return "the given URL" }
    if components.password != nil { components.password = "***" }
    return components.string ?? "the given URL"
}

/// The shared counter behind ``SQLStore/accessGeneration`` (one per opened store, shared by its transactions).
/// When SQLite's statistics are next due for a refresh (see ``SQLStore/refreshStatistics()``).
final class StatisticsSchedule: Sendable {
    static let interval: Int64 = 3_600_000_000
    private let next = Atomic<Int64>(Timestamp.now() + interval)

    /// True for one caller once the time has come; schedules the next.
    func claim(now: Int64 = Timestamp.now()) -> Bool {
        let due = next.load(ordering: .acquiring)
        guard now >= due else { return false }
        return next.compareExchange(expected: due, desired: now + Self.interval, ordering: .acquiringAndReleasing)
            .exchanged
    }
}

final class AccessGenerationCounter: Sendable {
    /// The kinds whose rows decide who a caller is and what it may do.
    static let kinds: Set<ResourceKind> = [.users, .tokens, .memberships, .groups, .remotecis]
    private let counter = Atomic<UInt64>(0)

    var value: UInt64 { counter.load(ordering: .acquiring) }
    func bump() { counter.add(1, ordering: .releasing) }
}
