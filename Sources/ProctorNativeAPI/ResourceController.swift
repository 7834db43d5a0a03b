import Foundation
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The native API's CRUD over one resource kind, driven by its schema: `GET /api/v1/<kind>` (filter, sort,
/// limit, offset, cursor, fields), `GET /<kind>/{id}` (ETag), `POST`, `PATCH` (If-Match), `DELETE`.
struct ResourceController {
    let kind: ResourceKind
    let services: RunServices
    let maxJSONBytes: Int
    /// The role a caller needs in the owning group to create, change or delete.
    let writeRole: Role

    var store: any StoreReader { services.store }
    var catalog: CatalogEditor { services.catalog }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        let path = RouterPath(kind.rawValue)
        group.get(path, use: list)
        if kind != .runs { group.post(path, use: create) }  // runs are launched by RunController
        group.get(RouterPath("\(kind.rawValue)/:id"), use: get)
        group.patch(RouterPath("\(kind.rawValue)/:id"), use: update)
        group.delete(RouterPath("\(kind.rawValue)/:id"), use: delete)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        var query = try NativeQuery.parse(request.uri.formParameters, schema: kind.schema)
        if kind == .groups, let visible = principal.visibleGroups {
            query.filter = query.filter.map { .and([$0, visible]) } ?? visible
        }
        return JSONResponse.page(try await store.listJSON(kind, query: query, scope: scope(principal)))
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        // Only written out: the store may answer from the row's kept JSON (`StoreReader.getJSON`).
        let found = try await fetch(context, principal) { id, scope in
            try await store.getJSON(kind, id: id, scope: scope)
        }
        var headers: HTTPFields = [:]
        headers[.eTag] = "\"\(found.etag)\""
        return JSONResponse.make(bytes: found.json, status: .ok, headers: headers)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await JSONResponse.object(request, limit: maxJSONBytes)
        let values = try FieldCoding.values(
            from: object.filter { $0.key != "group" && $0.key != "group_id" },
            schema: kind.schema
        )
        let groupID =
            kind.schema.grouped
            ? try await NativeGroups.owning(object, principal: principal, store: store, noun: kind.singular) : nil
        let record = try await catalog.create(kind, values, groupID: groupID, role: writeRole, principal: principal)
        return respond(record, status: .created)
    }

    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let existing = try await fetch(context, principal)
        try CatalogEditor.authorize(existing, role: writeRole, principal: principal)
        let object = try await JSONResponse.object(request, limit: maxJSONBytes)
        if kind == .runs, let field = object.keys.first(where: { !NativeAPI.runPatchable.contains($0) }) {
            throw ProctorError.badRequest(
                "'\(field)' cannot be changed on a run (its status changes through launch, cancel and status reports)",
                field: field,
                details: ["valid": NativeAPI.runPatchable.sorted()]
            )
        }
        let changes = try FieldCoding.values(from: object, schema: kind.schema)
        let ifMatch = request.ifMatchTag
        let record = try await catalog.update(
            existing,
            changes: changes,
            ifMatch: ifMatch,
            role: writeRole,
            principal: principal
        )
        return respond(record)
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let existing = try await fetch(context, principal)
        let ifMatch = request.ifMatchTag
        if kind == .runs {
            // A run is not a catalog row: what it owns (files' contents) goes with it, and an executing one stays.
            try await QueuedRuns(services: services).delete(
                Run(unchecked: existing),
                ifMatch: ifMatch,
                role: writeRole,
                principal: principal
            )
        } else {
            try await catalog.delete(existing, ifMatch: ifMatch, role: writeRole, principal: principal)
        }
        return Response(status: .noContent)
    }

    // MARK: Helpers

    private func scope(_ principal: Principal) -> Scope {
        kind.schema.grouped ? principal.scope : .everything
    }

    private func fetch(_ context: AuthenticatedContext, _ principal: Principal) async throws -> Record {
        try await fetch(context, principal) { id, scope in try await store.get(kind, id: id, scope: scope) }
    }

    /// The path's row as `read` reads it within the principal's scope; a 404 when it is not there or not visible.
    private func fetch<Found>(
        _ context: AuthenticatedContext,
        _ principal: Principal,
        _ read: (_ id: String, _ scope: Scope) async throws -> Found?
    ) async throws -> Found {
        let id = try context.parameters.require("id")
        guard kind != .groups || principal.canSee(group: id), let found = try await read(id, scope(principal)) else {
            throw ProctorError.notFound("no such \(kind.singular): \(id)")
        }
        return found
    }

    private func respond(_ record: Record, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [:]
        headers[.eTag] = "\"\(record.etag)\""
        return JSONResponse.make(record, status: status, headers: headers)
    }
}
