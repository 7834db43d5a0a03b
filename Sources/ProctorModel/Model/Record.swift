/// One stored row of any resource: its kind and its field values.
///
/// The values of the kind's fields are kept by their position in its schema, not in a dictionary: a row read from
/// the store is filled column by column without hashing 55 names, and written back out (``writePublicJSON(into:)``)
/// without looking each one up again. A value is absent (nil) where the row was read without the field or the
/// field was never set; that is not the same as a stored null. Names that are not fields of the kind (rare) are
/// kept aside by name.
public struct Record: Sendable, Equatable {
    public let kind: ResourceKind
    private var slots: [Value?]
    private var extras: [String: Value]

    public init(_ kind: ResourceKind, _ values: [String: Value] = [:]) {
        self.kind = kind
        self.slots = Array(repeating: nil, count: kind.schema.fields.count)
        self.extras = [:]
        for (name, value) in values { self[name] = value }
    }

    /// The value of a field or other name, or nil when the row does not carry it.
    public func value(_ name: String) -> Value? {
        if let position = kind.schema.position(of: name) { return slots[position] }
        return extras[name]
    }

    public subscript(field: String) -> Value {
        get { value(field) ?? .null }
        set {
            if let position = kind.schema.position(of: field) {
                slots[position] = newValue
            } else {
                extras[field] = newValue
            }
        }
    }

    /// The value of the field at `position` in the kind's schema (``ResourceSchema/position(of:)``), or nil when
    /// the row does not carry it: for code that resolved its positions once, such as the store's row readers.
    public subscript(position position: Int) -> Value? {
        get { slots[position] }
        set { slots[position] = newValue }
    }

    /// The names the row carries that are not fields of its kind (a misspelt field, say), in no order.
    public var otherNames: Dictionary<String, Value>.Keys { extras.keys }

    /// Every value the row carries, by name. Built on each call: code on a hot path reads single values.
    public var values: [String: Value] {
        get {
            var all = extras
            all.reserveCapacity(extras.count + slots.count)
            forEachField { name, value in all[name] = value }
            return all
        }
        set {
            slots = Array(repeating: nil, count: slots.count)
            extras = [:]
            for (name, value) in newValue { self[name] = value }
        }
    }

    /// Calls `body` with each value the row carries and its name: its fields in schema order, then other names.
    public func forEachValue(_ body: (String, Value) throws -> Void) rethrows {
        try forEachField(body)
        for (name, value) in extras { try body(name, value) }
    }

    private func forEachField(_ body: (String, Value) throws -> Void) rethrows {
        let fields = kind.schema.fields
        for (position, slot) in slots.enumerated() {
            if let value = slot { try body(fields[position].name, value) }
        }
    }

    /// The row with only the values under `names`.
    public func keeping(_ names: Set<String>) -> Record {
        var kept = self
        let fields = kind.schema.fields
        for position in kept.slots.indices where !names.contains(fields[position].name) {
            kept.slots[position] = nil
        }
        kept.extras = extras.filter { names.contains($0.key) }
        return kept
    }

    public var id: String { slots[ResourceSchema.idPosition]?.stringValue ?? "" }
    public var seq: Int64 { slots[ResourceSchema.seqPosition]?.intValue ?? 0 }
    public var groupID: String? { kind.schema.groupPosition.flatMap { slots[$0]?.stringValue } }
    public var etag: String { slots[kind.schema.etagPosition]?.stringValue ?? "" }
    public var name: String? { value("name")?.stringValue }

    public func string(_ field: String) -> String? { value(field)?.stringValue }
    public func int(_ field: String) -> Int64? { value(field)?.intValue }
    public func bool(_ field: String) -> Bool? { value(field)?.boolValue }
    public func strings(_ field: String) -> [String] { value(field)?.stringsValue ?? [] }

    /// The record as JSON for clients: every public field, in schema order.
    public func publicJSON() -> JSONValue {
        var object: [String: JSONValue] = [:]
        let members = kind.schema.publicMembers
        object.reserveCapacity(members.count)
        for member in members {
            if let value = slots[member.position] { object[member.field.name] = value.json }
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
            guard let value = slots[member.position] else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: member.prefix)
            value.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// A field's position in its kind's schema, resolved once by name: for code that reads the same fields of many rows
/// (a page of jobs rendered to JSON), where looking each name up again per row would hash it every time.
public struct FieldSlot: Sendable, Hashable {
    public let kind: ResourceKind
    public let position: Int

    /// The slot of `kind`'s field `name`; a name that is not one of its fields is a programming error.
    public init(_ kind: ResourceKind, _ name: String) {
        guard let position = kind.schema.position(of: name) else {
            preconditionFailure("\(kind.rawValue) has no field \(name)")
        }
        self.kind = kind
        self.position = position
    }
}

extension Record {
    /// The value in the field's slot, or null when the row does not carry it (as ``subscript(field:)``).
    public subscript(slot: FieldSlot) -> Value {
        self[optional: slot] ?? .null
    }

    /// The value in the field's slot, or nil when the row does not carry it (as ``value(_:)``).
    public subscript(optional slot: FieldSlot) -> Value? {
        precondition(slot.kind == kind, "a \(slot.kind.rawValue) slot read on a \(kind.rawValue) row")
        return self[position: slot.position]
    }
}
