import Logging
import NIOCore
import ProctorCore
import SQLKit
import SQLiteKit
import Synchronization

/// A SQLite session of the store: SQLKit's database over the connection, for everything, plus the connection
/// itself for the reads that return whole records.
///
/// Why: SQLKit hands rows over as by-name lookups (three per column, each hashing the name), which for a page
/// of 50 runs of 55 columns cost more than the query. Rows read here are decoded by position instead.
struct SQLiteSession: ForwardingSQLDatabase {
    let connection: SQLiteConnection
    let base: any SQLDatabase

    /// The rows of a SELECT whose columns are exactly `fields`, in that order, as records of `kind`.
    func records(_ statement: any SQLExpression, kind: ResourceKind, fields: [FieldSpec]) async throws -> [Record] {
        let (sql, binds) = serialize(statement)
        let encoder = SQLiteDataEncoder()
        let data = try binds.map { try encoder.encode($0) }
        let collected = Mutex<[Record]>([])
        try await connection.query(sql, data) { row in
            let columns = row.columns
            var values: [String: Value] = [:]
            values.reserveCapacity(fields.count)
            for (field, column) in zip(fields, columns) {
                values[field.name] = RowCodec.value(column.data, type: field.type)
            }
            let record = Record(kind, values)
            collected.withLock { $0.append(record) }
        }
        return collected.withLock { $0 }
    }
}

extension RowCodec {
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
