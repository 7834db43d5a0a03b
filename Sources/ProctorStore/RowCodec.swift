import Foundation
import ProctorCore
import SQLKit
import Synchronization

/// Converts between ``Record`` values and SQL rows for one resource.
struct RowCodec {
    let flavor: SQLFlavor
    let schema: ResourceSchema

    var labelsTable: String { quoted(schema.table + "_labels") }

    /// 128 random bits as 32 hex digits.
    static func newETag() -> String {
        var generator = BufferedRandom()
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        let digits = String(high, radix: 16), rest = String(low, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
            + String(repeating: "0", count: 16 - rest.count) + rest
    }

    /// Fills the bookkeeping fields and defaults of a new row and checks the caller's values.
    static func prepareInsert(_ record: Record, now: Int64) throws -> Record {
        let layout = InsertLayout.of(record.kind)
        return layout.record(try prepareRow(record, layout: layout, now: now))
    }

    /// ``prepareInsert(_:now:)`` as the values of the layout's columns, in order: what a bulk insert binds,
    /// without a dictionary per row.
    static func prepareRow(_ record: Record, layout: InsertLayout, now: Int64) throws -> [Value] {
        guard record.kind == layout.schema.kind else {
            throw ProctorError.badRequest(
                "a \(record.kind.singular) among \(layout.schema.kind.rawValue): one kind per insert"
            )
        }
        // Every field but `seq` (the database's) is a column of the layout: only a name outside the kind is refused.
        if let name = record.otherNames.first {
            throw ProctorError.unknownField(name, valid: layout.schema.fields.map(\.name))
        }
        var row: [Value] = []
        row.reserveCapacity(layout.fields.count)
        for index in layout.fields.indices {
            let given = record[position: layout.slots[index]] ?? .null
            switch layout.roles[index] {
            case .id: row.append(.string(given.stringValue ?? TimeOrderedID.make()))
            case .timestamp: row.append(given.isNull ? .timestamp(now) : given)
            case .etag: row.append(.string(newETag()))
            case .given:
                let field = layout.fields[index]
                if field.isRequired, given.isNull || given == .string("") {
                    throw ProctorError.badRequest("'\(field.name)' is required", field: field.name)
                }
                row.append(try normalize(given.isNull ? field.defaultValue : given, field: field))
            }
        }
        return row
    }

    static func validateChanges(_ changes: [String: Value], schema: ResourceSchema) throws -> [String: Value] {
        var out: [String: Value] = [:]
        let writable = Dictionary(uniqueKeysWithValues: schema.writableFields.map { ($0.name, $0) })
        for (name, value) in changes {
            if name == "group_id", schema.grouped {
                out[name] = try normalize(value, field: FieldSpec("group_id", .id, nullable: false))
                continue
            }
            guard let field = writable[name] else {
                throw ProctorError.unknownField(name, valid: schema.writableFields.map(\.name))
            }
            out[name] = try normalize(value, field: field)
        }
        return out
    }

    /// Checks a value against its field's type, converting the loose forms JSON allows.
    static func normalize(_ value: Value, field: FieldSpec) throws -> Value {
        func bad(_ expected: String) -> ProctorError {
            ProctorError.badRequest("field '\(field.name)' must be \(expected)", field: field.name)
        }
        if value.isNull {
            guard field.nullable else { throw bad("given (it cannot be null)") }
            return .null
        }
        switch field.type {
        case .id, .string, .text:
            switch value {
            case .string(let s):
                if field.type != .text, s.utf8.count > 4096 { throw bad("at most 4096 bytes long") }
                return .string(s)
            case .int(let i): return .string(String(i))
            default: throw bad("a string")
            }
        case .int:
            if let i = value.intValue { return .int(i) }
            if case .string(let s) = value, let i = Int64(s) { return .int(i) }
            throw bad("an integer")
        case .double:
            if let d = value.doubleValue, d.isFinite { return .double(d) }
            throw bad("a number")
        case .bool:
            if let b = value.boolValue { return .bool(b) }
            throw bad("true or false")
        case .timestamp:
            switch value {
            case .timestamp(let t): return .timestamp(t)
            case .int(let ms): return .timestamp(ms * 1000)
            case .string(let s):
                guard let t = Timestamp.parse(s) else { throw bad("a time (RFC 3339)") }
                return .timestamp(t)
            default: throw bad("a time (RFC 3339)")
            }
        case .strings:
            switch value {
            case .strings(let a): return .strings(a)
            case .json(.array(let items)):
                var out: [String] = []
                for item in items {
                    guard case .string(let s) = item else { throw bad("a list of strings") }
                    out.append(s)
                }
                return .strings(out)
            default: throw bad("a list of strings")
            }
        case .json:
            switch value {
            case .json(let j): return .json(j)
            case .strings(let a): return .json(.array(a.map { .string($0) }))
            default: return .json(value.json)
            }
        case .labels:
            guard case .json(.object(let object)) = value else { throw bad("an object of string values") }
            var labels: [String: JSONValue] = [:]
            for (key, item) in object {
                switch item {
                case .string: labels[key] = item
                case .number, .bool: labels[key] = .string(item.encodedString())
                case .null: continue
                default: throw bad("an object of string values")
                }
            }
            return .json(.object(labels))
        }
    }

    // MARK: Statements

    func insertStatement(_ records: [Record]) throws -> SQLQueryString {
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let sql = KindSQL.of(schema.kind)
        let layout = InsertLayout.of(schema.kind)
        var statement: SQLQueryString = "\(unsafeRaw: sql.insertInto)"
        var rows: [[any Encodable & Sendable]] = []
        rows.reserveCapacity(records.count)
        for record in records {
            rows.append(
                try layout.fields.indices.map { index in
                    try compiler.encodable(
                        record[position: layout.slots[index]] ?? .null,
                        type: layout.fields[index].type
                    )
                }
            )
        }
        statement += "\(ValueRows(rows: rows, placeholder: flavor == .sqlite ? "?" : "$"))"
        return statement
    }

    func labelsValues(_ record: Record) -> [(String, String)] {
        guard let field = schema.labelsField else { return [] }
        return Self.labelsValues(of: record[field.name])
    }

    /// The (key, value) pairs of a labels field, sorted by key.
    static func labelsValues(of labels: Value) -> [(String, String)] {
        guard case .json(.object(let object)) = labels else { return [] }
        return object.compactMap { key, value in value.stringValue.map { (key, $0) } }.sorted { $0.0 < $1.0 }
    }

    /// The columns of a `<table>_labels` row: the label, its row's creation time and what it carries of the row.
    var labelsColumns: [String] {
        ["row_seq", "key", "value", "created_at"] + schema.labelsCarried.map { quoted($0.column) }
    }

    func labelsInsert(_ rows: [(Int64, Record)]) throws -> SQLQueryString {
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let carried = schema.labelsCarried
        var statement: SQLQueryString =
            "INSERT INTO \(unsafeRaw: labelsTable) (\(unsafeRaw: labelsColumns.joined(separator: ", "))) VALUES "
        var first = true
        for (seq, record) in rows {
            let created = record["created_at"].intValue ?? Timestamp.now()
            var carriedValues: [SQLQueryString] = []
            for column in carried {
                carriedValues.append(column.value(bind: try compiler.encodable(record[column.field], type: .string)))
            }
            for (key, value) in labelsValues(record) {
                statement += first ? "(" : ", ("
                first = false
                statement += "\(bind: seq), \(bind: key), \(bind: value), \(bind: created)"
                for value in carriedValues { statement += ", " + value }
                statement += ")"
            }
        }
        return statement
    }

    // MARK: Decoding

    func decode(_ row: any SQLRow, fields: [FieldSpec]) throws -> Record {
        var record = Record(schema.kind)
        // Every statement selects exactly `fields`: no need to ask the row whether each column is there.
        for field in fields {
            record[field.name] = try decodeValue(row, column: field.name, type: field.type)
        }
        return record
    }

    func decodeValue(_ row: any SQLRow, column: String, type: FieldType) throws -> Value {
        if try row.decodeNil(column: column) { return .null }
        switch type {
        case .id, .string, .text:
            return .string(try row.decode(column: column, as: String.self))
        case .int:
            return .int(try row.decode(column: column, as: Int64.self))
        case .timestamp:
            return .timestamp(try row.decode(column: column, as: Int64.self))
        case .double:
            return .double(try row.decode(column: column, as: Double.self))
        case .bool:
            if flavor == .sqlite { return .bool(try row.decode(column: column, as: Int64.self) != 0) }
            return .bool(try row.decode(column: column, as: Bool.self))
        case .strings:
            return Self.strings(fromJSON: try row.decode(column: column, as: String.self))
        case .json, .labels:
            return Self.json(fromJSON: try row.decode(column: column, as: String.self))
        }
    }

    /// A `strings` column: stored as a JSON array.
    static func strings(fromJSON text: String) -> Value {
        if let plain = plainStrings(text) { return .strings(plain) }
        return .strings((JSONValue.decode(text)?.arrayValue ?? []).compactMap { $0.stringValue })
    }

    /// The strings of `["a","b"]` written as the store writes them (compact, no escape in any string), split
    /// without building a JSON value for each: a page of jobs reads every job's tags and components. Nil for any
    /// other text, which the JSON reader then reads.
    static func plainStrings(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { bytes -> [String]? in
            let end = bytes.count - 1
            guard end >= 1, bytes[0] == UInt8(ascii: "["), bytes[end] == UInt8(ascii: "]") else { return nil }
            var strings: [String] = []
            var index = 1
            while index < end {
                guard bytes[index] == UInt8(ascii: "\"") else { return nil }
                let start = index + 1
                var close = start
                while close < end, bytes[close] != UInt8(ascii: "\"") {
                    guard bytes[close] >= 0x20, bytes[close] != UInt8(ascii: "\\") else { return nil }
                    close += 1
                }
                guard close < end,
                    let string = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<close]), as: UTF8.self)
                else { return nil }
                strings.append(string)
                index = close + 1
                if index == end { break }
                guard bytes[index] == UInt8(ascii: ","), index + 1 < end else { return nil }
                index += 1
            }
            return strings
        }
    }

    /// A `json` or `labels` column: stored as JSON text.
    static func json(fromJSON text: String) -> Value {
        .json(JSONValue.decode(text) ?? .null)
    }
}

