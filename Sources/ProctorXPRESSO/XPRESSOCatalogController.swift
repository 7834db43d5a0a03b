import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `jobs`, `jobs/:id`, `jobs/search`, `bundles[/:id]`, `profiles`, `profile/:id` (and `profiles/:id`),
/// `harnesses[/:id]`, `engines[/:id]`: read-only views of the lab.
///
/// Lists show the group of the call (``XPRESSOAPI/group(_:_:)``), without rows marked `deleted`; a single
/// row is found in any of the caller's groups, and is `Not Found` in any other.
struct XPRESSOCatalogController {
    let api: XPRESSOAPI

    var store: any StoreReader { api.store }

    func addRoutes(to group: DoorRoutes) {
        group.get("jobs") { request, context in try await list(.definitions, request, context) }
        group.post("jobs/search", use: search)
        group.get("jobs/:id") { request, context in try await get(.definitions, request, context) }
        group.get("bundles") { request, context in try await list(.bundles, request, context) }
        group.get("bundles/:id") { request, context in try await get(.bundles, request, context) }
        group.get("profiles") { request, context in try await list(.profiles, request, context) }
        group.get("profile/:id") { request, context in try await get(.profiles, request, context) }
        group.get("profiles/:id") { request, context in try await get(.profiles, request, context) }
        group.get("harnesses") { request, context in try await list(.harnesses, request, context) }
        group.get("harnesses/:id") { request, context in try await get(.harnesses, request, context) }
        group.get("engines") { request, context in try await list(.engines, request, context) }
        group.get("engines/:id") { request, context in try await get(.engines, request, context) }
    }

    /// The most values one search key may list (each is a bound SQL parameter).
    static let maxSearchValues = 1000

    /// Oldest first, as XPRESSO lists its objects.
    static let order = [SortKey("created_at"), SortKey("seq")]

    func list(_ kind: ResourceKind, _ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let membership = try await api.group(request, principal)
        let (offset, limit) = try api.paging(request)
        let query = Query(
            filter: .equal("deleted", "false"),
            sort: Self.order,
            limit: limit,
            offset: offset,
            includeTotal: true
        )
        let page = try await store.list(kind, query: query, scope: .groups([membership.groupID]))
        return XPRESSOAPI.json(.array(try await render(kind, page.items)), total: page.total)
    }

    func get(_ kind: ResourceKind, _ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        guard id.count <= 128, let row = try await store.get(kind, id: id, scope: principal.scope) else {
            throw XPRESSOError.notFound
        }
        return XPRESSOAPI.json(try await render(kind, [row])[0])
    }

    /// `POST jobs/search`: `{"id", "name", "group", "tags"}`, AND across keys, OR within a list. Without
    /// `group`, the call's group is searched; with it, those of the named groups the caller belongs to.
    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let body = try await api.object(request)
        if let key = body.keys.sorted().first(where: { (body[$0]?.arrayValue?.count ?? 0) > Self.maxSearchValues }) {
            throw XPRESSOError(.badRequest, "search key '\(key)' lists more than \(Self.maxSearchValues) values")
        }
        var filter = try XpressoSearch.parse(.object(body))
        let scope: Scope
        if body["group"] != nil {
            filter = try await groupsByID(filter, principal: principal)
            scope = principal.isSiteAdmin ? .everything : principal.scope
        } else {
            scope = .groups([try await api.group(request, principal).groupID])
        }
        let (offset, limit) = try api.paging(request)
        let query = Query(
            filter: filter && .equal("deleted", "false"),
            sort: Self.order,
            limit: limit,
            offset: offset,
            includeTotal: true
        )
        let page = try await store.list(.definitions, query: query, scope: scope)
        guard !page.items.isEmpty else { throw XPRESSOError.notFound }
        return XPRESSOAPI.json(.array(try await render(.definitions, page.items)), total: page.total)
    }

    /// Replaces the search's group names by the ids of those groups the caller may see (none matches nothing).
    private func groupsByID(_ filter: Filter, principal: Principal) async throws -> Filter {
        switch filter {
        case .and(let parts):
            var out: [Filter] = []
            for part in parts { out.append(try await groupsByID(part, principal: principal)) }
            return .and(out)
        case .predicate(let condition) where condition.field == "group_name":
            var found: [String] = []
            for name in condition.values {
                if let membership = principal.memberships.first(where: { $0.groupName == name }) {
                    found.append(membership.groupID)
                } else if principal.isSiteAdmin,
                    let group = try await store.first(.groups, matching: ["name": .string(name)])
                {
                    found.append(group.id)
                }
            }
            return found.isEmpty ? .predicate(.isNull("id")) : .predicate(Condition("group_id", .in, found))
        default:
            return filter
        }
    }

    private func render(_ kind: ResourceKind, _ rows: [Record]) async throws -> [JSONValue] {
        var render = XPRESSORender(store: store)
        switch kind {
        case .definitions: return try await render.jobs(rows)
        case .harnesses: return rows.map(render.harness)
        case .engines: return rows.map(render.engine)
        case .bundles:
            var out: [JSONValue] = []
            for row in rows { out.append(try await render.bundle(row)) }
            return out
        default:
            var out: [JSONValue] = []
            for row in rows { out.append(try await render.profile(row)) }
            return out
        }
    }
}
