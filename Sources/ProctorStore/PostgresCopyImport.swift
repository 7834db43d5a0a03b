import Logging
import NIOCore
import PostgresNIO
import ProctorCore
import SQLKit

/// An import into PostgreSQL (``SQLStore/importRecords(_:_:)``) through `COPY … FROM STDIN` in text format, on the
/// session that holds the import's transaction: one COPY of a batch's rows and one of their labels rows.
///
/// Why: multi-row INSERTs cost PostgreSQL a parse, a plan and a bind per row of parameters, and the client
/// builds tens of thousands of binds per statement; a COPY streams rows the server only splits and converts
/// (3,178 runs/s with INSERTs). The rows are the ones ``RowCodec/prepareRow(_:layout:now:)`` makes, written as
/// the bound path writes them (JSON and lists as JSON text, times as microseconds, booleans as booleans), so
/// they read back the same. The database checks every reference and constraint as for an INSERT: a bad row
/// fails the COPY, and the transaction with it.
///
/// A labels row needs its row's `seq`: for a kind with labels, each batch's seqs are taken from the table's
/// identity sequence before its COPY (`nextval` once per row, in one statement) and written explicitly, in
/// ascending order, so that seqs follow the order of the rows as with the INSERTs. A batch is converted to
/// COPY text in a task of its own while the batch before is being copied, so the server and the client work
/// at once.
struct PostgresCopyImport: Sendable {
    let layout: InsertLayout
    let session: PostgresSession
    /// The identity sequence of the table's `seq`, when seqs are taken before the COPY (kinds with labels).
    let sequence: String?
    let labelsIndex: Int?
    let createdIndex: Int?
    let groupIndex: Int?
    let carried: [(column: CarriedColumn, index: Int?)]
    /// Groups' seqs by id, as labels rows carry them (looked up once per import).
    private(set) var groupSeqs: [String: Int64] = [:]

    init(layout: InsertLayout, session: PostgresSession) async throws {
        self.layout = layout
        self.session = session
        let schema = layout.schema
        labelsIndex = schema.labelsField.flatMap { layout.position[$0.name] }
        createdIndex = layout.position["created_at"]
        groupIndex = layout.position["group_id"]
        carried = schema.labelsCarried.map { ($0, layout.position[$0.field]) }
        if labelsIndex != nil {
            let rows = try await session.connection.query(
                "SELECT pg_get_serial_sequence(\(quoted(schema.table)), 'seq')",
                logger: session.logger
            )
            var name: String?
            for try await value in rows.decode(String?.self) { name = value }
            guard let name else {
                throw ProctorError(.internal, "\(schema.table).seq has no sequence to take an import's seqs from")
            }
            sequence = name
        } else {
            sequence = nil
        }
    }

    /// What a batch is written as: its rows and its labels rows in COPY's text format.
    struct Encoded: Sendable {
        var rows: ByteBuffer
        var labels: ByteBuffer
        var count: Int
    }

    /// What a batch needs from the database before it can be encoded off the session: its seqs (kinds with labels)
    /// and the seqs of the groups its labels rows carry.
    mutating func readyBatch(_ records: [Record]) async throws -> [Int64]? {
        guard let sequence, !records.isEmpty else { return nil }
        if groupIndex != nil, carried.contains(where: { $0.column.isGroup }) {
            let unknown = Set(records.compactMap { $0["group_id"].stringValue }).filter { groupSeqs[$0] == nil }
            if !unknown.isEmpty {
                let rows = try await session.connection.query(
                    "SELECT id, seq FROM \(unescaped: quoted(ResourceKind.groups.schema.table)) WHERE id = ANY(\(Array(unknown)))",
                    logger: session.logger
                )
                for try await (id, seq) in rows.decode((String, Int64).self) { groupSeqs[id] = seq }
            }
        }
        let rows = try await session.connection.query(
            "SELECT array_agg(nextval(\(sequence)::regclass)) FROM generate_series(1, \(records.count))",
            logger: session.logger
        )
        var seqs: [Int64] = []
        for try await values in rows.decode([Int64].self) { seqs = values }
        guard seqs.count == records.count else {
            throw ProctorError(.internal, "the import took \(seqs.count) seqs for \(records.count) rows")
        }
        return seqs.sorted()
    }