extension CarriedColumn {
    /// The column's value for a row whose field is `bind`.
    func value(bind: any Encodable & Sendable) -> SQLQueryString {
        isGroup
            ? "(SELECT seq FROM \(unsafeRaw: quoted(ResourceKind.groups.schema.table)) WHERE id = \(bind: bind))"
            : "\(bind: bind)"
    }
}

/// The columns a new row is inserted with (every field but `seq`, in schema order) and where each one sits.
struct InsertLayout: Sendable {
    let schema: ResourceSchema
    let fields: [FieldSpec]
    let position: [String: Int]
    /// Where each column's field sits in a record of the kind (its schema position): rows are prepared and turned
    /// into records by position, without hashing a name per field (a JUnit case's row hashed some fifty).
    let slots: [Int]
    /// What the insert itself fills in, per column.
    let roles: [Role]

    enum Role: Sendable {
        /// `id`: a new time-ordered id unless one is given.
        case id
        /// `created_at`, `updated_at`: now unless given.
        case timestamp
        /// `etag`: always new.
        case etag
        /// The caller's value, checked, or the field's default.
        case given
    }

    init(_ schema: ResourceSchema) {
        self.schema = schema
        fields = Self.columns(of: schema)
        position = Dictionary(uniqueKeysWithValues: fields.enumerated().map { ($1.name, $0) })
        slots = fields.map { field in
            guard let slot = schema.position(of: field.name) else {
                preconditionFailure("\(field.name) is a field of \(schema.kind.rawValue)'s schema")
            }
            return slot
        }
        roles = fields.map { field in
            switch field.name {
            case "id": .id
            case "created_at", "updated_at": .timestamp
            case "etag": .etag
            default: .given
            }
        }
    }

