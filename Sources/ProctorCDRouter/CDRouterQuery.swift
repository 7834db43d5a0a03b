import Foundation
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// How one CDRouter field maps onto the core, for filters and sorts.
enum CDRouterField: Sendable {
    /// A core field with the same values.
    case direct(String)
    /// A reference: conditions on the referenced row's `target` field (`seq` for `*_id`, `name` for `*_name`)
    /// become `field in (matching ids)`.
    case reference(String, ResourceKind, target: String)
    /// A status word mapped onto core run statuses.
    case status([String: [String]])
    /// `active`: the run is executing.
    case active
    /// A field that always holds this boolean (`automatic`: Proctor never schedules jobs by itself).
    case constant(Bool)
}

/// The CDRouter list arguments (`filter`, `type`, `sort`, `page`, `limit`, `detailed`) as a core query.
struct CDRouterQuery {
    let api: CDRouterAPI
    let fields: [String: CDRouterField]

    /// Jobs: statuses pending/running/completed/stopped/error over run statuses.
    static let jobStatuses: [String: [String]] = [
        "pending": [RunStatus.new.rawValue],
        "running": RunStatus.activeValues,
        "completed": [RunStatus.success.rawValue, RunStatus.failure.rawValue],
        "stopped": [RunStatus.killed.rawValue],
        "error": [RunStatus.error.rawValue],
    ]

    /// Results: the same, with `paused` (never reached) and CDRouter's result words.
    static let resultStatuses: [String: [String]] = jobStatuses.merging(["paused": []]) { a, _ in a }

    static let runFields: [String: CDRouterField] = [
        "id": .direct("seq"),
        "created": .direct("created_at"),
        "updated": .direct("updated_at"),
        "run_at": .direct("run_at"),
        "package_name": .direct("name"),
        "tags": .direct("tags"),
        "options.tags": .direct("tags"),
        "package_id": .reference("definition_id", .definitions, target: "seq"),
        "device_id": .reference("testbed_id", .testbeds, target: "seq"),
        "device_name": .reference("testbed_id", .testbeds, target: "name"),
        "config_id": .reference("config_id", .configs, target: "seq"),
        "config_name": .reference("config_id", .configs, target: "name"),
        "user_id": .reference("launched_by", .users, target: "seq"),
        "active": .active,
        "automatic": .constant(false),
    ]

    static let jobFields: [String: CDRouterField] = runFields.merging([
        "status": .status(jobStatuses), "result_id": .direct("seq"),
    ]) { _, b in b }

    static let resultFields: [String: CDRouterField] = runFields.merging([
        "status": .status(resultStatuses), "tests": .direct("tests_total"), "pass": .direct("tests_passed"),
        "fail": .direct("tests_failed"), "duration": .direct("duration"), "starred": .constant(false),
        "archived": .constant(false), "locked": .constant(false),
    ]) { _, b in b }

    static let testFields: [String: CDRouterField] = [
        "id": .direct("seq"), "seq": .direct("seq"), "name": .direct("name"), "description": .direct("classname"),
        "duration": .direct("time"), "started": .direct("created_at"), "loop": .constant(true),
        "result": .status([
            "pass": ["passed"], "fail": ["failed"], "fatal": ["error"], "skipped": ["skipped"], "pending": [],
        ]),
        "flagged": .constant(false),
    ]

    /// Packages, devices and configs share these; `tags` and `description` exist where the core row has them.
    static func catalogFields(_ kind: ResourceKind) -> [String: CDRouterField] {
        var fields: [String: CDRouterField] = [
            "id": .direct("seq"), "name": .direct("name"), "created": .direct("created_at"),
            "updated": .direct("updated_at"), "tags": .direct("tags"), "locked": .constant(false),
        ]
        if kind.schema.field("description") != nil { fields["description"] = .direct("description") }
        if kind == .configs { fields["contents"] = .direct("contents") }
        return fields
    }

    /// The filter of the request's repeated `filter=` parameters joined by `type`, in core terms.
    func filter(_ request: Request, scope: Scope) async throws -> Filter? {
        // Decoded as cdrouter.py's `requests` encodes: `filter=tags@>{night build}` arrives as `...night+build...`.
        let parameters = request.uri.formParameters
        let type = parameters["type"].map(String.init) ?? "inter"
        guard type == "inter" || type == "union" else {
            throw CDRouterError(.badRequest, "type must be inter or union")
        }
        let texts = parameters.getAll("filter").map { String($0) }.filter { !$0.isEmpty }
        guard let parsed = try FilterExpression.parse(texts, union: type == "union") else { return nil }
        return try await translate(parsed, scope: scope)
    }

