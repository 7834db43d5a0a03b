import Foundation
import Logging
import NIOCore
import NIOPosix
import ProctorCore
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
// The C library SQLiteNIO links; see SQLitePointReader for why it must be that copy.
import VaporCSQLite

/// A SQLite connection of the store, spoken to through SQLite's C API on NIO's thread pool, with each statement
/// prepared once and kept.
///
/// Why: SQLiteNIO prepares every statement afresh and hands each row back to an event loop as its own task. A
/// write of a run is five statements (savepoint, insert, labels, release, commit) and a group commit runs
/// hundreds of them in a row on the single writer, so preparing them again was an eighth of a write load's CPU;
/// a page of jobs with its embedded rows is seven queries and a few hundred rows. Here a statement is looked up
/// by its text, rows are read in place, and the records of a page are decoded by position on the pool's thread
/// (SQLKit's rows are by-name lookups, three per column, each hashing the name).
///
/// One statement runs at a time (the connection's lock); the store's session pool gives a connection to one
/// caller at a time anyway.
final class SQLiteSession: SQLDatabase, @unchecked Sendable {
    let logger: Logger
    let eventLoop: any EventLoop
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    /// The most statements one connection keeps prepared; the oldest goes first (texts that embed a list's
    /// length, like `IN (?, ?, …)`, come in many variants).
    static let statementCapacity = 256

    private let threadPool: NIOThreadPool
    /// Whether statements inside a write transaction run on the caller's thread (the store's writer).
    private let inlineInTransaction: Bool
    /// The store's writer only: who copies the WAL ahead of its commits (SQLite's WAL hook tells it, through this
    /// reference, as long as the connection is open).
    private let checkpointer: WALCheckpointer?
    private let state: Mutex<State>

    private struct State: ~Copyable {
        var handle: OpaquePointer?
        var statements: [String: OpaquePointer] = [:]
        var preparedOrder: [String] = []
    }

    private init(
        handle: SQLiteHandle,
        logger: Logger,
        threadPool: NIOThreadPool,
        inlineInTransaction: Bool,
        checkpointer: WALCheckpointer?
    ) {
        self.state = Mutex(State(handle: handle.raw))
        self.inlineInTransaction = inlineInTransaction
        self.checkpointer = checkpointer
        self.logger = logger
        self.threadPool = threadPool
        self.eventLoop = MultiThreadedEventLoopGroup.singleton.any()
    }

    /// Opens (creating if needed) the database file at `path`, with `REGEXP` installed.
    ///
    /// With `inlineInTransaction` (the store's single writer), a statement inside a write transaction other than
    /// its COMMIT or ROLLBACK runs on the caller's thread: the connection then holds SQLite's write lock (a
    /// `BEGIN IMMEDIATE` or a first write took it), so the statement never waits for another connection, and a write's few statements cost microseconds each where
    /// a crossing to the pool and back cost more. BEGIN (which may wait for the lock) and COMMIT (which may
    /// checkpoint the WAL into the database) still cross.
    ///
    /// With `checkpointer`, commits on this connection have it copy the WAL ahead of them (see ``WALCheckpointer``);
    /// the connection shuts it down when it closes.
    static func open(
        path: String,
        logger: Logger,
        inlineInTransaction: Bool = false,
        checkpointer: WALCheckpointer? = nil,
        threadPool: NIOThreadPool = .singleton
    ) async throws -> SQLiteSession {
        let handle: SQLiteHandle
        do {
            handle = try await openHandle(path: path, checkpointer: checkpointer, threadPool: threadPool)
        } catch {
            await checkpointer?.shutdown()
            throw error
        }
        return SQLiteSession(
            handle: handle,
            logger: logger,
            threadPool: threadPool,
            inlineInTransaction: inlineInTransaction,
            checkpointer: checkpointer
        )
    }