    /// The kind's layout, made once.
    static func of(_ kind: ResourceKind) -> InsertLayout { all[kind.ordinal] }

    private static let all = ResourceKind.allCases.map { InsertLayout($0.schema) }

    static func columns(of schema: ResourceSchema) -> [FieldSpec] { KindSQL.of(schema.kind).insertFields }

    func record(_ row: [Value]) -> Record {
        var record = Record(schema.kind)
        for (slot, value) in zip(slots, row) { record[position: slot] = value }
        return record
    }
}

/// `(?, ?, …), (?, ?, …)` for a multi-row insert, written straight into the serializer: SQLKit's generic
/// bind path builds an expression per placeholder, which dominated bulk inserts. The text depends only on the
/// first bind's number, the rows and their width, so it is made once per shape and kept (``ValueRowsText``): a
/// JUnit file's cases are the same twenty columns times the same number of rows, upload after upload, and
/// numbering their four hundred placeholders was 3 % of a seeded DCI job.
struct ValueRows: SQLExpression {
    let rows: [[any Encodable & Sendable]]
    let placeholder: String

    func serialize(to serializer: inout SQLSerializer) {
        let first = serializer.binds.count + 1
        let width = rows.first?.count ?? 0
        serializer.binds.reserveCapacity(serializer.binds.count + rows.reduce(0) { $0 + $1.count })
        for row in rows { serializer.binds.append(contentsOf: row) }
        if rows.allSatisfy({ $0.count == width }) {
            serializer.write(
                ValueRowsText.shared.text(first: first, rows: rows.count, width: width, placeholder: placeholder)
            )
        } else {
            serializer.write(ValueRowsText.make(first: first, widths: rows.map(\.count), placeholder: placeholder))
        }
    }
}

