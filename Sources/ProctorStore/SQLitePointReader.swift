import Foundation
import ProctorCore
import SQLiteNIO
import Synchronization
// The C library SQLiteNIO links (its vendored copy of SQLite, with prefixed names). Using that copy, and not a
// second SQLite, matters: SQLite keeps its POSIX file locks per process in a table private to one library copy,
// and a second copy closing its descriptor on the same file would drop the first copy's locks.
import VaporCSQLite

/// Reads one row by its id straight from SQLite, on the caller's thread, with a statement prepared once.
///
/// Why: through SQLiteNIO every query hops to its thread pool and back and prepares its SQL afresh, which for a
/// 55-column row costs more than the read itself; `GET /runs/{id}` is the API's hottest call. A read of one row by
/// its unique key answers from SQLite's page cache in microseconds, so it runs inline on its own small set of
/// connections (WAL readers never wait for the writer). Anything it cannot answer at once (no idle connection,
/// a busy or failing database) it leaves to the regular path, which reports errors as usual.
final class SQLitePointReader: Sendable {
    /// What a point read found, or that it could not decide.
    enum PointRead<Found> {
        case found(Found)
        case missing
        case undecided
    }

    typealias Outcome = PointRead<Record>
    /// A row's public JSON and its etag.
    typealias JSONOutcome = PointRead<(json: [UInt8], etag: String)>

    private let path: String
    private let capacity: Int
    private let state = Mutex<State>(State())

    private struct State: ~Copyable {
        var idle: [PointConnection] = []
        var opened = 0
        var isShutDown = false
    }

    init(path: String, capacity: Int) {
        self.path = path
        self.capacity = max(1, capacity)
    }

    /// The row of `kind` with this id, when `scope` may see it.
    func get(_ kind: ResourceKind, id: String, scope: Scope) -> Outcome {
        guard let connection = lease() else { return .undecided }
        let outcome = connection.row(of: kind.schema, id: id)
        giveBack(connection)
        if case .found(let record) = outcome, !scope.admits(record, schema: kind.schema) { return .missing }
        return outcome
    }

    /// The public JSON and etag of the row of `kind` with this id, when `scope` may see it: the JSON `cache` keeps
    /// for the row while its etag is unchanged, else written from the row and kept.
    func json(_ kind: ResourceKind, id: String, scope: Scope, cache: RowJSONCache) -> JSONOutcome {
        guard let connection = lease() else { return .undecided }
        defer { giveBack(connection) }
        return connection.json(of: kind.schema, id: id, scope: scope, cache: cache)
    }

    private func lease() -> PointConnection? {
        let claim: (connection: PointConnection?, mayOpen: Bool) = state.withLock { state in
            if state.isShutDown { return (nil, false) }
            if let connection = state.idle.popLast() { return (connection, false) }
            guard state.opened < capacity else { return (nil, false) }
            state.opened += 1
            return (nil, true)
        }
        if let connection = claim.connection { return connection }
        guard claim.mayOpen else { return nil }
        if let connection = PointConnection(path: path) { return connection }
        state.withLock { $0.opened -= 1 }
        return nil
    }

