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
}