    private static func openHandle(path: String, checkpointer: WALCheckpointer?, threadPool: NIOThreadPool)
        async throws -> SQLiteHandle
    {
        try await threadPool.runIfActive { () throws -> SQLiteHandle in
            var db: OpaquePointer?
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
            guard sqlite_nio_sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
                let message = db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
                sqlite_nio_sqlite3_close_v2(db)
                throw SQLiteFailure(code: SQLITE_CANTOPEN, message: "cannot open \(path): \(message)")
            }
            let installed = sqlite_nio_sqlite3_create_function_v2(
                db,
                "regexp",
                2,
                SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                nil,
                regexpMatches,
                nil,
                nil,
                nil
            )
            guard installed == SQLITE_OK else {
                let failure = SQLiteFailure(db, code: installed)
                sqlite_nio_sqlite3_close_v2(db)
                throw failure
            }
            if let checkpointer {
                // In place of SQLite's automatic checkpoint on this connection. Unretained: the session keeps the
                // checkpointer until the connection is closed.
                _ = sqlite_nio_sqlite3_wal_hook(db, walHook, Unmanaged.passUnretained(checkpointer).toOpaque())
            }
            return SQLiteHandle(raw: db)
        }
    }

    var isClosed: Bool { state.withLock { $0.handle == nil } }

    /// How many statements the connection keeps prepared (tests).
    var preparedCount: Int { state.withLock { $0.statements.count } }

    /// How many times SQLite prepared the kept statements again after their first preparation (tests): a
    /// statement is re-prepared when the schema changes or a value bound to it may change its plan.
    var repreparedCount: Int {
        state.withLock { state in
            state.statements.values.reduce(0) {
                $0 + Int(sqlite_nio_sqlite3_stmt_status($1, Int32(SQLITE_STMTSTATUS_REPREPARE), 0))
            }
        }
    }

    func close() async {
        try? await threadPool.runIfActive {
            self.state.withLock { state in
                for statement in state.statements.values { sqlite_nio_sqlite3_finalize(statement) }
                state.statements.removeAll()
                state.preparedOrder.removeAll()
                sqlite_nio_sqlite3_close_v2(state.handle)
                state.handle = nil
            }
        }
        await checkpointer?.shutdown()
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void)
        -> EventLoopFuture<Void>
    {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        let data = try Self.encode(binds)
        let rows = try await perform(sql) { () throws -> [SQLiteSessionRow] in
            var rows: [SQLiteSessionRow] = []
            var names: SQLiteSessionRow.Columns?
            try self.run(sql, data) { cursor in
                let columns = names ?? cursor.columns()
                names = columns
                rows.append(SQLiteSessionRow(columns: columns, values: cursor.values()))
            }
            return rows
        }
        for row in rows { onRow(row) }
    }

    /// The rows of a SELECT whose columns are exactly `fields`, in that order, as records of `kind`, decoded by
    /// position on the pool's thread.
    func records(_ statement: any SQLExpression, kind: ResourceKind, fields: [FieldSpec]) async throws -> [Record] {
        let (sql, binds) = serialize(statement)
        let data = try Self.encode(binds)
        return try await perform(sql) { () throws -> [Record] in
            var records: [Record] = []
            let positions = RowCodec.positions(of: fields, in: kind)
            try self.run(sql, data) { cursor in records.append(cursor.record(kind, fields: fields, at: positions)) }
            return records
        }
    }

    /// Folds the rows of a SELECT into `state` on the pool's thread, each read in place (``SQLiteScannedRow``).
    func scan<State: Sendable>(
        _ statement: any SQLExpression,
        into state: State,
        _ body: @escaping @Sendable (inout State, any ScannedRow) throws -> Void
    ) async throws -> State {
        let (sql, binds) = serialize(statement)
        let data = try Self.encode(binds)
        return try await perform(sql) { () throws -> State in
            var state = state
            try self.run(sql, data) { cursor in try body(&state, SQLiteScannedRow(statement: cursor.statement)) }
            return state
        }
    }

    /// Runs `body` (which runs `sql`) on the pool's thread, or at once where ``open(path:logger:inlineInTransaction:threadPool:)``
    /// says it may.
    private func perform<T: Sendable>(_ sql: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        if inlineInTransaction, let result = try inPlace(sql, body) { return result }
        return try await threadPool.runIfActive(body)
    }

    /// The writer's statements that run on the caller's thread, or nil for one that must cross to the pool.
    ///
    /// - Inside the write transaction (the connection holds SQLite's write lock, so nothing waits): every
    ///   statement but ROLLBACK, and COMMIT too unless the WAL is due for the checkpoint that restarts it (see
    ///   ``WALCheckpointer``). With `synchronous = NORMAL` a WAL commit appends its pages and syncs nothing, so it
    ///   costs less than the two thread hand-offs of a crossing; the checkpoint, which syncs both files, is left to
    ///   a commit on the pool.
    /// - `BEGIN IMMEDIATE`, when the write lock is free (no other process's writer, no import): tried here
    ///   without waiting, and left to the pool, which waits up to the busy timeout, only when the lock is taken.
    private func inPlace<T>(_ sql: String, _ body: () throws -> T) throws -> T? {
        if sql.hasPrefix("BEGIN") { return try beginWithoutWaiting(body) }
        guard !sql.hasPrefix("ROLLBACK"), holdsTheWriteLock else { return nil }
        guard sql.hasPrefix("COMMIT") else { return try body() }
        guard let checkpointer else { return try body() }
        return try checkpointer.commitInPlace(body)
    }

    /// Runs a BEGIN with SQLite's busy timeout off: nil (nothing begun) when another connection holds the lock.
    private func beginWithoutWaiting<T>(_ body: () throws -> T) throws -> T? {
        let handle = state.withLock { $0.handle }
        guard let handle else { return nil }
        sqlite_nio_sqlite3_busy_timeout(handle, 0)
        defer { sqlite_nio_sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds) }
        do {
            return try body()
        } catch let failure as SQLiteFailure where failure.code & 0xFF == SQLITE_BUSY {
            return nil
        }
    }

    /// How long a statement waits for a lock another connection holds (`PRAGMA busy_timeout`).
    static let busyTimeoutMilliseconds: Int32 = 10_000

    /// Runs an ending statement of the writer's transaction (COMMIT, a savepoint's RELEASE) now, on the caller's
    /// thread, when ``inPlace(_:_:)`` allows it: true when it ran. Nothing awaits, so a cancelled caller cannot
    /// leave it half done.
    func endInPlace(_ sql: String) throws -> Bool {
        guard inlineInTransaction else { return false }
        return try inPlace(sql) { try self.run(sql, []) { _ in } } != nil
    }

    /// Whether a write transaction is open on this connection (so it holds SQLite's write lock).
    private var holdsTheWriteLock: Bool {
        state.withLock { state in
            state.handle.map { sqlite_nio_sqlite3_txn_state($0, nil) == SQLITE_TXN_WRITE } ?? false
        }
    }

    /// The SQLite values of a statement's binds. The store binds texts, integers, reals and typed NULLs, which
    /// are turned into SQLite's values directly; anything else goes through SQLiteNIO's `Encoder`, whose dynamic
    /// casts and type lookups were 5 % of a DCI job's seeding (a JUnit file's cases are a few thousand binds).
    static func encode(_ binds: [any Encodable & Sendable]) throws -> [SQLiteData] {
        var encoder: SQLiteDataEncoder?
        var data: [SQLiteData] = []
        data.reserveCapacity(binds.count)
        for bind in binds {
            // Casts to concrete types, the store's most frequent first (a cast to a protocol of "bindable" types
            // was slower: it looks the conformance up each time).
            switch bind {
            // What the store's compiler binds (`SQLCompiler.encodable`).
            case let value as SQLiteData: data.append(value)
            case let text as String: data.append(.text(text))
            case let integer as Int64: data.append(.integer(Int(integer)))
            case let real as Double: data.append(.float(real))
            case let integer as Int: data.append(.integer(integer))
            // A NULL of any type (a nil casts to every optional type).
            case let absent as String? where absent == nil: data.append(.null)
            default:
                if encoder == nil { encoder = SQLiteDataEncoder() }
                data.append(try encoder!.encode(bind))
            }
        }
        return data
    }

    /// Runs `sql` on the calling thread, giving each result row to `row` while the statement stands on it.
    private func run(_ sql: String, _ binds: [SQLiteData], _ row: (SQLiteCursor) throws -> Void) throws {
        try state.withLock { state in
            guard let handle = state.handle else {
                throw SQLiteFailure(code: SQLITE_MISUSE, message: "the connection is closed")
            }
            let statement = try Self.prepared(sql, in: &state, handle: handle)
            defer {
                sqlite_nio_sqlite3_reset(statement)
                Self.releaseLargeValues(binds, of: statement)
            }
            // Every run binds every parameter, so a kept statement's values are left bound between runs:
            // `sqlite3_clear_bindings` marks a statement expired whenever its plan looked at a bound value (any
            // `column = ?` its index does not serve, such as a list's filter beside its sort), and SQLite would
            // then prepare it again on each run. A statement given fewer values than it has parameters is cleared
            // first, so that none is left over from a previous run.
            if binds.count < Int(sqlite_nio_sqlite3_bind_parameter_count(statement)) {
                sqlite_nio_sqlite3_clear_bindings(statement)
            }
            for (index, bind) in binds.enumerated() {
                let code = Self.bind(bind, at: Int32(index + 1), of: statement)
                guard code == SQLITE_OK else { throw SQLiteFailure(handle, code: code) }
            }
            let cursor = SQLiteCursor(statement: statement)
            while true {
                switch sqlite_nio_sqlite3_step(statement) {
                case SQLITE_ROW: try row(cursor)
                case SQLITE_DONE: return
                case let code: throw SQLiteFailure(handle, code: code)
                }
            }
        }
    }

    private static func prepared(_ sql: String, in state: inout State, handle: OpaquePointer) throws
        -> OpaquePointer
    {
        if let statement = state.statements[sql] { return statement }
        var statement: OpaquePointer?
        let code = sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            sqlite_nio_sqlite3_finalize(statement)
            throw SQLiteFailure(handle, code: code == SQLITE_OK ? SQLITE_MISUSE : code)
        }
        if state.preparedOrder.count >= statementCapacity {
            let oldest = state.preparedOrder.removeFirst()
            if let evicted = state.statements.removeValue(forKey: oldest) { sqlite_nio_sqlite3_finalize(evicted) }
        }
        state.statements[sql] = statement
        state.preparedOrder.append(sql)
        return statement
    }

    /// Values longer than this are unbound after the run rather than kept with the statement.
    static let keptBindBytes = 4096

    /// Unbinds the large texts and blobs of a run (a file's or a log's bytes), one by one, so that a kept statement
    /// does not hold them until its next run. (Unbinding a value the plan did not look at leaves it planned.)
    private static func releaseLargeValues(_ binds: [SQLiteData], of statement: OpaquePointer) {
        for (index, bind) in binds.enumerated() {
            let size: Int
            switch bind {
            case .text(let value): size = value.utf8.count
            case .blob(let buffer): size = buffer.readableBytes
            default: continue
            }
            if size > keptBindBytes { sqlite_nio_sqlite3_bind_null(statement, Int32(index + 1)) }
        }
    }

    private static func bind(_ data: SQLiteData, at index: Int32, of statement: OpaquePointer) -> Int32 {
        switch data {
        case .null:
            return sqlite_nio_sqlite3_bind_null(statement, index)
        case .integer(let value):
            return sqlite_nio_sqlite3_bind_int64(statement, index, Int64(value))
        case .float(let value):
            return sqlite_nio_sqlite3_bind_double(statement, index, value)
        case .text(let value):
            return sqlite_nio_sqlite3_bind_text64(
                statement,
                index,
                value,
                UInt64(value.utf8.count),
                transientBytes,
                UInt8(SQLITE_UTF8)
            )
        case .blob(let buffer):
            return buffer.withUnsafeReadableBytes { bytes in
                sqlite_nio_sqlite3_bind_blob64(statement, index, bytes.baseAddress, UInt64(bytes.count), transientBytes)
            }
        }
    }
}

