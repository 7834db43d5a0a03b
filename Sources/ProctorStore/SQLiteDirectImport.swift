import ProctorCore
import SQLiteNIO
// The C library SQLiteNIO links; see SQLitePointReader for why it must be that copy.
import VaporCSQLite

/// An import into SQLite (``SQLStore/importRecords(_:_:)``) through SQLite's C API, on a connection of its own:
/// one INSERT for the rows and one for their labels, prepared once and stepped per row.
///
/// Why: a bulk load is SQLite's b-trees and little else when the statements are not parsed again. Through
/// SQLiteNIO every statement is prepared afresh and crosses to its thread pool, and multi-row statements that
/// parse quickly enough need large bind arrays built for each; a million runs spent a quarter of SQLite's
/// thread on that. The store holds its writer session for the whole import, so no other write of this process
/// waits on the file lock; the connection's transaction is `BEGIN IMMEDIATE`, so another process's writer is
/// refused at once or waited for (busy timeout), never interleaved.
///
/// Foreign keys are off on this connection: each batch's references are checked once per distinct value
/// (``check(_:)``), as the database would check them once per row. The first failure rolls everything back.
/// Used by one task at a time (the import awaits each batch before it sends the next).
final class SQLiteDirectImport: @unchecked Sendable {
    private var handle: OpaquePointer?
    private var insert: OpaquePointer?
    private var insertLabels: OpaquePointer?
    /// `SELECT seq … WHERE id = ?` for each table a field refers to: a row proves the reference, and a group's seq
    /// is what its runs' labels rows carry.
    private var seqOf: [String: OpaquePointer] = [:]
    private var groupSeqs: [String: Int64] = [:]
    private var checked: [String: Set<String>] = [:]
    private let labelsIndex: Int?
    private let createdIndex: Int?
    private let carried: [(column: CarriedColumn, index: Int?)]
    private let references: [(index: Int, field: FieldSpec, target: ResourceSchema)]

    /// Opens the connection and begins the transaction.
    init(path: String, layout: InsertLayout) throws {
        let schema = layout.schema
        labelsIndex = schema.labelsField.flatMap { layout.position[$0.name] }
        createdIndex = layout.position["created_at"]
        carried = schema.labelsCarried.map { ($0, layout.position[$0.field]) }
        references = layout.fields.enumerated().compactMap { index, field in
            Migrations.references(field).map { (index, field, $0) }
        }
        var db: OpaquePointer?
        guard sqlite_nio_sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
            let db
        else {
            let message = db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite_nio_sqlite3_close_v2(db)
            throw ProctorError(.unavailable, "cannot open \(path) for an import: \(message)")
        }
        handle = db
        do {
            sqlite_nio_sqlite3_busy_timeout(db, 10_000)
            // As the store's own connections, except foreign keys (checked per batch) and the cache: what does not
            // fit is written to the WAL early, and a small cache that stays in the CPU's caches beat larger ones
            // (a million runs: 16 MiB 20 s; 64 MiB 22 s; 1 GiB 25 s; 4 MiB 28 s).
            for pragma in [
                "PRAGMA foreign_keys = OFF", "PRAGMA synchronous = NORMAL", "PRAGMA cache_size = -16384",
                "PRAGMA temp_store = MEMORY",
                "BEGIN IMMEDIATE",
            ] {
                try execute(pragma)
            }
            let columns = layout.fields.map { quoted($0.name) }
            insert = try prepare(
                "INSERT INTO \(quoted(schema.table)) (\(columns.joined(separator: ", "))) VALUES ("
                    + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
            )
            if labelsIndex != nil {
                let codec = RowCodec(flavor: .sqlite, schema: schema)
                insertLabels = try prepare(
                    "INSERT INTO \(codec.labelsTable) (\(codec.labelsColumns.joined(separator: ", "))) VALUES ("
                        + Array(repeating: "?", count: codec.labelsColumns.count).joined(separator: ", ") + ")"
                )
            }
            for (_, _, target) in references where seqOf[target.table] == nil {
                seqOf[target.table] = try prepare("SELECT seq FROM \(quoted(target.table)) WHERE id = ?")
            }
        } catch {
            close()
            throw error
        }
    }

    /// A batch readied where it is read (the importing task), so that the writing thread, the import's bottleneck,
    /// only binds and steps: JSON and list columns already encoded, labels split into pairs, references gathered.
    struct Batch: Sendable {
        fileprivate var rows: [[Value]]
        fileprivate var labels: [[(key: String, value: String)]]
        /// The distinct ids each reference field names, in ``references`` order.
        fileprivate var referenced: [Set<String>]
        var count: Int { rows.count }
    }

    /// Readies prepared rows (``RowCodec/prepareRow(_:layout:now:)``) for ``write(_:)``. It reads only what
    /// ``init(path:layout:)`` set, so it may run while a batch before is being written.
    func batch(_ prepared: [[Value]]) -> Batch {
        var rows = prepared
        var labels: [[(key: String, value: String)]] = []
        if let labelsIndex { labels = rows.map { RowCodec.labelsValues(of: $0[labelsIndex]) } }
        for row in rows.indices {
            for column in rows[row].indices {
                switch rows[row][column] {
                case .json(let json): rows[row][column] = .string(json.encodedString())
                case .strings(let list):
                    rows[row][column] = .string(JSONValue.array(list.map { .string($0) }).encodedString())
                default: break
                }
            }
        }
        let referenced = references.map { reference in
            Set(
                rows.compactMap { row -> String? in
                    if case .string(let id) = row[reference.index] { return id } else { return nil }
                }
            )
        }
        return Batch(rows: rows, labels: labels, referenced: referenced)
    }

