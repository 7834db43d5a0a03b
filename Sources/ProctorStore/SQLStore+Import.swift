import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import ProctorCore
import SQLKit
import SQLiteKit
import Synchronization

/// Bulk paths: `insertMany` in multi-row statements and `importRecords` in batches (SQLite's direct import).
extension SQLStore {
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
    /// once per row (see ``SQLiteDirectImport``). On PostgreSQL each batch is a `COPY … FROM STDIN` (see
    /// ``PostgresCopyImport``), in the caller's transaction or one of its own; inside a transaction on SQLite, it
    /// is multi-row INSERTs.
    ///
    /// - Returns: how many rows were imported.
    @discardableResult
    public func importRecords<Batches: AsyncSequence>(_ kind: ResourceKind, _ batches: Batches) async throws -> Int
    where Batches.Element == [Record] {
        var iterator = batches.makeAsyncIterator()
        return try await importRecords(kind) { try await iterator.next() }
    }

    func importRecords(_ kind: ResourceKind, next: () async throws -> [Record]?) async throws -> Int {
        defer { wrote(kind) }
        let layout = InsertLayout.of(kind)
        let count: Int
        if pinned == nil, flavor == .sqlite, let sqlitePath {
            count = try await importDirectly(layout, path: sqlitePath, next: next)
        } else {
            count = try await inTransaction { db in
                if let session = db as? PostgresSession {
                    return try await importCopying(layout, on: session, next: next)
                }
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
    /// PostgreSQL's tables are vacuumed too, as autovacuum would do later: until their visibility map is set, an
    /// index-only scan still reads every row it counts from the table (a count of 307,858 freshly imported runs
    /// took 235 ms, against 134 ms once vacuumed).
    func analyze(_ kind: ResourceKind) async throws {
        switch flavor {
        case .sqlite:
            try await refreshStatistics()
        case .postgres:
            let schema = kind.schema
            var tables = [quoted(schema.table)]
            if schema.labelsField != nil { tables.append(quoted(schema.table + "_labels")) }
            try await mapErrors {
                try await writers.withSession { db in
                    try await db.raw(SQLQueryString("VACUUM (ANALYZE) " + tables.joined(separator: ", "))).run()
                }
            }
        }
    }

    /// An import on SQLite outside a transaction: ``SQLiteDirectImport`` writes each batch on the thread pool while
    /// the next is read and prepared here, so both cores work. The writer session is held throughout, so this
    /// process's other writes wait for the import instead of for the file lock.
    func importDirectly(_ layout: InsertLayout, path: String, next: () async throws -> [Record]?) async throws
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

    /// An import on PostgreSQL, in the transaction `session` holds: each batch copied (``PostgresCopyImport``)
    /// while the next is read and encoded in a task of its own.
    func importCopying(
        _ layout: InsertLayout,
        on session: PostgresSession,
        next: () async throws -> [Record]?
    ) async throws -> Int {
        var copier = try await PostgresCopyImport(layout: layout, session: session)
        var count = 0
        var pending: Task<PostgresCopyImport.Encoded, any Error>?
        // An import in a transaction of its own, into a table of no more rows than a large import brings, defers
        // the tables' indexes and foreign keys until its rows are in (``PostgresCopyImport/DeferredChecks``) once it
        // is large: rebuilding them then costs at most about twice what the import writes.
        var fewRowsBefore = false
        if pinned == nil {
            fewRowsBefore = try await copier.existingRows(upTo: Self.importAnalyzedFrom + 1) <= Self.importAnalyzedFrom
        }
        var deferred: PostgresCopyImport.DeferredChecks?
        var written = 0
        do {
            while true {
                var encoding: Task<PostgresCopyImport.Encoded, any Error>?
                if let batch = try await next() {
                    // The session is idle here: what the encoding needs from the database is read first.
                    let seqs = try await copier.readyBatch(batch)
                    let ready = copier
                    let now = Timestamp.now()
                    encoding = Task { try ready.encode(batch, seqs: seqs, now: now) }
                    count += batch.count
                }
                let previous = pending
                pending = encoding
                if let previous {
                    let batch = try await previous.value
                    written += batch.count
                    if deferred == nil, fewRowsBefore, written >= Self.importAnalyzedFrom {
                        deferred = try await copier.dropChecks()
                    }
                    try await copier.write(batch)
                }
                if encoding == nil { break }
            }
            if let deferred { try await copier.restore(deferred) }
        } catch {
            _ = try? await pending?.value
            throw error
        }
        return count
    }

    /// Writes prepared rows (``RowCodec/prepareRow(_:layout:now:)``) and their labels with SQLKit, on a session
    /// that holds the write transaction (PostgreSQL's bulk path).
    func insertRows(_ rows: [[Value]], layout: InsertLayout, on db: any SQLDatabase) async throws {
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
}
