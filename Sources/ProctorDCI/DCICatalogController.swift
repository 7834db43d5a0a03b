import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The read-only catalogue a remote CI resolves names in: products (`dci-find-latest-component`), remote CIs
/// (`dci-create-job`) and teams. Each lists and gets within the caller's teams; teams are Proctor groups.
struct DCICatalogController {
    let api: DCIAPI

    func addRoutes(to group: DoorRoutes) {
        add(.products, render: DCIRender.product, to: group)
        add(.remotecis, render: DCIRender.remoteci, to: group)
        group.get("teams", use: listTeams)
        group.get("teams/:id", use: getTeam)
    }

    private func add(_ resource: DCIResource, render: @escaping @Sendable (Record) -> JSONValue, to group: DoorRoutes) {
        let api = self.api
        group.get(RouterPath(resource.plural)) { request, context -> Response in
            let principal = context.principal
            return try await api.list(resource, request, principal: principal) { $0.map(render) }
        }
        group.get(RouterPath("\(resource.plural)/:id")) { _, context -> Response in
            let principal = context.principal
            let record = try await api.require(resource, id: try context.parameters.require("id"), principal: principal)
            return DCIRender.one(resource.singular, render(record), etag: record.etag)
        }
    }

    /// Groups are not tenant rows, so the caller's teams are an explicit filter (everything for the site admin).
    @Sendable func listTeams(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        return try await api.list(.teams, request, principal: principal, extra: principal.visibleGroups) {
            $0.map(DCIRender.team)
        }
    }

    @Sendable func getTeam(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        guard principal.canSee(group: id), let team = try await api.store.get(.groups, id: id)
        else { throw DCIError.notFound("team") }
        return DCIRender.one("team", DCIRender.team(team), etag: team.etag)
    }
}
