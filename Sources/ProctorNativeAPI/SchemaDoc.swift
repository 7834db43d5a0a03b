import ProctorCore
import ProctorHTTPKit

/// JSON Schema (2020-12, as OpenAPI 3.1 uses it) shorthands, so that a route's doc reads like its shape.
enum SchemaDoc {
    static let string: JSONValue = .object(["type": .string("string")])
    static let boolean: JSONValue = .object(["type": .string("boolean")])
    static let number: JSONValue = .object(["type": .string("number")])
    /// Integers as JSON carries them exactly (the API refuses larger ones).
    static let integer: JSONValue = .object([
        "type": .string("integer"), "minimum": .number(-9_007_199_254_740_991),
        "maximum": .number(9_007_199_254_740_991),
    ])
    static let dateTime: JSONValue = .object(["type": .string("string"), "format": .string("date-time")])
    /// Any JSON value.
    static let any: JSONValue = .object([:])

    static func ref(_ name: String) -> JSONValue {
        .object(["$ref": .string("#/components/schemas/\(name)")])
    }

    static func string(minLength: Int? = nil, maxLength: Int? = nil, format: String? = nil, pattern: String? = nil)
        -> JSONValue
    {
        var object: [String: JSONValue] = ["type": .string("string")]
        if let minLength { object["minLength"] = .number(Double(minLength)) }
        if let maxLength { object["maxLength"] = .number(Double(maxLength)) }
        if let format { object["format"] = .string(format) }
        if let pattern { object["pattern"] = .string(pattern) }
        return .object(object)
    }

    static func integer(minimum: Int64, maximum: Int64? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["type": .string("integer"), "minimum": .number(Double(minimum))]
        if let maximum { object["maximum"] = .number(Double(maximum)) }
        return .object(object)
    }

    static func enumeration(_ values: [String]) -> JSONValue {
        .object(["type": .string("string"), "enum": .array(values.map(JSONValue.string))])
    }

    static func array(_ items: JSONValue) -> JSONValue {
        .object(["type": .string("array"), "items": items])
    }

    /// An object with the given properties, in order. `closed` objects refuse other keys, as the API does.
    static func object(
        _ properties: KeyValuePairs<String, JSONValue>,
        required: [String] = [],
        closed: Bool = false,
        description: String? = nil
    ) -> JSONValue {
        var object: [String: JSONValue] = [
            "type": .string("object"),
            "properties": .object(Dictionary(properties.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })),
        ]
        if !required.isEmpty { object["required"] = .array(required.map(JSONValue.string)) }
        if closed { object["additionalProperties"] = .bool(false) }
        if let description { object["description"] = .string(description) }
        return .object(object)
    }

    /// The same schema, also allowing `null`.
    static func nullable(_ schema: JSONValue) -> JSONValue {
        guard case .object(var object) = schema else { return schema }
        if case .string(let type)? = object["type"] {
            object["type"] = .array([.string(type), .string("null")])
            return .object(object)
        }
        if object.isEmpty { return schema }
        return .object(["anyOf": .array([schema, .object(["type": .string("null")])])])
    }

    /// A schema with a description attached.
    static func described(_ schema: JSONValue, _ text: String) -> JSONValue {
        guard case .object(var object) = schema else { return schema }
        if object["$ref"] != nil { return .object(["allOf": .array([schema]), "description": .string(text)]) }
        object["description"] = .string(text)
        return .object(object)
    }

    /// One page of a list: `{items, limit, next_cursor, total?}`.
    static func page(of item: JSONValue) -> JSONValue {
        object(
            [
                "items": array(item),
                "limit": described(integer(minimum: 0), "The page size the server applied."),
                "next_cursor": described(
                    nullable(string),
                    "Pass as `cursor` for the next page; null on the last page."
                ),
                "total": described(integer(minimum: 0), "Every match; only with `count=true`."),
            ],
            required: ["items", "limit", "next_cursor"]
        )
    }
}

/// The schemas of stored resources, derived from their ``ResourceSchema`` so that a field added to the model
/// is documented without touching this folder.
enum ResourceDocs {
    /// Fields the server fills in and clients never write.
    static let managed: Set<String> = ["id", "seq", "group_id", "created_at", "updated_at", "etag"]

    /// `Harness`, `RunEvent`, `ImageBuild`: the component name of a kind.
    static func name(_ kind: ResourceKind) -> String {
        kind.singular.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// A field's type as it leaves the server.
    static func output(_ field: FieldSpec) -> JSONValue {
        let schema: JSONValue
        switch field.type {
        case .id, .string, .text: schema = SchemaDoc.string
        case .int: schema = SchemaDoc.integer
        case .double: schema = SchemaDoc.number
        case .bool: schema = SchemaDoc.boolean
        case .timestamp: schema = SchemaDoc.dateTime
        case .json: return SchemaDoc.any
        case .strings: schema = SchemaDoc.array(SchemaDoc.string)
        case .labels: schema = .object(["type": .string("object"), "additionalProperties": SchemaDoc.string])
        }
        var out = field.nullable ? SchemaDoc.nullable(schema) : schema
        if managed.contains(field.name), case .object(var object) = out {
            object["readOnly"] = .bool(true)
            out = .object(object)
        }
        return out
    }

    /// A field's type as the API accepts it on create and update.
    static func input(_ field: FieldSpec) -> JSONValue {
        var schema = output(field)
        if field.secret, case .object(var object) = schema {
            object["writeOnly"] = .bool(true)
            schema = .object(object)
        }
        return schema
    }

    /// What the API returns for a resource: every public field (none required, as `fields=` may project).
    static func resource(_ kind: ResourceKind) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for field in kind.schema.publicFields { properties[field.name] = output(field) }
        return .object([
            "type": .string("object"), "properties": .object(properties),
            "description": .string("A \(kind.singular). With `fields=`, only the listed fields and `id`."),
        ])
    }

    /// The body of `POST`: writable fields, the name and references required; grouped kinds name their group.
    static func create(_ kind: ResourceKind) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        var required: [String] = []
        for field in kind.schema.writableFields {
            properties[field.name] = input(field)
            if field.isRequired { required.append(field.name) }
        }
        if kind.schema.grouped {
            properties["group"] = SchemaDoc.described(
                SchemaDoc.string,
                "The owning group's name (or give `group_id`; default: the caller's only group)."
            )
            properties["group_id"] = SchemaDoc.described(SchemaDoc.string, "The owning group's id.")
        }
        var object: [String: JSONValue] = [
            "type": .string("object"), "properties": .object(properties), "additionalProperties": .bool(false),
        ]
        if !required.isEmpty { object["required"] = .array(required.sorted().map(JSONValue.string)) }
        return .object(object)
    }

    /// The body of `PATCH`: any writable field.
    static func update(_ kind: ResourceKind) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for field in kind.schema.writableFields { properties[field.name] = input(field) }
        return .object([
            "type": .string("object"), "properties": .object(properties), "additionalProperties": .bool(false),
        ])
    }
}
