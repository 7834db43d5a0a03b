/// The type of a stored field; decides the column type, how text values are parsed and which operators apply.
public enum FieldType: String, Sendable, Equatable {
    case id
    case string
    case text
    case int
    case double
    case bool
    case timestamp
    case json
    case strings
    /// A string-to-string map kept on the row and, for filtering, as indexed (key, value) rows beside it.
    case labels
}

/// One field of a resource: its type, and what clients may do with it.
public struct FieldSpec: Sendable, Equatable {
    public var name: String
    public var type: FieldType
    public var nullable: Bool
    /// May appear in filters.
    public var filterable: Bool
    /// May appear in sort keys.
    public var sortable: Bool
    /// Never leaves the server (password hashes, token hashes, HMAC secrets).
    public var secret: Bool
    /// Default for a new row when the caller gives none.
    public var defaultValue: Value
    /// The schema version that added the field; migrations add it at that version.
    public var since: Int

    /// A caller must give it: a non-null reference, or a name.
    public var isRequired: Bool {
        !nullable && (type == .id || name == "name") && name != "id"
    }

    public init(
        _ name: String,
        _ type: FieldType,
        nullable: Bool = true,
        filterable: Bool = true,
        sortable: Bool? = nil,
        secret: Bool = false,
        default defaultValue: Value? = nil,
        since: Int = 1
    ) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.secret = secret
        self.filterable = filterable && !secret && type != .json && type != .text
        let orderable = type != .json && type != .strings && type != .labels && type != .text
        self.sortable = (sortable ?? orderable) && orderable && !secret
        self.since = since
        if let defaultValue {
            self.defaultValue = defaultValue
        } else if nullable {
            self.defaultValue = .null
        } else {
            switch type {
            case .bool: self.defaultValue = .bool(false)
            case .int: self.defaultValue = .int(0)
            case .double: self.defaultValue = .double(0)
            case .strings: self.defaultValue = .strings([])
            case .json: self.defaultValue = .json(.object([:]))
            case .labels: self.defaultValue = .json(.object([:]))
            default: self.defaultValue = .string("")
            }
        }
    }
}

/// An index the store keeps on a resource's table.
/// A public field with its JSON member prefix (`"name":`), in response order.
struct PublicMember: Sendable, Equatable {
    let field: FieldSpec
    /// The field's position in its schema (``ResourceSchema/position(of:)``).
    let position: Int
    let prefix: [UInt8]
}

public struct IndexSpec: Sendable, Equatable {
    public var columns: [String]
    public var unique: Bool
    /// Partial: only the rows meeting this SQL condition (written alike for both databases) are indexed, so
    /// the rows that do not skip the index when written. Both databases use the index for a query whose WHERE
    /// implies the condition: `column = value` implies ``notNull(_:)``; for other conditions the query repeats
    /// the condition word for word (SQLite matches terms, it does not prove them).
    public var condition: String?
    public var since: Int
    /// The schema version that dropped the index (it is in stores from `since` up to `until - 1`).
    public var until: Int?

    public init(_ columns: [String], unique: Bool = false, condition: String? = nil, since: Int = 1, until: Int? = nil)
    {
        self.columns = columns
        self.unique = unique
        self.condition = condition
        self.since = since
        self.until = until
    }

    /// The index's name in the database (an index replaced by another version keeps its name).
    public func name(in table: String) -> String {
        "ix_\(table)_\(columns.joined(separator: "_"))"
    }

    /// The rows that have a value in `column`: for a column most rows leave NULL.
    public static func notNull(_ column: String) -> String {
        "\"\(column)\" IS NOT NULL"
    }

    /// The rows whose `column` is one of `values` (constants of the code, never client input).
    public static func among(_ column: String, _ values: [String]) -> String {
        let literals = values.map { value in
            "'" + value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
        }
        return literals.count == 1
            ? "\"\(column)\" = \(literals[0])" : "\"\(column)\" IN (\(literals.joined(separator: ", ")))"
    }

    /// Whether a store at `version` has the index.
    public func exists(at version: Int) -> Bool {
        since <= version && until.map { version < $0 } ?? true
    }
}