/// SQLite's SQLITE_TRANSIENT: the library copies what is bound before the call returns.
private let transientBytes = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A connection handle crossing from the thread that opened it (it is used under the session's lock only).
private struct SQLiteHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// A failed SQLite call: its result code and the connection's message, worded as SQLite words it (the store maps
/// "UNIQUE constraint failed", "database or disk is full" and the rest to its own errors).
struct SQLiteFailure: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(_ handle: OpaquePointer, code: Int32) {
        self.code = code
        self.message = String(cString: sqlite_nio_sqlite3_errmsg(handle))
    }

    var description: String { "SQLite error \(code): \(message)" }
}

/// The statement standing on a result row (also the point reader's).
struct SQLiteCursor {
    let statement: OpaquePointer

    func columns() -> SQLiteSessionRow.Columns {
        let count = sqlite_nio_sqlite3_column_count(statement)
        let names = (0..<count).map { String(cString: sqlite_nio_sqlite3_column_name(statement, $0)) }
        return SQLiteSessionRow.Columns(names: names)
    }

    func values() -> [SQLiteData] {
        (0..<sqlite_nio_sqlite3_column_count(statement)).map(data)
    }

    /// The row as a record of `kind` whose columns are `fields`, kept at `positions` (``RowCodec/positions(of:in:)``).
    func record(_ kind: ResourceKind, fields: [FieldSpec], at positions: [Int?]) -> Record {
        var record = Record(kind)
        for (index, field) in fields.enumerated() {
            let value = RowCodec.value(data(Int32(index)), type: field.type)
            if let position = positions[index] {
                record[position: position] = value
            } else {
                record[field.name] = value
            }
        }
        return record
    }

