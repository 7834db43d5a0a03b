import ProctorCore
import SQLiteKit
import Synchronization

/// Statements with `SQLiteData` binds as they are, for ``SQLiteBulkWriter``: SQLKit hands each bind to SQLiteKit
/// as an `Encodable`, converting one value at a time (a dynamic cast, an encoder for each NULL), which a bulk
/// insert of a million runs spent most of its time on.
extension SQLiteSession {
    /// Runs one statement with its binds as they are; returns its rows.
    func rows(_ sql: String, _ binds: [SQLiteData]) async throws -> [SQLiteRow] {
        let rows = Mutex<[SQLiteRow]>([])
        try await connection.query(sql, binds) { row in rows.withLock { $0.append(row) } }
        return rows.withLock { $0 }
    }

    /// The first column of each row, as an integer.
    func integers(_ sql: String, _ binds: [SQLiteData]) async throws -> [Int64] {
        try await rows(sql, binds).compactMap { $0.columns.first?.data.integer.map(Int64.init) }
    }
}

/// One statement of a bulk write, or a check that must hold before the next.
enum SQLiteStep: Sendable {
    case run(String, [SQLiteData])
    /// The statement's first column must be `expected`, or the write fails with `error`.
    case expect(String, [SQLiteData], Int64, ProctorError)

    func perform(on db: SQLiteSession) async throws {
        switch self {
        case .run(let sql, let binds):
            try await db.connection.query(sql, binds) { _ in }
        case .expect(let sql, let binds, let expected, let error):
            guard try await db.integers(sql, binds).first == expected else { throw error }
        }
    }
}

/// Writes prepared rows (``RowCodec/prepareRow(_:layout:now:)``) and their labels on a SQLite session that holds
/// the write transaction, a batch at a time.
///
/// - Values are bound as `SQLiteData`, in multi-row statements that bind a value shared by every row once
///   (see ``statements(_:firstSeq:)``), so there is less to parse and bind.
/// - Rows get the `seq`s SQLite gives a table without AUTOINCREMENT (one more than the largest, in order), which
///   the labels' statements use without reading anything back (checked after each batch). The inserts leave
///   `seq` out: an explicit INTEGER PRIMARY KEY makes SQLite keep a statement journal.
/// - A batch is written while the caller reads and prepares the next one (``send(_:)`` returns once the batch
///   before has been written), so both cores work.
/// - When the writer owns the transaction (`owned`: an import on SQLite, which turned foreign keys off),
///   it checks each batch's references itself, once per distinct value instead of once per row, and its
///   inserts are `OR ROLLBACK`: the first failing row ends the transaction, so SQLite keeps no statement journal.
final class SQLiteBulkWriter {
    let db: SQLiteSession
    let layout: InsertLayout
    let owned: Bool
    private let codec: RowCodec
    private var nextSeq: Int64
    private var pending: Task<Void, any Error>?
    /// The `seq` of each group the rows named so far, for the labels rows (``CarriedColumn``).
    private var groupSeqs: [String: Int64] = [:]

    init(db: SQLiteSession, layout: InsertLayout, owned: Bool) async throws {
        self.db = db
        self.layout = layout
        self.owned = owned
        codec = RowCodec(flavor: .sqlite, schema: layout.schema)
        nextSeq = try await db.integers("SELECT COALESCE(MAX(seq), 0) + 1 FROM \(quoted(layout.schema.table))", []).first ?? 1
    }

    /// Queues a batch; waits until the batch before it has been written.
    func send(_ rows: [[Value]]) async throws {
        guard !rows.isEmpty else { return }
        if layout.schema.labelsCarried.contains(where: \.isGroup), let index = layout.position["group_id"] {
            try await resolveGroups(rows.compactMap { $0[index].stringValue })
        }
        var steps = owned ? referenceChecks(rows) : []
        // SQLite allows 32,766 variables in a statement.
        let perStatement = max(1, 30_000 / (layout.fields.count + 1))
        for start in stride(from: 0, to: rows.count, by: perStatement) {
            steps.append(contentsOf: statements(rows[start..<min(rows.count, start + perStatement)], firstSeq: nextSeq + Int64(start)))
        }
        nextSeq += Int64(rows.count)
        // The labels were written for the seqs SQLite gives: make sure it gave those.
        steps.append(
            .expect(
                "SELECT MAX(seq) FROM \(quoted(layout.schema.table))", [], nextSeq - 1,
                ProctorError(.internal, "the bulk insert into \(layout.schema.table) got other seqs than it expected")
            )
        )
        try await pending?.value
        pending = Task { [db, steps] in
            for step in steps { try await step.perform(on: db) }
        }
    }