/// Describes one kind of resource: its table, fields, indexes and tenancy.
///
/// The store, the query compiler, the native API and its OpenAPI document are all driven by these
/// descriptions, so a field added here is stored, filterable, documented and served everywhere at once.
///
/// A class, built once per kind (``ResourceKind/schema``): a schema is read for every row a request touches,
/// and copying a struct of ten arrays, dictionaries and strings retained and released each of them every time.
public final class ResourceSchema: Sendable, Equatable {
    public let kind: ResourceKind
    public let table: String
    /// Fields beyond the common ones (`id`, `seq`, `group_id`, `created_at`, `updated_at`, `etag`).
    public let fields: [FieldSpec]
    /// Lookups every request makes, computed once.
    private let fieldsByName: [String: FieldSpec]
    private let positions: [String: Int]
    /// Where the common fields sit in ``fields`` (and in a ``Record``'s values): `id` and `seq` first in every
    /// schema, then `group_id` when grouped, `created_at`, `updated_at` and `etag`.
    public static let idPosition = 0
    public static let seqPosition = 1
    public let groupPosition: Int?
    public let etagPosition: Int
    public let publicFields: [FieldSpec]
    /// The public fields in the order JSON responses list them (keys sorted by UTF-8 bytes), each with its
    /// `"name":` already encoded: a record is written without sorting its keys on every response.
    let publicMembers: [PublicMember]
    public let labelsField: FieldSpec?
    public let indexes: [IndexSpec]
    /// Whether every row belongs to one group (tenancy); groups and users do not.
    public let grouped: Bool
    /// Whether `name` identifies a row within its group (or globally when not grouped).
    public let namedUniquely: Bool
    public let defaultSort: [SortKey]
    public let since: Int

    public init(
        kind: ResourceKind,
        table: String,
        grouped: Bool = true,
        namedUniquely: Bool = true,
        fields: [FieldSpec],
        indexes: [IndexSpec] = [],
        defaultSort: [SortKey] = [SortKey("created_at", descending: true)],
        since: Int = 1,
        timeIndexesUntil: Int? = nil
    ) {
        self.kind = kind
        self.table = table
        self.grouped = grouped
        self.namedUniquely = namedUniquely
        self.defaultSort = defaultSort
        self.since = since
        var all: [FieldSpec] = [
            FieldSpec("id", .id, nullable: false),
            FieldSpec("seq", .int, nullable: false),
        ]
        if grouped { all.append(FieldSpec("group_id", .id, nullable: false)) }
        all.append(FieldSpec("created_at", .timestamp, nullable: false))
        all.append(FieldSpec("updated_at", .timestamp, nullable: false))
        all.append(FieldSpec("etag", .string, nullable: false, filterable: false, sortable: false))
        all.append(contentsOf: fields)
        self.fields = all
        self.fieldsByName = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let positions = Dictionary(all.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.positions = positions
        self.groupPosition = positions["group_id"]
        self.etagPosition = positions["etag"] ?? 0
        self.publicFields = all.filter { !$0.secret }
        self.publicMembers = publicFields.sorted { JSONText.utf8Precedes($0.name, $1.name) }.map {
            PublicMember(field: $0, position: positions[$0.name] ?? 0, prefix: JSONText.memberPrefix($0.name))
        }
        self.labelsField = all.first { $0.type == .labels }
        var idx = indexes
        if namedUniquely {
            idx.insert(IndexSpec(grouped ? ["group_id", "name"] : ["name"], unique: true), at: 0)
        }
        // Every kind's lists by creation time, in a group and across groups; a kind listed only under its parent
        // drops them from `timeIndexesUntil` on.
        if grouped { idx.append(IndexSpec(["group_id", "created_at"], until: timeIndexesUntil)) }
        idx.append(IndexSpec(["created_at"], until: timeIndexesUntil))
        self.indexes = idx
    }

    public func field(_ name: String) -> FieldSpec? {
        fieldsByName[name]
    }

    /// The field's position in ``fields``, which is where a ``Record`` of this kind keeps its value.
    public func position(of name: String) -> Int? {
        positions[name]
    }

    public static func == (lhs: ResourceSchema, rhs: ResourceSchema) -> Bool {
        lhs === rhs
            || (lhs.kind == rhs.kind && lhs.table == rhs.table && lhs.fields == rhs.fields
                && lhs.indexes == rhs.indexes && lhs.grouped == rhs.grouped && lhs.namedUniquely == rhs.namedUniquely
                && lhs.defaultSort == rhs.defaultSort && lhs.since == rhs.since)
    }

    public var filterableNames: [String] {
        fields.filter(\.filterable).map(\.name) + (fields.contains { $0.type == .labels } ? ["labels.<key>"] : [])
    }

    public var sortableNames: [String] { fields.filter(\.sortable).map(\.name) }

    /// Fields a caller may set on create or update (not the bookkeeping ones).
    public var writableFields: [FieldSpec] {
        let managed: Set<String> = ["id", "seq", "group_id", "created_at", "updated_at", "etag"]
        return fields.filter { !managed.contains($0.name) }
    }
}