    /// Writes a batch and its labels.
    func write(_ batch: Batch) throws {
        try check(batch.referenced)
        guard let insert else { throw closedError }
        for (position, row) in batch.rows.enumerated() {
            for (index, value) in row.enumerated() { try bind(insert, Int32(index + 1), value) }
            try stepDone(insert)
            guard let insertLabels, position < batch.labels.count, !batch.labels[position].isEmpty else { continue }
            let seq = sqlite_nio_sqlite3_last_insert_rowid(handle)
            let created = createdIndex.flatMap { row[$0].intValue } ?? Timestamp.now()
            let extra: [Value] = carried.map { column, index in
                guard let index else { return .null }
                if column.isGroup { return row[index].stringValue.flatMap { groupSeqs[$0] }.map { .int($0) } ?? .null }
                return row[index]
            }
            for (key, value) in batch.labels[position] {
                sqlite_nio_sqlite3_bind_int64(insertLabels, 1, seq)
                try bind(insertLabels, 2, .string(key))
                try bind(insertLabels, 3, .string(value))
                sqlite_nio_sqlite3_bind_int64(insertLabels, 4, created)
                for (offset, value) in extra.enumerated() { try bind(insertLabels, Int32(5 + offset), value) }
                try stepDone(insertLabels)
            }
        }
    }

    func commit() throws {
        try execute("COMMIT")
        close()
    }

    /// Rolls back what was written (when the transaction is still open) and closes.
    func rollback() {
        if let handle, sqlite_nio_sqlite3_get_autocommit(handle) == 0 {
            sqlite_nio_sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
        }
        close()
    }

    /// Every distinct reference of the batch names an existing row, as foreign keys would require; a labels row
    /// needs its group's seq, which the same lookup gives. Each value is looked up once per import.
    private func check(_ referenced: [Set<String>]) throws {
        for ((_, field, target), ids) in zip(references, referenced) {
            guard let statement = seqOf[target.table] else { continue }
            var seen = checked[field.name] ?? []
            for id in ids.sorted() where !seen.contains(id) {
                guard let seq = try lookup(statement, id) else {
                    throw ProctorError.conflict(
                        "'\(field.name)' refers to a \(target.kind.singular) that does not exist",
                        field: field.name
                    )
                }
                seen.insert(id)
                if field.name == "group_id" { groupSeqs[id] = seq }
            }
            checked[field.name] = seen
        }
    }

    /// The first column of the statement's row for `id`, or nil when there is none.
    private func lookup(_ statement: OpaquePointer, _ id: String) throws -> Int64? {
        defer { sqlite_nio_sqlite3_reset(statement) }
        try bind(statement, 1, .string(id))
        switch sqlite_nio_sqlite3_step(statement) {
        case SQLITE_ROW: return sqlite_nio_sqlite3_column_int64(statement, 0)
        case SQLITE_DONE: return nil
        default: throw failure()
        }
    }

    private func bind(_ statement: OpaquePointer, _ index: Int32, _ value: Value) throws {
        let result: Int32
        switch value {
        case .null: result = sqlite_nio_sqlite3_bind_null(statement, index)
        case .string(let text): result = bindText(statement, index, text)
        case .int(let number), .timestamp(let number):
            result = sqlite_nio_sqlite3_bind_int64(statement, index, Int64(number))
        case .double(let number): result = sqlite_nio_sqlite3_bind_double(statement, index, number)
        case .bool(let flag): result = sqlite_nio_sqlite3_bind_int64(statement, index, flag ? 1 : 0)
        case .strings(let list):
            result = bindText(statement, index, JSONValue.array(list.map { .string($0) }).encodedString())
        case .json(let json): result = bindText(statement, index, json.encodedString())
        }
        guard result == SQLITE_OK else { throw failure() }
    }

    private func bindText(_ statement: OpaquePointer, _ index: Int32, _ text: String) -> Int32 {
        // The length given, so a NUL inside the text is kept; SQLITE_TRANSIENT: SQLite copies the bytes.
        text.withCString { bytes in
            sqlite_nio_sqlite3_bind_text(
                statement,
                index,
                bytes,
                Int32(text.utf8.count),
                unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            )
        }
    }

    private func stepDone(_ statement: OpaquePointer) throws {
        let result = sqlite_nio_sqlite3_step(statement)
        sqlite_nio_sqlite3_reset(statement)
        guard result == SQLITE_DONE else { throw failure() }
    }

    private func execute(_ sql: String) throws {
        guard sqlite_nio_sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw failure() }
    }

    private func prepare(_ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard
            sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
                == SQLITE_OK,
            let statement
        else {
            sqlite_nio_sqlite3_finalize(statement)
            throw failure()
        }
        return statement
    }

    /// The connection's last error, as the store reports driver errors: a constraint is a conflict.
    private func failure() -> ProctorError {
        let message =
            handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "the import's connection is closed"
        let code = handle.map { sqlite_nio_sqlite3_errcode($0) } ?? SQLITE_MISUSE
        if code == SQLITE_CONSTRAINT && message.contains("UNIQUE") {
            return .conflict("a row with the same identity already exists")
        }
        return ProctorError(.unavailable, "the store failed: \(message.prefix(200))")
    }

    private var closedError: ProctorError { ProctorError(.unavailable, "the import's connection is closed") }

    private func close() {
        for statement in [insert, insertLabels].compactMap({ $0 }) + seqOf.values {
            sqlite_nio_sqlite3_finalize(statement)
        }
        insert = nil
        insertLabels = nil
        seqOf.removeAll()
        sqlite_nio_sqlite3_close_v2(handle)
        handle = nil
    }

    deinit {
        if handle != nil { rollback() }
    }
}