/// The placeholder texts of ``ValueRows`` by shape, up to a few hundred shapes (then started over).
final class ValueRowsText: Sendable {
    static let shared = ValueRowsText()

    struct Shape: Hashable {
        var first: Int
        var rows: Int
        var width: Int
        var placeholder: String
    }

    private let kept = Mutex<[Shape: String]>([:])
    private static let capacity = 512

    func text(first: Int, rows: Int, width: Int, placeholder: String) -> String {
        let shape = Shape(first: first, rows: rows, width: width, placeholder: placeholder)
        if let text = kept.withLock({ $0[shape] }) { return text }
        let text = Self.make(first: first, widths: Array(repeating: width, count: rows), placeholder: placeholder)
        kept.withLock { kept in
            if kept.count >= Self.capacity { kept.removeAll(keepingCapacity: true) }
            kept[shape] = text
        }
        return text
    }

    /// `(<p>first, <p>first+1, …), (…)`, one parenthesised group per row of the given widths.
    static func make(first: Int, widths: [Int], placeholder: String) -> String {
        var sql = ""
        var number = first
        for (rowIndex, width) in widths.enumerated() {
            sql += rowIndex == 0 ? "(" : ", ("
            for columnIndex in 0..<width {
                if columnIndex > 0 { sql += ", " }
                sql += placeholder
                sql += String(number)
                number += 1
            }
            sql += ")"
        }
        return sql
    }
}

/// Keyset cursors: the sort values of the last row of a page, base64url-encoded JSON.
enum Cursor {
    /// The cursor after a row whose sort values are `values`, in the order of its sort keys.
    static func encode(values sortValues: [Value]) -> String {
        let values: [JSONValue] = sortValues.map { value in
            switch value {
            case .null: return .null
            case .string(let s): return .string(s)
            case .int(let i), .timestamp(let i): return .string(String(i))
            case .double(let d): return .number(d)
            case .bool(let b): return .bool(b)
            default: return .null
            }
        }
        let data = Data(JSONValue.array(values).encodedString().utf8)
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
            of: "/",
            with: "_"
        )
        .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String, keys: [SortKey], schema: ResourceSchema) throws -> [Value] {
        let invalid = ProctorError.badRequest(
            "invalid cursor: pass the next_cursor of a previous page unchanged",
            field: "cursor"
        )
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard cursor.count < 4096, let data = Data(base64Encoded: base64),
            let items = (try? JSONValue.decode(data))?.arrayValue, items.count == keys.count
        else { throw invalid }
        return try zip(keys, items).map { key, item in
            guard let field = schema.field(key.field) else { throw invalid }
            switch (field.type, item) {
            case (_, .null): return .null
            case (.int, .string(let s)): guard let i = Int64(s) else { throw invalid }; return .int(i)
            case (.timestamp, .string(let s)): guard let i = Int64(s) else { throw invalid }; return .timestamp(i)
            case (.double, .number(let d)): return .double(d)
            case (.bool, .bool(let b)): return .bool(b)
            case (.id, .string(let s)), (.string, .string(let s)): return .string(s)
            default: throw invalid
            }
        }
    }
}