    /// The `sort=` list in core terms (CDRouter's default is by id).
    func sort(_ request: Request) throws -> [SortKey] {
        guard let text = request.uri.formParameters["sort"] else { return [SortKey("seq")] }
        var keys: [SortKey] = []
        for key in try FilterExpression.parseSortStrictly(String(text)) {
            switch fields[key.field] {
            case .direct(let field): keys.append(SortKey(field, descending: key.descending))
            case .status, .active:
                keys.append(SortKey("status", descending: key.descending))
            case .reference(let field, _, _): keys.append(SortKey(field, descending: key.descending))
            case .constant: continue
            case nil: throw CDRouterError(.badRequest, "cannot sort on \(key.field); fields: \(names)")
            }
        }
        if !keys.contains(where: { $0.field == "seq" }) { keys.append(SortKey("seq")) }
        return keys
    }

    var names: String { fields.keys.sorted().joined(separator: ", ") }

    private func translate(_ filter: Filter, scope: Scope) async throws -> Filter {
        switch filter {
        case .and(let parts):
            var out: [Filter] = []
            for part in parts { out.append(try await translate(part, scope: scope)) }
            return .and(out)
        case .or(let parts):
            var out: [Filter] = []
            for part in parts { out.append(try await translate(part, scope: scope)) }
            return .or(out)
        case .not(let inner):
            return .not(try await translate(inner, scope: scope))
        case .predicate(let condition):
            return try await translate(condition, scope: scope)
        case .related: return filter
        }
    }

    private static let matchAll: Filter = .predicate(Condition("seq", .greaterOrEqual, "0"))

    private func translate(_ condition: Condition, scope: Scope) async throws -> Filter {
        guard let mapping = fields[condition.field] else {
            throw CDRouterError(.badRequest, "invalid filter field \(condition.field); fields: \(names)")
        }
        switch mapping {
        case .direct(let field):
            return .predicate(Condition(field, condition.op, condition.values))
        case .reference(let field, let kind, let target):
            let ids = try await api.references.ids(
                kind,
                matching: Condition(target, condition.op, condition.values),
                within: nil,
                scope: kind.schema.grouped ? scope : .everything
            )
            return ids.isEmpty ? SeqReferences.nothing : .predicate(Condition(field, .in, ids))
        case .status(let words):
            var statuses: [String] = []
            for value in condition.values {
                guard let mapped = words[value.lowercased()] else {
                    throw CDRouterError(
                        .badRequest,
                        "invalid \(condition.field) \(value); values: \(words.keys.sorted().joined(separator: ", "))"
                    )
                }
                statuses += mapped
            }
            switch condition.op {
            case .equal, .in:
                return statuses.isEmpty ? SeqReferences.nothing : .predicate(Condition("status", .in, statuses))
            case .notEqual, .notIn:
                return statuses.isEmpty ? Self.matchAll : .predicate(Condition("status", .notIn, statuses))
            default:
                throw CDRouterError(.badRequest, "\(condition.field) supports =, != and {a,b} lists")
            }
        case .active:
            let wanted = try Self.booleans(condition)
            if wanted.count == 2 { return Self.matchAll }
            guard let active = wanted.first else { return SeqReferences.nothing }
            return .predicate(Condition("status", active ? .in : .notIn, RunStatus.activeValues))
        case .constant(let value):
            let wanted = try Self.booleans(condition)
            return wanted.contains(value) ? Self.matchAll : SeqReferences.nothing
        }
    }

    /// The boolean values a condition on a boolean field accepts (`=`, `!=`, lists).
    private static func booleans(_ condition: Condition) throws -> Set<Bool> {
        var values: Set<Bool> = []
        for text in condition.values {
            switch text.lowercased() {
            case "true", "1": values.insert(true)
            case "false", "0": values.insert(false)
            default: throw CDRouterError(.badRequest, "\(condition.field) must be true or false")
            }
        }
        switch condition.op {
        case .equal, .in: return values
        case .notEqual, .notIn: return Set([true, false]).subtracting(values)
        default: throw CDRouterError(.badRequest, "\(condition.field) supports = and !=")
        }
    }

    /// A page of `kind` matching the request within `base`, with the total.
    func page(_ kind: ResourceKind, _ request: Request, base: Filter?, scope: Scope) async throws -> (
        Page, CDRouterPaging
    ) {
        let paging = try CDRouterPaging(request, maxLimit: api.maxLimit)
        var combined = base
        if let requested = try await filter(request, scope: scope) { combined = combined && requested }
        let query = Query(
            filter: combined,
            sort: try sort(request),
            limit: paging.limit,
            offset: paging.offset,
            includeTotal: true
        )
        return (try await api.store.list(kind, query: query, scope: scope), paging)
    }
}
