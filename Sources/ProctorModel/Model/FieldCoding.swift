/// Converts client JSON into typed values by the schema, the one place where loose input becomes a ``Value``.
public enum FieldCoding {
    public static func value(from json: JSONValue, field: FieldSpec) throws -> Value {
        func bad(_ expected: String) -> ProctorError {
            ProctorError.badRequest("field '\(field.name)' must be \(expected)", field: field.name)
        }
        if json.isNull { return .null }
        switch field.type {
        case .id, .string, .text:
            switch json {
            case .string(let s): return .string(s)
            case .number(let n) where n.rounded() == n && abs(n) < 9e15: return .string(String(Int64(n)))
            default: throw bad("a string")
            }
        case .int:
            switch json {
            case .number(let n) where n.rounded() == n && abs(n) < 9e15: return .int(Int64(n))
            case .string(let s): if let i = Int64(s) { return .int(i) }; throw bad("an integer")
            default: throw bad("an integer")
            }
        case .double:
            switch json {
            case .number(let n): return .double(n)
            case .string(let s): if let d = Double(s), d.isFinite { return .double(d) }; throw bad("a number")
            default: throw bad("a number")
            }
        case .bool:
            guard case .bool(let b) = json else { throw bad("true or false") }
            return .bool(b)
        case .timestamp:
            switch json {
            case .string(let s): if let t = Timestamp.parse(s) { return .timestamp(t) }; throw bad("a time (RFC 3339)")
            case .number(let n) where n.isFinite && abs(n) < 9e12: return .timestamp(Int64(n * 1000))
            default: throw bad("a time (RFC 3339)")
            }
        case .strings:
            guard case .array(let items) = json else { throw bad("a list of strings") }
            return .strings(
                try items.map { item in
                    guard case .string(let s) = item else { throw bad("a list of strings") }
                    return s
                }
            )
        case .json:
            return .json(json)
        case .labels:
            guard case .object = json else { throw bad("an object of string values") }
            return .json(json)
        }
    }

    /// Converts a JSON object's keys to field values, rejecting unknown and read-only keys.
    public static func values(
        from object: [String: JSONValue],
        schema: ResourceSchema,
        ignoring: Set<String> = []
    ) throws -> [String: Value] {
        var out: [String: Value] = [:]
        let writable = Dictionary(uniqueKeysWithValues: schema.writableFields.map { ($0.name, $0) })
        for (key, json) in object where !ignoring.contains(key) {
            guard let field = writable[key] else {
                throw ProctorError.unknownField(key, valid: schema.writableFields.filter { !$0.secret }.map(\.name))
            }
            out[key] = try value(from: json, field: field)
        }
        return out
    }

    /// Rebuilds a record from its public JSON (a client reading what the server sent, e.g. an agent's run);
    /// every known field is taken, unknown keys are ignored.
    public static func record(_ kind: ResourceKind, from json: JSONValue) throws -> Record {
        guard case .object(let object) = json else {
            throw ProctorError.badRequest("a \(kind.singular) must be an object")
        }
        var values: [String: Value] = [:]
        for field in kind.schema.fields {
            if let item = object[field.name] { values[field.name] = try value(from: item, field: field) }
        }
        return Record(kind, values)
    }
}