    func data(_ index: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, index) {
        case SQLITE_NULL:
            return .null
        case SQLITE_INTEGER:
            return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, index)))
        case SQLITE_FLOAT:
            return .float(sqlite_nio_sqlite3_column_double(statement, index))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, index) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        default:
            guard let bytes = sqlite_nio_sqlite3_column_text(statement, index) else { return .text("") }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            return .text(String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self))
        }
    }
}

/// The row a statement stands on, read in place: text is read from SQLite's own buffer, valid until the next step.
/// Values are read as ``RowCodec/value(_:type:)`` reads them (the store writes each type one way).
struct SQLiteScannedRow: ScannedRow {
    let statement: OpaquePointer

    private func type(_ column: Int) -> Int32 { sqlite_nio_sqlite3_column_type(statement, Int32(column)) }

    /// The column's text bytes, or nil when it is not text.
    private func text(_ column: Int) -> UnsafeBufferPointer<UInt8>? {
        guard type(column) == SQLITE_TEXT, let bytes = sqlite_nio_sqlite3_column_text(statement, Int32(column)) else {
            return nil
        }
        return UnsafeBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(statement, Int32(column))))
    }

    func isNull(_ column: Int) -> Bool { type(column) == SQLITE_NULL }

    func int(_ column: Int) -> Int64? {
        switch type(column) {
        case SQLITE_INTEGER: return sqlite_nio_sqlite3_column_int64(statement, Int32(column))
        case SQLITE_FLOAT:
            let number = sqlite_nio_sqlite3_column_double(statement, Int32(column))
            return number.isFinite ? Int64(exactly: number.rounded(.towardZero)) : nil
        case SQLITE_TEXT: return string(column).flatMap { Int64($0) }
        default: return nil
        }
    }

    func string(_ column: Int) -> String? {
        switch type(column) {
        case SQLITE_NULL, SQLITE_FLOAT: return nil
        case SQLITE_INTEGER: return String(sqlite_nio_sqlite3_column_int64(statement, Int32(column)))
        default:
            guard let bytes = sqlite_nio_sqlite3_column_blob(statement, Int32(column)) else { return "" }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, Int32(column)))
            return String(decoding: UnsafeRawBufferPointer(start: bytes, count: count), as: UTF8.self)
        }
    }

    func textEquals(_ column: Int, _ utf8: [UInt8]) -> Bool {
        guard let text = text(column) else { return string(column).map { $0.utf8.elementsEqual(utf8) } ?? false }
        guard text.count == utf8.count else { return false }
        guard let start = text.baseAddress else { return true }
        return utf8.withUnsafeBufferPointer { memcmp(start, $0.baseAddress!, text.count) == 0 }
    }

    func value(_ column: Int, type: FieldType) -> Value {
        RowCodec.value(SQLiteCursor(statement: statement).data(Int32(column)), type: type)
    }

    /// What the store writes for each type, written out from SQLite's buffers: text as a JSON string, integers,
    /// flags and times as ``Value/writeJSON(into:)`` writes them, a JSON list or object as it was stored (the
    /// store writes JSON compact with its keys sorted, as ``JSONText`` writes a value read back from it). Anything
    /// else is read as a value and written from it.
    func writeJSON(_ column: Int, type: FieldType, into out: inout [UInt8]) {
        let index = Int32(column)
        switch (sqlite_nio_sqlite3_column_type(statement, index), type) {
        case (SQLITE_NULL, _):
            out.append(contentsOf: JSONText.nullBytes)
        case (SQLITE_TEXT, .id), (SQLITE_TEXT, .string), (SQLITE_TEXT, .text):
            writeJSONString(column, into: &out)
        case (SQLITE_TEXT, .json), (SQLITE_TEXT, .labels), (SQLITE_TEXT, .strings):
            guard let text = text(column), let first = text.first,
                first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
            else { return value(column, type: type).writeJSON(into: &out) }
            out.append(contentsOf: text)
        case (SQLITE_INTEGER, .timestamp):
            Timestamp.writeRFC3339(micros: sqlite_nio_sqlite3_column_int64(statement, index), quoted: true, into: &out)
        case (SQLITE_INTEGER, .bool):
            let flag = sqlite_nio_sqlite3_column_int64(statement, index) != 0
            out.append(contentsOf: flag ? JSONText.trueBytes : JSONText.falseBytes)
        case (SQLITE_INTEGER, .int):
            Value.int(sqlite_nio_sqlite3_column_int64(statement, index)).writeJSON(into: &out)
        default:
            value(column, type: type).writeJSON(into: &out)
        }
    }

    func writeJSONString(_ column: Int, into out: inout [UInt8]) {
        // Two calls to SQLite, not asking the type first: null has no text, and an integer's text is its digits
        // (as ``string(_:)`` gives them). The columns written so hold text.
        if let bytes = sqlite_nio_sqlite3_column_text(statement, Int32(column)) {
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, Int32(column)))
            JSONValue.writeString(utf8: UnsafeBufferPointer(start: bytes, count: count), into: &out)
        } else {
            JSONValue.null.write(into: &out)
        }
    }
}

