/// One row of a scan (``StoreReader/scan(_:fields:query:scope:into:_:)``), read in place: its columns are the
/// scan's fields, by their position in that list. Valid only during the call it is given to.
///
/// A scan serves readers that write many rows straight out, such as the jobstates and files a DCI job list
/// embeds: reading a column here makes no ``Record``, no ``Value`` and, for text, no `String`.
public protocol ScannedRow {
    /// Whether the column is null.
    func isNull(_ column: Int) -> Bool
    /// The column as an integer (timestamps are microseconds), or nil when it is null or not a number.
    func int(_ column: Int) -> Int64?
    /// A text column's text, an integer or time column's digits; nil when the column is null.
    func string(_ column: Int) -> String?
    /// Whether the column's text has exactly these UTF-8 bytes (false when it is null).
    func textEquals(_ column: Int, _ utf8: [UInt8]) -> Bool
    /// Appends ``string(_:)`` as a JSON string (quoted and escaped), or `null`. For text, integer and time columns.
    func writeJSONString(_ column: Int, into out: inout [UInt8])
    /// The column as the value a ``Record`` of a field of this type holds.
    func value(_ column: Int, type: FieldType) -> Value
    /// Appends the column as ``Value/writeJSON(into:)`` writes ``value(_:type:)``: what a record's public JSON
    /// holds for the field.
    func writeJSON(_ column: Int, type: FieldType, into out: inout [UInt8])
}

extension ScannedRow {
    public func writeJSON(_ column: Int, type: FieldType, into out: inout [UInt8]) {
        value(column, type: type).writeJSON(into: &out)
    }
}

/// Where each public field of a kind sits among a read's columns, found once per read: writes a scanned row as
/// the JSON ``Record/writePublicJSON(into:)`` writes for the same row read as a record (the native API's lists).
public struct PublicJSONLayout: Sendable {
    /// A member: its column, its type, and where its `,"name":` sits in ``prefixes``. Plain values, so that
    /// walking 55 members of 50 rows retains and releases nothing.
    private struct Member: Sendable {
        let column: Int
        let type: FieldType
        let start: Int
        let end: Int
    }
    private let members: [Member]
    /// Every member's key, comma first (the first member's without it), one after the other.
    private let prefixes: [UInt8]

    /// The layout of rows whose columns are `columns`, keeping the public fields named in `keeping` (all of them
    /// when nil), in the order a record writes them.
    public init(_ kind: ResourceKind, columns: [FieldSpec], keeping: Set<String>? = nil) {
        var index: [String: Int] = [:]
        for (position, field) in columns.enumerated() where index[field.name] == nil { index[field.name] = position }
        var members: [Member] = []
        var prefixes: [UInt8] = []
        for member in kind.schema.publicMembers {
            guard let column = index[member.field.name], keeping?.contains(member.field.name) ?? true else {
                continue
            }
            let start = prefixes.count
            if !members.isEmpty { prefixes.append(UInt8(ascii: ",")) }
            prefixes.append(contentsOf: member.prefix)
            members.append(Member(column: column, type: member.field.type, start: start, end: prefixes.count))
        }
        self.members = members
        self.prefixes = prefixes
    }

    /// Appends the row's public JSON object.
    public func write(_ row: some ScannedRow, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        prefixes.withUnsafeBufferPointer { prefixes in
            members.withUnsafeBufferPointer { members in
                for member in members {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: prefixes[member.start..<member.end]))
                    row.writeJSON(member.column, type: member.type, into: &out)
                }
            }
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// A ``ScannedRow`` over a record already read: the scan of a backend that decodes its rows (PostgreSQL), and the
/// reference the in-place readers are tested against.
public struct RecordScannedRow: ScannedRow {
    public let record: Record
    /// The record's slot of each scanned field, in the scan's order.
    public let slots: [FieldSlot]

    public init(_ record: Record, slots: [FieldSlot]) {
        self.record = record
        self.slots = slots
    }

    private func value(_ column: Int) -> Value { record[slots[column]] }

    public func isNull(_ column: Int) -> Bool { value(column).isNull }

    public func int(_ column: Int) -> Int64? { value(column).intValue }

    public func string(_ column: Int) -> String? {
        switch value(column) {
        case .string(let text): return text
        case .int(let number), .timestamp(let number): return String(number)
        default: return nil
        }
    }

    public func value(_ column: Int, type: FieldType) -> Value { value(column) }

    public func textEquals(_ column: Int, _ utf8: [UInt8]) -> Bool {
        string(column).map { $0.utf8.elementsEqual(utf8) } ?? false
    }

    public func writeJSONString(_ column: Int, into out: inout [UInt8]) {
        if let text = string(column) {
            JSONValue.string(text).write(into: &out)
        } else {
            JSONValue.null.write(into: &out)
        }
    }
}