    /// Prepares and encodes a batch; reads only what ``init(layout:session:)`` and ``readyBatch(_:)`` set, so it
    /// may run while the batch before is copied.
    func encode(_ records: [Record], seqs: [Int64]?, now: Int64) throws -> Encoded {
        var rows = ByteBufferAllocator().buffer(capacity: records.count * 512)
        var labels = ByteBufferAllocator().buffer(capacity: labelsIndex == nil ? 0 : records.count * 160)
        for (position, record) in records.enumerated() {
            let row = try RowCodec.prepareRow(record, layout: layout, now: now)
            if let seqs {
                rows.writeString(String(seqs[position]))
                rows.writeInteger(UInt8(ascii: "\t"))
            }
            for (index, value) in row.enumerated() {
                if index > 0 { rows.writeInteger(UInt8(ascii: "\t")) }
                CopyText.append(value, to: &rows)
            }
            rows.writeInteger(UInt8(ascii: "\n"))
            guard let labelsIndex, let seqs else { continue }
            let pairs = RowCodec.labelsValues(of: row[labelsIndex])
            guard !pairs.isEmpty else { continue }
            let created = createdIndex.flatMap { row[$0].intValue } ?? Timestamp.now()
            var tail = ByteBufferAllocator().buffer(capacity: 64)
            tail.writeInteger(UInt8(ascii: "\t"))
            tail.writeString(String(created))
            for (column, index) in carried {
                tail.writeInteger(UInt8(ascii: "\t"))
                let value = index.map { row[$0] } ?? .null
                if column.isGroup {
                    CopyText.append(value.stringValue.flatMap { groupSeqs[$0] }.map(Value.int) ?? .null, to: &tail)
                } else {
                    CopyText.append(value, to: &tail)
                }
            }
            tail.writeInteger(UInt8(ascii: "\n"))
            let seq = String(seqs[position])
            for (key, value) in pairs {
                labels.writeString(seq)
                labels.writeInteger(UInt8(ascii: "\t"))
                CopyText.appendEscaped(key, to: &labels)
                labels.writeInteger(UInt8(ascii: "\t"))
                CopyText.appendEscaped(value, to: &labels)
                labels.writeImmutableBuffer(tail)
            }
        }
        return Encoded(rows: rows, labels: labels, count: records.count)
    }

    /// Copies an encoded batch: its rows, then their labels rows.
    func write(_ batch: Encoded) async throws {
        let schema = layout.schema
        let columns = (sequence == nil ? [] : ["seq"]) + layout.fields.map(\.name)
        try await copy(batch.rows, into: schema.table, columns: columns)
        guard batch.labels.readableBytes > 0 else { return }
        try await copy(
            batch.labels,
            into: schema.table + "_labels",
            columns: ["row_seq", "key", "value", "created_at"] + schema.labelsCarried.map(\.column)
        )
    }

    /// The tables an import writes: the kind's table, and its labels table when it has one.
    private var tables: [String] {
        [layout.schema.table] + (labelsIndex == nil ? [] : [layout.schema.table + "_labels"])
    }

    /// How many rows the kind's table holds, counted up to `limit`.
    func existingRows(upTo limit: Int) async throws -> Int {
        let rows = try await session.connection.query(
            "SELECT count(*) FROM (SELECT 1 FROM \(unescaped: quoted(layout.schema.table)) LIMIT \(limit)) AS existing",
            logger: session.logger
        )
        var count = 0
        for try await value in rows.decode(Int.self) { count = value }
        return count
    }