/// A result row of ``SQLiteSession`` for SQLKit's callers: read by column name.
struct SQLiteSessionRow: SQLRow {
    /// A result's column names, shared by its rows.
    final class Columns: Sendable {
        let names: [String]
        let positions: [String: Int]

        init(names: [String]) {
            self.names = names
            // The first of two columns with one name wins, as SQLite's own lookups do.
            self.positions = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let columns: Columns
    let values: [SQLiteData]

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.positions[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let data = value(column) else { return true }
        return data == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let data = value(column) else {
            throw DecodingError.keyNotFound(
                SQLiteColumnKey(column),
                .init(codingPath: [], debugDescription: "no column named \(column)")
            )
        }
        return try SQLiteDataDecoder().decode(D.self, from: data)
    }

    private func value(_ column: String) -> SQLiteData? {
        columns.positions[column].map { values[$0] }
    }
}

private struct SQLiteColumnKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// SQLite's WAL hook on the writer's connection, after each commit: tells the checkpointer how many pages the WAL
/// holds, and finishes the checkpoint in the commit when it says so (as SQLite's own hook does).
private func walHook(
    _ checkpointer: UnsafeMutableRawPointer?,
    _ db: OpaquePointer?,
    _ name: UnsafePointer<CChar>?,
    _ pages: Int32
) -> Int32 {
    guard let checkpointer else { return SQLITE_OK }
    if Unmanaged<WALCheckpointer>.fromOpaque(checkpointer).takeUnretainedValue().walHolds(pages: pages) {
        _ = sqlite_nio_sqlite3_wal_checkpoint(db, name)
    }
    return SQLITE_OK
}

/// `REGEXP` for SQLite (PostgreSQL has `~` built in). `(?i)` at the start makes it case-insensitive. NULL when the
/// pattern is not text; false when the subject is not text or the pattern does not compile.
private func regexpMatches(
    _ context: OpaquePointer?,
    _ count: Int32,
    _ arguments: UnsafeMutablePointer<OpaquePointer?>?
) {
    guard count == 2, let arguments, let patternValue = arguments[0], let subjectValue = arguments[1],
        sqlite_nio_sqlite3_value_type(patternValue) == SQLITE_TEXT,
        let patternText = sqlite_nio_sqlite3_value_text(patternValue)
    else {
        sqlite_nio_sqlite3_result_null(context)
        return
    }
    let pattern = String(cString: patternText)
    guard sqlite_nio_sqlite3_value_type(subjectValue) == SQLITE_TEXT,
        let subjectText = sqlite_nio_sqlite3_value_text(subjectValue),
        let regex = RegexCache.shared.regex(pattern)
    else {
        sqlite_nio_sqlite3_result_int(context, 0)
        return
    }
    let subject = String(cString: subjectText)
    let matched = regex.firstMatch(in: subject, range: NSRange(subject.startIndex..., in: subject)) != nil
    sqlite_nio_sqlite3_result_int(context, matched ? 1 : 0)
}

extension RowCodec {
    /// Where each of `fields` sits in a record of `kind`: resolved once per query, not once per row.
    static func positions(of fields: [FieldSpec], in kind: ResourceKind) -> [Int?] {
        let schema = kind.schema
        return fields.map { schema.position(of: $0.name) }
    }

    /// A field's value from what SQLite stored for it (the store writes each type one way; see `SQLCompiler.encodable`).
    static func value(_ data: SQLiteData, type: FieldType) -> Value {
        switch data {
        case .null:
            return .null
        case .integer(let integer):
            let number = Int64(integer)
            switch type {
            case .bool: return .bool(number != 0)
            case .timestamp: return .timestamp(number)
            case .double: return .double(Double(number))
            case .id, .string, .text: return .string(String(number))
            case .int, .strings, .json, .labels: return .int(number)
            }
        case .float(let double):
            return type == .int || type == .timestamp ? .int(Int64(double)) : .double(double)
        case .text(let text):
            switch type {
            case .strings: return strings(fromJSON: text)
            case .json, .labels: return json(fromJSON: text)
            case .int: return Int64(text).map(Value.int) ?? .string(text)
            case .timestamp: return Int64(text).map(Value.timestamp) ?? .string(text)
            default: return .string(text)
            }
        case .blob(let buffer):
            return .string(String(buffer: buffer))
        }
    }
}