    private func giveBack(_ connection: PointConnection) {
        let keep = state.withLock { state in
            if state.isShutDown || connection.isBroken {
                state.opened -= 1
                return false
            }
            state.idle.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// Closes the idle connections; one in use is closed when it comes back.
    func shutdown() {
        let idle = state.withLock { state in
            state.isShutDown = true
            state.opened -= state.idle.count
            defer { state.idle.removeAll() }
            return state.idle
        }
        for connection in idle { connection.close() }
    }
}

extension Scope {
    /// Whether a row of `schema` is visible in this scope: the rule `SQLCompiler.whereClause` writes as SQL.
    func admits(_ record: Record, schema: ResourceSchema) -> Bool {
        guard let groups = groupIDs, schema.grouped else { return true }
        guard let group = record.groupID else { return false }
        return groups.contains(group)
    }
}

/// One SQLite connection of the point reader, used by one caller at a time (the reader's lease guarantees it).
private final class PointConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// Prepared `SELECT … WHERE id = ?` statements by table.
    private var statements: [String: OpaquePointer] = [:]
    private(set) var isBroken = false

    init?(path: String) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        guard sqlite_nio_sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            sqlite_nio_sqlite3_close_v2(db)
            return nil
        }
        handle = db
        sqlite_nio_sqlite3_busy_timeout(db, 1000)
        // Reads only: a mistake here can never write.
        guard sqlite_nio_sqlite3_exec(db, "PRAGMA query_only = 1", nil, nil, nil) == SQLITE_OK else {
            close()
            return nil
        }
    }

    func close() {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
        statements.removeAll()
        sqlite_nio_sqlite3_close_v2(handle)
        handle = nil
    }

    private func statement(for schema: ResourceSchema) -> OpaquePointer? {
        if let prepared = statements[schema.table] { return prepared }
        let columns = schema.fields.map { quoted($0.name) }.joined(separator: ", ")
        let sql = "SELECT \(columns) FROM \(quoted(schema.table)) WHERE \"id\" = ?1"
        var prepared: OpaquePointer?
        guard
            sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
                == SQLITE_OK,
            let prepared
        else {
            sqlite_nio_sqlite3_finalize(prepared)
            return nil
        }
        statements[schema.table] = prepared
        return prepared
    }

    func row(of schema: ResourceSchema, id: String) -> SQLitePointReader.Outcome {
        read(schema, id: id) { statement in
            // The statement selects every field in schema order: column i is the record's position i.
            var record = Record(schema.kind)
            let cursor = SQLiteCursor(statement: statement)
            for (index, field) in schema.fields.enumerated() {
                record[position: index] = RowCodec.value(cursor.data(Int32(index)), type: field.type)
            }
            return .found(record)
        }
    }

    func json(of schema: ResourceSchema, id: String, scope: Scope, cache: RowJSONCache)
        -> SQLitePointReader.JSONOutcome
    {
        read(schema, id: id) { statement in
            // Column i is the field at position i, as in `row(of:id:)`.
            let row = SQLiteScannedRow(statement: statement)
            // The scope first, on a kept row too: `Scope.admits` read from the row's group column.
            if let groups = scope.groupIDs, schema.grouped {
                guard let position = schema.groupPosition, let group = row.string(position), groups.contains(group)
                else { return .missing }
            }
            if let entry = cache.entry(schema.kind, id: id), row.textEquals(schema.etagPosition, entry.etag) {
                return .found((json: entry.json, etag: String(decoding: entry.etag, as: UTF8.self)))
            }
            let etag = row.string(schema.etagPosition) ?? ""
            var json: [UInt8] = []
            json.reserveCapacity(2048)
            KindSQL.of(schema.kind).wholeRowLayout.write(row, into: &json)
            cache.keep(schema.kind, [(id: id, etag: etag, json: json)])
            return .found((json: json, etag: etag))
        }
    }

    /// Steps the kind's `SELECT … WHERE id = ?` on `id` and lets `found` read the row while the statement stands
    /// on it.
    private func read<Found>(
        _ schema: ResourceSchema,
        id: String,
        _ found: (OpaquePointer) -> SQLitePointReader.PointRead<Found>
    ) -> SQLitePointReader.PointRead<Found> {
        guard let statement = statement(for: schema) else { return .undecided }
        defer {
            sqlite_nio_sqlite3_reset(statement)
            sqlite_nio_sqlite3_clear_bindings(statement)
        }
        let step: Int32 = id.withCString { text in
            // SQLITE_STATIC (nil): the text outlives the step, which is the only use of the bind.
            guard sqlite_nio_sqlite3_bind_text(statement, 1, text, -1, nil) == SQLITE_OK else { return SQLITE_ERROR }
            return sqlite_nio_sqlite3_step(statement)
        }
        switch step {
        case SQLITE_ROW:
            return found(statement)
        case SQLITE_DONE:
            return .missing
        case SQLITE_BUSY, SQLITE_LOCKED:
            return .undecided
        default:
            isBroken = true
            return .undecided
        }
    }

    deinit {
        if handle != nil { close() }
    }
}