    /// Waits for the last batch.
    func finish() async throws {
        defer { pending = nil }
        try await pending?.value
    }

    /// Lets a batch in flight end (the caller is about to roll back).
    func abandon() async {
        _ = try? await pending?.value
        pending = nil
    }

    private var insertVerb: String { owned ? "INSERT OR ROLLBACK INTO" : "INSERT INTO" }

    /// The INSERT of some rows and the INSERTs of their labels.
    ///
    /// A column with one value in every row is bound once, in the SELECT list of an `INSERT … SELECT … FROM
    /// (VALUES …)`, and only the columns that vary go through VALUES; columns NULL in every row are left out when
    /// their SQL default is NULL too. Parsing and binding values is most of what SQLite does for a bulk insert
    /// besides its b-trees, and most columns of a batch are such defaults.
    private func statements(_ rows: ArraySlice<[Value]>, firstSeq: Int64) -> [SQLiteStep] {
        guard let first = rows.first else { return [] }
        let fields = layout.fields
        let kept = fields.indices.filter { index in
            fields[index].type == .json || fields[index].type == .strings || fields[index].type == .labels
                || rows.contains { !$0[index].isNull }
        }
        // (One row is written with VALUES alone: at least one column must vary.)
        let constant = rows.count < 2 ? [] : Set(kept.filter { index in rows.allSatisfy { $0[index] == first[index] } })
        let varying = kept.filter { !constant.contains($0) }
        var selected: [String] = []
        var binds: [SQLiteData] = []
        binds.reserveCapacity(constant.count + rows.count * varying.count)
        for index in kept {
            if constant.contains(index) {
                selected.append("?")
                binds.append(Self.sqliteData(first[index]))
            } else {
                selected.append("column\(varying.firstIndex(of: index)! + 1)")
            }
        }
        var labels = LabelRows(head: "\(insertVerb) \(codec.labelsTable) (\(codec.labelsColumns.joined(separator: ", "))) VALUES ")
        let labelsIndex = layout.schema.labelsField.flatMap { layout.position[$0.name] }
        let createdIndex = layout.position["created_at"]
        let carried = layout.schema.labelsCarried.map { ($0, layout.position[$0.field]) }
        for (offset, row) in rows.enumerated() {
            let seq = SQLiteData.integer(SQLiteInt64(firstSeq + Int64(offset)))
            for index in varying { binds.append(Self.sqliteData(row[index])) }
            guard let labelsIndex else { continue }
            let pairs = RowCodec.labelsValues(of: row[labelsIndex])
            guard !pairs.isEmpty else { continue }
            let created = SQLiteData.integer(SQLiteInt64(createdIndex.flatMap { row[$0].intValue } ?? Timestamp.now()))
            let carriedValues = carried.map { column, index -> SQLiteData in
                guard let index else { return .null }
                if column.isGroup { return row[index].stringValue.flatMap { groupSeqs[$0] }.map { .integer(SQLiteInt64($0)) } ?? .null }
                return Self.sqliteData(row[index])
            }
            for (key, value) in pairs {
                labels.append([seq, .text(key), .text(value), created] + carriedValues)
            }
        }
        let names = kept.map { quoted(fields[$0].name) }
        let tuple = "(" + Array(repeating: "?", count: varying.count).joined(separator: ", ") + ")"
        let insert = "\(insertVerb) \(quoted(layout.schema.table)) (\(names.joined(separator: ", "))) SELECT "
            + selected.joined(separator: ", ") + " FROM (VALUES " + Array(repeating: tuple, count: rows.count).joined(separator: ", ") + ")"
        return [.run(insert, binds)] + labels.statements()
    }

