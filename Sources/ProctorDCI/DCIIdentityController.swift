import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `GET /identity`: who the caller is, with `teams` keyed by team id (dciclient's `my_team_id` takes the first
/// key). A remote CI shows as the seed document shows it: its id, nulls for the user fields, its one team.
struct DCIIdentityController {
    let api: DCIAPI

    func addRoutes(to group: DoorRoutes) {
        group.get("identity", use: identity)
    }

    @Sendable func identity(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        var teams: [String: JSONValue] = [:]
        for membership in principal.memberships {
            teams[membership.groupID] = .object([
                "id": .string(membership.groupID), "name": .string(membership.groupName),
                "team_name": .string(membership.groupName), "state": .string("active"),
                "has_pre_release_access": .bool(true), "role": .string(membership.role.rawValue),
            ])
        }
        var identity: [String: JSONValue] = [
            "id": .string(principal.id), "etag": .null, "name": .null, "fullname": .null, "email": .null,
            "timezone": .null, "teams": .object(teams),
        ]
        var etag: String?
        if principal.kind == .user, let user = try await api.store.get(.users, id: principal.id) {
            etag = user.etag
            identity["etag"] = .string(user.etag)
            identity["name"] = DCIRender.string(user["name"])
            identity["fullname"] = DCIRender.string(user["fullname"])
            identity["email"] = DCIRender.string(user["email"])
            identity["timezone"] = .string("UTC")
        }
        return DCIRender.one("identity", .object(identity), etag: etag)
    }
}
