/// One field of one entity; the raw value is the stored field's name, so a field enum is the schema's vocabulary.
public protocol EntityField: RawRepresentable, CaseIterable, Hashable, Sendable where RawValue == String {}

/// A typed view of one stored row (a ``Record`` of the entity's kind).
///
/// The store keeps schema-driven rows so that the generic query language, the native API and the OpenAPI document
/// work over every kind alike; code that means a run or a profile reads it through its entity, whose field enum
/// makes a misspelt field a compile error and whose accessors give typed values. The record stays reachable for
/// the generic paths (rendering with ``Record/writePublicJSON(into:)``, the query compiler).
public protocol Entity: Sendable, Equatable {
    associatedtype Field: EntityField
    static var kind: ResourceKind { get }
    var record: Record { get set }
    /// Wraps a record the caller knows to be of ``kind``.
    init(unchecked record: Record)
}

extension Entity {
    /// The record as this entity, or nil when there is none or it is of another kind.
    public init?(_ record: Record?) {
        guard let record, record.kind == Self.kind else { return nil }
        self.init(unchecked: record)
    }

    /// A new row's values, for ``Store/insert(_:)``: unset fields take the schema's defaults there.
    @inlinable public init(_ values: [Field: Value]) {
        var record = Record(Self.kind)
        for (field, value) in values { record[field.rawValue] = value }
        self.init(unchecked: record)
    }

    /// A new row from literal pairs, built without an intermediate dictionary: for rows written by the thousand
    /// (a JUnit file's cases). Inlinable, so that it is specialized for the entity where it is called: its generic
    /// walk of the pairs cost 21,000 instructions a row through witness tables.
    @inlinable public init(pairs: KeyValuePairs<Field, Value>) {
        var record = Record(Self.kind)
        for (field, value) in pairs { record[field.rawValue] = value }
        self.init(unchecked: record)
    }

    /// A new row from values already keyed by field name (as ``FieldCoding/values(from:schema:ignoring:)``
    /// checks them against the schema).
    public init(checkedValues values: [String: Value]) {
        self.init(unchecked: Record(Self.kind, values))
    }

    public subscript(field: Field) -> Value {
        get { record[field.rawValue] }
        set { record[field.rawValue] = newValue }
    }

    public func string(_ field: Field) -> String? { record.value(field.rawValue)?.stringValue }
    public func int(_ field: Field) -> Int64? { record.value(field.rawValue)?.intValue }
    public func double(_ field: Field) -> Double? { record.value(field.rawValue)?.doubleValue }
    public func bool(_ field: Field) -> Bool? { record.value(field.rawValue)?.boolValue }
    public func strings(_ field: Field) -> [String] { record.value(field.rawValue)?.stringsValue ?? [] }
    public func json(_ field: Field) -> JSONValue? { record.value(field.rawValue)?.jsonValue }

    /// Whether the row carries the field at all (a projection may leave fields out).
    public func has(_ field: Field) -> Bool { record.value(field.rawValue) != nil }

    public var id: String { record.id }
    public var seq: Int64 { record.seq }
    public var etag: String { record.etag }
    /// The owning group; nil for the kinds that are not grouped (groups, users, tokens).
    public var groupID: String? { record.groupID }
    /// Microseconds since the epoch, as every timestamp field.
    public var createdAt: Int64 { record.value("created_at")?.intValue ?? 0 }
    public var updatedAt: Int64 { record.value("updated_at")?.intValue ?? 0 }

    /// Changes for ``Store/update(_:id:changes:ifMatch:scope:)`` keyed by field names.
    public static func changes(_ changes: [Field: Value]) -> [String: Value] {
        Dictionary(uniqueKeysWithValues: changes.map { ($0.key.rawValue, $0.value) })
    }

    /// A store match (``StoreReader/first(_:matching:scope:)``) keyed by field names.
    public static func matching(_ values: [Field: Value]) -> [String: Value] {
        changes(values)
    }
}

