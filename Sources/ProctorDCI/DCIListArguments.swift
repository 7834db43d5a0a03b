import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The query parameters of a DCI list (`dci/common/args.py`, `declarative.py`): `limit` (default 20, at most
/// 200), `offset`, `sort` (default `-created_at`), `where`, `query` (used only without `where`), `embed`,
/// `created_after`, `updated_after`. Any other parameter is a 400, as DCI's `additionalProperties: false` makes it.
///
/// Parameters are decoded as a form (`+` is a space), and the first of duplicate keys wins, as werkzeug's
/// `args.to_dict()` does. Unlike DCI, `limit` and `offset` may come alone.
struct DCIListArguments: Sendable {
    static let allowed = ["limit", "offset", "sort", "where", "embed", "query", "created_after", "updated_after"]
    static let defaultLimit = 20
    static let maxLimit = 200

    var limit = defaultLimit
    var offset = 0
    var sort: String?
    var whereText: String?
    var queryText: String?
    /// A job search's query (``DCIAnalyticsQuery``), set by ``search(_:)`` only.
    var searchText: String?
    var embed: [String] = []
    var createdAfter: Int64?
    var updatedAfter: Int64?

    /// The parameters of a request, first value per key.
    static func parameters(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in FormDecoding.pairs(request.uri.query, keepBlank: true) where out[key] == nil {
            out[key] = value
        }
        return out
    }

    /// Parses and validates a list request's parameters.
    init(_ request: Request) throws {
        try self.init(Self.parameters(request))
    }

    init(_ parameters: [String: String]) throws {
        for key in parameters.keys.sorted() where !Self.allowed.contains(key) {
            throw DCIError.malformed(["Additional properties are not allowed ('\(key)' was unexpected)"])
        }
        if let text = parameters["limit"] {
            guard let value = Int(text), value > 0 else {
                throw DCIError.malformed(["limit: '\(text)' is not a positive integer"])
            }
            limit = min(value, Self.maxLimit)
        }
        if let text = parameters["offset"] {
            guard let value = Int(text), value >= 0 else {
                throw DCIError.malformed(["offset: '\(text)' is not a non-negative integer"])
            }
            offset = value
        }
        if let text = parameters["sort"], !text.isEmpty { sort = text }
        if let text = parameters["where"], !text.isEmpty { whereText = text }
        if let text = parameters["query"], !text.isEmpty { queryText = text }
        embed = Self.embeds(parameters["embed"])
        for key in ["created_after", "updated_after"] {
            guard let text = parameters[key] else { continue }
            guard let micros = Timestamp.parse(text) else {
                throw DCIError.malformed([
                    "\(key): '\(text)' is not a date (%Y-%m-%dT%H:%M:%S.%f or epoch milliseconds)"
                ])
            }
            if key == "created_after" { createdAfter = micros } else { updatedAfter = micros }
        }
    }

    /// The arguments of a job search (`POST /analytics/jobs`): `query` (required) in the search language, and
    /// `limit`, `offset`, `sort` as in a list. Other parameters (`includes`, `excludes`, `json-aggs`, `from`,
    /// `to`) filter nothing here, and the control server accepts unknown ones.
    static func search(_ parameters: [String: String]) throws -> DCIListArguments {
        var arguments = try DCIListArguments(parameters.filter { ["limit", "offset", "sort"].contains($0.key) })
        guard let text = parameters["query"], !text.isEmpty else {
            throw DCIError(
                .badRequest,
                Self.searchError,
                payload: ["error": .string("the query parameter is required")]
            )
        }
        arguments.searchText = text
        return arguments
    }

    /// The control server's answer to any query it cannot turn into a search.
    static let searchError = "syntax error while parsing the query"

    static func embeds(_ text: String?) -> [String] {
        // Spaces and tabs trimmed over the bytes: Foundation's `trimmingCharacters(in:)` cost more than the rest of a
        // list's arguments.
        (text ?? "").utf8.split(separator: UInt8(ascii: ",")).compactMap { name in
            let isSpace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            guard let first = name.firstIndex(where: { !isSpace($0) }),
                let last = name.lastIndex(where: { !isSpace($0) })
            else { return nil }
            return String(Substring(name[first...last]))
        }
    }

    /// The core query for a resource: DCI's filter and sort in core field names, AND `extra` (the parent, e.g.
    /// `run_id`), AND not archived; with the total counted for `_meta.count`.
    func query(for resource: DCIResource, extra: Filter? = nil) throws -> Query {
        var filter: Filter?
        if let whereText {
            let parsed: Filter?
            do {
                parsed = try DCIQuery.parseWhere(whereText, arrayFields: resource.arrayFields)
            } catch {
                throw DCIError(
                    .badRequest,
                    "Invalid where key: \"\(whereText)\"",
                    payload: ["error": .string("where key must have the following form \"key:value\"")]
                )
            }
            filter = try parsed.map { try Self.translate($0, resource: resource, role: .where) }
        } else if let queryText {
            let parsed: Filter
            do {
                parsed = try DCIQuery.parseQuery(queryText, arrayFields: resource.arrayFields)
            } catch {
                throw DCIError(.badRequest, "error while parsing the query \(error.message)")
            }
            filter = try Self.translate(parsed, resource: resource, role: .query)
        } else if let searchText {
            let parsed: Filter
            do {
                parsed = try DCIAnalyticsQuery.parse(searchText, arrayFields: resource.searchArrayFields)
            } catch {
                throw DCIError(.badRequest, Self.searchError, payload: ["error": .string(error.message)])
            }
            filter = try Self.translate(parsed, resource: resource, role: .search)
        }
        for part in [extra, resource.visible].compactMap({ $0 }) { filter = filter && part }
        if let createdAfter {
            filter =
                filter && .predicate(Condition("created_at", .greaterOrEqual, Timestamp.rfc3339(micros: createdAfter)))
        }
        if let updatedAfter {
            filter =
                filter && .predicate(Condition("updated_at", .greaterOrEqual, Timestamp.rfc3339(micros: updatedAfter)))
        }
        return Query(
            filter: filter,
            sort: try sortKeys(for: resource),
            limit: limit,
            offset: offset,
            includeTotal: true
        )
    }

    func sortKeys(for resource: DCIResource) throws -> [SortKey] {
        guard let sort else { return [SortKey("created_at", descending: true)] }
        let valid = resource.fields.keys.filter { key in
            resource.coreField(key).map { field in
                field.name.hasPrefix("labels.") ? false : resource.kind.schema.field(field.name)?.sortable == true
            } ?? false
        }.sorted()
        var keys: [SortKey] = []
        for key in DCIQuery.parseSort(sort) {
            guard valid.contains(key.field), let core = resource.coreField(key.field) else {
                throw DCIError(
                    .badRequest,
                    "Invalid sort key: \"\(key.field)\"",
                    payload: ["Valid sort keys": .array(valid.map(JSONValue.string))]
                )
            }
            keys.append(SortKey(core.name, descending: key.descending))
        }
        return keys.isEmpty ? [SortKey("created_at", descending: true)] : keys
    }

    enum Role { case `where`, query, search }

    /// Renames DCI fields to core fields, refusing unknown ones; case-insensitive equality becomes plain
    /// equality on non-text fields (DCI compares those exactly) and on ids (so the index serves it).
    static func translate(_ filter: Filter, resource: DCIResource, role: Role) throws -> Filter {
        switch filter {
        case .and(let parts): return .and(try parts.map { try translate($0, resource: resource, role: role) })
        case .or(let parts): return .or(try parts.map { try translate($0, resource: resource, role: role) })
        case .not(let inner): return .not(try translate(inner, resource: resource, role: role))
        case .related: return filter
        case .predicate(var condition):
            if role == .search, let dot = condition.field.firstIndex(of: "."),
                let relation = resource.relation(String(condition.field[..<dot])),
                let reference = resource.coreField(relation.field)
            {
                // `topic.name='x'`: the job's topic is one whose name is x.
                condition.field = String(condition.field[condition.field.index(after: dot)...])
                let inner = try translate(.predicate(condition), resource: relation.resource, role: role)
                return .related(field: reference.name, kind: relation.resource.kind, inner)
            }
            let valid = resource.fields.keys.sorted()
            guard !forbidden(condition.field), let core = resource.coreField(condition.field) else {
                switch role {
                case .where:
                    throw DCIError(
                        .badRequest,
                        "Invalid where key: \"\(condition.field)\"",
                        payload: ["Valid where keys": .array(valid.map(JSONValue.string))]
                    )
                case .query:
                    throw DCIError(
                        .badRequest,
                        "error while parsing the query: unknown field '\(condition.field)'",
                        payload: ["Valid fields": .array(valid.map(JSONValue.string))]
                    )
                case .search:
                    throw DCIError(
                        .badRequest,
                        searchError,
                        payload: [
                            "error": .string("unknown field '\(condition.field)'"),
                            "Valid fields": .array(resource.searchFields.map(JSONValue.string)),
                        ]
                    )
                }
            }
            condition.field = core.name
            if condition.op == .equalIgnoringCase, core.type != .string, core.type != .text {
                condition.op = .equal
                if core.type == .id { condition.values = condition.values.map { $0.lowercased() } }
            }
            if core.type == .bool { condition.values = condition.values.map { $0.lowercased() } }
            return .predicate(condition)
        }
    }

    private static func forbidden(_ field: String) -> Bool {
        DCIResource.forbiddenWhereKeys.contains(field)
    }
}