    /// Looks up the `seq`s of the groups not seen before; a group that does not exist fails the write, as its
    /// foreign key would.
    private func resolveGroups(_ ids: [String]) async throws {
        let missing = Set(ids.filter { groupSeqs[$0] == nil }).sorted()
        guard !missing.isEmpty else { return }
        // One statement at a time on the connection.
        try await pending?.value
        pending = nil
        for start in stride(from: 0, to: missing.count, by: 30_000) {
            let part = missing[start..<min(missing.count, start + 30_000)]
            let sql = "SELECT seq, id FROM \(quoted(ResourceKind.groups.schema.table)) WHERE id IN ("
                + Array(repeating: "?", count: part.count).joined(separator: ", ") + ")"
            for row in try await db.rows(sql, part.map { .text($0) }) {
                guard let seq = row.column("seq")?.integer, let id = row.column("id")?.string else { continue }
                groupSeqs[id] = Int64(seq)
            }
        }
        if let unknown = missing.first(where: { groupSeqs[$0] == nil }) {
            throw ProctorError.conflict("'group_id' refers to a group that does not exist: \(unknown)")
        }
    }

    /// The foreign keys a batch names, checked as the database would with foreign keys on: every distinct
    /// non-NULL value must be the `id` of a row of the table it refers to. (Groups are checked when resolved.)
    private func referenceChecks(_ rows: [[Value]]) -> [SQLiteStep] {
        var steps: [SQLiteStep] = []
        let resolved = layout.schema.labelsCarried.contains(where: \.isGroup)
        for (index, field) in layout.fields.enumerated() {
            guard let target = Migrations.references(field), !(resolved && field.name == "group_id") else { continue }
            var seen = Set<String>()
            for row in rows { if case .string(let id) = row[index] { seen.insert(id) } }
            let ids = seen.sorted()
            for start in stride(from: 0, to: ids.count, by: 30_000) {
                let part = ids[start..<min(ids.count, start + 30_000)]
                let sql = "SELECT COUNT(*) FROM \(quoted(target.table)) WHERE id IN ("
                    + Array(repeating: "?", count: part.count).joined(separator: ", ") + ")"
                steps.append(
                    .expect(
                        sql, part.map { .text($0) }, Int64(part.count),
                        .conflict("'\(field.name)' refers to a \(target.kind.singular) that does not exist", field: field.name)
                    )
                )
            }
        }
        return steps
    }

    /// A value as SQLite stores it: what ``SQLCompiler/encodable(_:type:)`` binds, without the `Encodable` detour.
    static func sqliteData(_ value: Value) -> SQLiteData {
        switch value {
        case .null: return .null
        case .string(let s): return .text(s)
        case .int(let i), .timestamp(let i): return .integer(SQLiteInt64(i))
        case .double(let d): return .float(d)
        case .bool(let b): return .integer(b ? 1 : 0)
        case .strings(let a): return .text(JSONValue.array(a.map { .string($0) }).encodedString())
        case .json(let j): return .text(j.encodedString())
        }
    }
}

/// `<table>_labels` rows of a bulk write, as multi-row statements of at most 30,000 variables.
private struct LabelRows {
    let head: String
    private var done: [SQLiteStep] = []
    private var binds: [SQLiteData] = []
    private var count = 0
    private var width = 0

    init(head: String) {
        self.head = head
    }

    mutating func append(_ row: [SQLiteData]) {
        width = row.count
        binds.append(contentsOf: row)
        count += 1
        if (count + 1) * width > 30_000 { flush() }
    }

    private mutating func flush() {
        guard count > 0 else { return }
        let tuple = "(" + Array(repeating: "?", count: width).joined(separator: ", ") + ")"
        done.append(.run(head + Array(repeating: tuple, count: count).joined(separator: ", "), binds))
        binds = []
        count = 0
    }

    mutating func statements() -> [SQLiteStep] {
        flush()
        return done
    }
}
