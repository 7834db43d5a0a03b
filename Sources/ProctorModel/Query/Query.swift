/// A comparison the query model understands. Each dialect's syntax parses into these.
public enum FilterOperator: String, Sendable, CaseIterable, Equatable {
    case equal = "eq"
    /// Case-insensitive equality (DCI's `where` on strings).
    case equalIgnoringCase = "ieq"
    case notEqual = "ne"
    case less = "lt"
    case lessOrEqual = "le"
    case greater = "gt"
    case greaterOrEqual = "ge"
    /// Case-insensitive substring.
    case contains
    case notContains = "not_contains"
    /// Case-insensitive prefix.
    case prefix
    /// SQL `LIKE` pattern (`%`, `_`), case-sensitive.
    case like
    /// SQL `LIKE` pattern, case-insensitive.
    case ilike
    case regex
    case notRegex = "not_regex"
    case regexIgnoringCase = "iregex"
    case notRegexIgnoringCase = "not_iregex"
    /// The array field holds every given value.
    case arrayContains = "array_contains"
    /// Every element of the array field is among the given values.
    case arrayContainedBy = "array_contained_by"
    /// The array field holds at least one of the given values.
    case arrayOverlaps = "array_overlaps"
    case isNull = "is_null"
    case isNotNull = "is_not_null"
    /// One of the given values.
    case `in`
    case notIn = "not_in"

    public var takesNoValue: Bool { self == .isNull || self == .isNotNull }

    public var isArrayOperator: Bool {
        self == .arrayContains || self == .arrayContainedBy || self == .arrayOverlaps
    }
}

/// One comparison of a field with raw text values; the store converts them to the field's type.
public struct Condition: Sendable, Equatable {
    public var field: String
    public var op: FilterOperator
    public var values: [String]

    public init(_ field: String, _ op: FilterOperator, _ values: [String]) {
        self.field = field
        self.op = op
        self.values = values
    }

    public init(_ field: String, _ op: FilterOperator, _ value: String) {
        self.init(field, op, [value])
    }

    public static func isNull(_ field: String) -> Self { .init(field, .isNull, [String]()) }
}

/// A boolean tree of predicates.
public indirect enum Filter: Sendable, Equatable {
    case and([Filter])
    case or([Filter])
    case not(Filter)
    case predicate(Condition)
    /// The row's reference `field` names a row of `kind` that matches the filter (a run's file whose run is a DCI
    /// job, say). Written by the core's rules, never parsed from a client's query.
    case related(field: String, kind: ResourceKind, Filter)

    public static func equal(_ field: String, _ value: String) -> Filter { .predicate(.init(field, .equal, value)) }

    /// Joins two optional filters with AND.
    public static func && (lhs: Filter?, rhs: Filter) -> Filter {
        guard let lhs else { return rhs }
        if case .and(var parts) = lhs {
            parts.append(rhs)
            return .and(parts)
        }
        return .and([lhs, rhs])
    }

    /// The most predicates one filter may hold, whatever the API that wrote it: beyond, the databases refuse the
    /// expression (SQLite's depth limit is 1,000), so it is the client's error (400), not the server's.
    public static let maxTerms = 256

    /// How many predicates the filter holds.
    public var termCount: Int {
        switch self {
        case .and(let parts), .or(let parts): return parts.reduce(0) { $0 + $1.termCount }
        case .not(let inner): return inner.termCount
        case .predicate: return 1
        case .related(_, _, let inner): return 1 + inner.termCount
        }
    }

    /// Every field the filter names, for validation and tenancy checks.
    public var fields: [String] {
        switch self {
        case .and(let parts), .or(let parts): return parts.flatMap(\.fields)
        case .not(let inner): return inner.fields
        case .predicate(let p): return [p.field]
        case .related(let field, _, _): return [field]
        }
    }
}

public struct SortKey: Sendable, Equatable {
    public var field: String
    public var descending: Bool

    public init(_ field: String, descending: Bool = false) {
        self.field = field
        self.descending = descending
    }

    /// Parses `-created`, `+name`, `name`.
    public init(parsing token: String) {
        if token.hasPrefix("-") {
            self.init(String(token.dropFirst()), descending: true)
        } else if token.hasPrefix("+") {
            self.init(String(token.dropFirst()))
        } else {
            self.init(token)
        }
    }
}

/// A closed-open window of time on a timestamp field: `from <= field < to`.
public struct TimeWindow: Sendable, Equatable {
    public var field: String
    public var from: Int64?
    public var to: Int64?

    public init(field: String, from: Int64? = nil, to: Int64? = nil) {
        self.field = field
        self.from = from
        self.to = to
    }
}

/// What to read: the one query model every dialect parses its own syntax into.
public struct Query: Sendable, Equatable {
    public var filter: Filter?
    public var sort: [SortKey]
    /// Page size; the store clamps it to its maximum. `nil` means the store's default.
    public var limit: Int?
    public var offset: Int
    /// An opaque keyset cursor from a previous page (takes precedence over `offset`).
    public var cursor: String?
    /// Only these fields (plus `id`); nil means all.
    public var fields: [String]?
    /// Leave these fields out.
    public var excludedFields: [String]
    public var window: TimeWindow?
    /// Whether to count every match (costs a second query).
    public var includeTotal: Bool

    public init(
        filter: Filter? = nil,
        sort: [SortKey] = [],
        limit: Int? = nil,
        offset: Int = 0,
        cursor: String? = nil,
        fields: [String]? = nil,
        excludedFields: [String] = [],
        window: TimeWindow? = nil,
        includeTotal: Bool = false
    ) {
        self.filter = filter
        self.sort = sort
        self.limit = limit
        self.offset = offset
        self.cursor = cursor
        self.fields = fields
        self.excludedFields = excludedFields
        self.window = window
        self.includeTotal = includeTotal
    }
}

/// Older name of ``Condition`` (it clashes with Foundation's `Predicate` outside this module).
public typealias Predicate = Condition
