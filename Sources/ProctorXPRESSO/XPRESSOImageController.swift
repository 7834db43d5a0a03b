import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `POST images/polaris_build`: builds a Polaris image through the execution engine (``ImageBuilds``).
/// Needs the `add_docker_image` permission in the call's group.
struct XPRESSOImageController {
    let api: XPRESSOAPI

    func addRoutes(to group: DoorRoutes) {
        group.post("images/polaris_build", use: build)
    }

    /// `{"name", "tag", "git_ref", "base_ref"?, "groups": [...]}` → the image, `status: "building"`.
    @Sendable func build(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let membership = try await api.group(request, principal)
        guard principal.hasPermission(ImageBuilds.permission, in: membership.groupID) else {
            throw XPRESSOError(.forbidden, "You do not have permission to perform this action.")
        }
        let body = try await api.object(request)
        let known: Set<String> = ["name", "tag", "git_ref", "base_ref", "groups"]
        if let unknown = body.keys.sorted().first(where: { !known.contains($0) }) {
            throw XPRESSOError(
                .badRequest,
                "Unknown field '\(unknown)'; valid fields: \(known.sorted().joined(separator: ", "))."
            )
        }
        func text(_ key: String, optional: Bool = false) throws -> String? {
            switch body[key] {
            case nil, .null?:
                if optional { return nil }
                throw XPRESSOError(.badRequest, "'\(key)' is required.")
            case .string(let value)?: return value
            default: throw XPRESSOError(.badRequest, "'\(key)' must be a string.")
            }
        }
        guard let list = body["groups"]?.arrayValue, list.count <= 100 else {
            throw XPRESSOError(.badRequest, "'groups' must be a list of group names.")
        }
        let groups = try list.map {
            guard let name = $0.stringValue else {
                throw XPRESSOError(.badRequest, "'groups' must be a list of group names.")
            }
            return name
        }
        let build = try await api.images.submit(
            .init(
                name: try text("name") ?? "",
                tag: try text("tag") ?? "",
                gitRef: try text("git_ref") ?? "",
                baseRef: try text("base_ref", optional: true),
                groups: groups
            ),
            groupID: membership.groupID,
            principal: principal
        )
        return XPRESSOAPI.json(XPRESSORender.imageBuild(build.record, group: membership.groupName))
    }
}