extension FieldSpec {
    /// A field of a schema, named by its entity's field enum.
    public init<F: EntityField>(
        _ field: F,
        _ type: FieldType,
        nullable: Bool = true,
        filterable: Bool = true,
        sortable: Bool? = nil,
        secret: Bool = false,
        default defaultValue: Value? = nil,
        since: Int = 1
    ) {
        self.init(
            field.rawValue,
            type,
            nullable: nullable,
            filterable: filterable,
            sortable: sortable,
            secret: secret,
            default: defaultValue,
            since: since
        )
    }
}

extension ResourceKind {
    /// The entity type of each kind, for checks that walk every kind.
    public var entityType: any Entity.Type {
        switch self {
        case .groups: return Group.self
        case .users: return User.self
        case .memberships: return Membership.self
        case .tokens: return Token.self
        case .remotecis: return RemoteCI.self
        case .harnesses: return Harness.self
        case .engines: return Engine.self
        case .agents: return Agent.self
        case .testbeds: return Testbed.self
        case .configs: return Config.self
        case .products: return Product.self
        case .topics: return Topic.self
        case .components: return Component.self
        case .definitions: return Definition.self
        case .profiles: return Profile.self
        case .bundles: return ProfileBundle.self
        case .runs: return Run.self
        case .runEvents: return RunEvent.self
        case .files: return StoredFile.self
        case .testResults: return TestResult.self
        case .logChunks: return LogChunk.self
        case .imageBuilds: return ImageBuild.self
        case .webhooks: return Webhook.self
        case .webhookDeliveries: return WebhookDelivery.self
        }
    }
}

extension Entity {
    /// The names of the field enum's cases (for the check against the schema).
    public static var fieldNames: [String] { Field.allCases.map(\.rawValue) }
}

extension StoreReader {
    /// The row as its entity, or nil when it does not exist or is outside the scope.
    public func get<E: Entity>(_ type: E.Type, id: String, scope: Scope = .everything) async throws -> E? {
        E(try await get(E.kind, id: id, scope: scope))
    }

    /// The row as its entity, or a not-found error in the resource's words.
    public func require<E: Entity>(_ type: E.Type, id: String, scope: Scope = .everything) async throws -> E {
        E(unchecked: try await require(E.kind, id: id, scope: scope))
    }

    /// The first row whose fields equal the given values, within the scope.
    public func first<E: Entity>(_ type: E.Type, matching: [E.Field: Value], scope: Scope = .everything)
        async throws -> E?
    {
        E(try await first(E.kind, matching: E.matching(matching), scope: scope))
    }

    /// One page of rows as entities.
    public func list<E: Entity>(_ type: E.Type, query: Query, scope: Scope) async throws -> [E] {
        try await list(E.kind, query: query, scope: scope).items.map(E.init(unchecked:))
    }
}

extension Entity {
    /// The entity as JSON for clients: every public field, in schema order (``Record/publicJSON()``).
    public func publicJSON() -> JSONValue { record.publicJSON() }

    /// ``publicJSON()``'s bytes, written straight from the row.
    public func publicJSONBytes() -> [UInt8] { record.publicJSONBytes() }
}

/// One page of a listing, as entities.
public struct EntityPage<E: Entity>: Sendable {
    public var items: [E]
    public var total: Int?
    /// Resume after the last item (keyset), or nil on the last page.
    public var nextCursor: String?
    public var limit: Int
}

extension StoreReader {
    /// One page of rows as entities, with the page's cursor and total.
    public func page<E: Entity>(_ type: E.Type, query: Query, scope: Scope) async throws -> EntityPage<E> {
        let page = try await list(E.kind, query: query, scope: scope)
        return EntityPage(
            items: page.items.map(E.init(unchecked:)),
            total: page.total,
            nextCursor: page.nextCursor,
            limit: page.limit
        )
    }
}

extension Entity {
    /// The field's slot in this entity's rows (``Record/subscript(slot:)``).
    public static func slot(_ field: Field) -> FieldSlot {
        FieldSlot(kind, field.rawValue)
    }
}