    /// The checks a large import into a (nearly) empty table makes once, after its rows are in, instead of row by
    /// row: the tables' non-unique indexes, built again by sorting, and their foreign keys, validated again by one
    /// join (PostgreSQL's advice for populating a database). Each index insert and each reference check of a row
    /// cost the server more than the row itself: a COPY of 200,000 runs took 13 s with them in place, 8 s with them
    /// dropped and made again. Primary keys and unique constraints stay, so duplicates still fail the COPY.
    struct DeferredChecks: Sendable {
        /// `CREATE INDEX` statements, as `pg_get_indexdef` writes them.
        var indexes: [String] = []
        /// Foreign keys: their table, name and definition (`pg_get_constraintdef`).
        var foreignKeys: [(table: String, name: String, definition: String)] = []
    }

    /// Drops the tables' non-unique indexes and foreign keys, in the import's transaction (a rollback restores
    /// them), and returns what makes them again. Dropping them locks the tables until the import commits.
    func dropChecks() async throws -> DeferredChecks {
        var checks = DeferredChecks()
        var indexNames: [String] = []
        for table in tables {
            let indexes = try await session.connection.query(
                """
                SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = \(quoted(table))::regclass AND NOT i.indisunique AND NOT i.indisprimary
                ORDER BY c.relname
                """,
                logger: session.logger
            )
            for try await (name, definition) in indexes.decode((String, String).self) {
                indexNames.append(name)
                checks.indexes.append(definition)
            }
            let keys = try await session.connection.query(
                """
                SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                WHERE conrelid = \(quoted(table))::regclass AND contype = 'f' ORDER BY conname
                """,
                logger: session.logger
            )
            for try await (name, definition) in keys.decode((String, String).self) {
                checks.foreignKeys.append((table, name, definition))
            }
        }
        for key in checks.foreignKeys {
            try await run("ALTER TABLE \(quoted(key.table)) DROP CONSTRAINT \(quoted(key.name))")
        }
        for name in indexNames { try await run("DROP INDEX \(quoted(name))") }
        return checks
    }

    /// Builds the dropped indexes again and adds the foreign keys back, which checks every row's references: a
    /// reference to a missing row fails here as it would have failed the COPY.
    func restore(_ checks: DeferredChecks) async throws {
        for index in checks.indexes { try await run(index) }
        for key in checks.foreignKeys {
            try await run("ALTER TABLE \(quoted(key.table)) ADD CONSTRAINT \(quoted(key.name)) \(key.definition)")
        }
    }

    private func run(_ statement: String) async throws {
        _ = try await session.connection.query(PostgresQuery(unsafeSQL: statement), logger: session.logger)
    }

    private func copy(_ data: ByteBuffer, into table: String, columns: [String]) async throws {
        try await session.connection.copyFrom(table: table, columns: columns, logger: session.logger) { writer in
            var data = data
            // CopyData messages need not end at a row's end; a few of them keep the server reading while more come.
            while data.readableBytes > 0, let chunk = data.readSlice(length: min(data.readableBytes, 1 << 20)) {
                try await writer.write(chunk)
            }
        }
    }
}

/// `COPY`'s text format: columns split by tabs, rows by newlines, `\N` for NULL, and a backslash, tab, newline or
/// carriage return inside a value escaped.
enum CopyText {
    static func append(_ value: Value, to buffer: inout ByteBuffer) {
        switch value {
        case .null: buffer.writeStaticString("\\N")
        case .string(let text): appendEscaped(text, to: &buffer)
        case .int(let number), .timestamp(let number): buffer.writeString(String(number))
        // The shortest text that reads back as the same double (PostgreSQL's float8 input is exact).
        case .double(let number): buffer.writeString(number.description)
        case .bool(let flag): buffer.writeInteger(flag ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        case .strings(let list): appendEscaped(JSONValue.array(list.map { .string($0) }).encodedString(), to: &buffer)
        case .json(let json): appendEscaped(json.encodedString(), to: &buffer)
        }
    }

    static func appendEscaped(_ text: String, to buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == UInt8(ascii: "\\") || $0 == 9 || $0 == 10 || $0 == 13 }) else {
                buffer.writeBytes(bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 9: buffer.writeStaticString("\\t")
                case 10: buffer.writeStaticString("\\n")
                case 13: buffer.writeStaticString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        }
    }
}
