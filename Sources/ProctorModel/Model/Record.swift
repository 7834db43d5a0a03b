/// One stored row of any resource: its kind and its field values by name.
public struct Record: Sendable, Equatable {
    public var kind: ResourceKind
    public var values: [String: Value]

    public init(_ kind: ResourceKind, _ values: [String: Value] = [:]) {
        self.kind = kind
        self.values = values
    }

    public subscript(field: String) -> Value {
        get { values[field] ?? .null }
        set { values[field] = newValue }
    }

    public var id: String { values["id"]?.stringValue ?? "" }
    public var seq: Int64 { values["seq"]?.intValue ?? 0 }
    public var groupID: String? { values["group_id"]?.stringValue }
    public var etag: String { values["etag"]?.stringValue ?? "" }
    public var name: String? { values["name"]?.stringValue }

    public func string(_ field: String) -> String? { values[field]?.stringValue }
    public func int(_ field: String) -> Int64? { values[field]?.intValue }
    public func bool(_ field: String) -> Bool? { values[field]?.boolValue }
    public func strings(_ field: String) -> [String] { values[field]?.stringsValue ?? [] }

    /// The record as JSON for clients: every public field, in schema order.
    public func publicJSON() -> JSONValue {
        var object: [String: JSONValue] = [:]
        let fields = kind.schema.publicFields
        object.reserveCapacity(fields.count)
        for field in fields {
            if let value = values[field.name] { object[field.name] = value.json }
        }
        return .object(object)
    }

    /// `publicJSON().encodedBytes()`, written straight from the record: the bytes of every single-record response.
    public func publicJSONBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        writePublicJSON(into: &out)
        return out
    }

    /// Appends ``publicJSONBytes()`` to `out`.
    public func writePublicJSON(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for member in kind.schema.publicMembers {
            guard let value = values[member.field.name] else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: member.prefix)
            value.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}
