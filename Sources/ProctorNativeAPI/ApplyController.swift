import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `POST /api/v1/apply`: applies a lab document (the JSON form of `lab.yaml`). Site admins only.
struct ApplyController {
    let services: RunServices
    let maxJSONBytes: Int

    var store: any StoreReader { services.store }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        group.mount(Self.routes, of: self, at: "/api/v1")
    }

    @Sendable func apply(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        guard principal.isSiteAdmin else { throw ProctorError(.forbidden, "applying a lab needs the site admin") }
        let document: JSONValue
        do {
            document = try await JSONResponse.body(request, limit: maxJSONBytes)
        } catch let error as ProctorError where error.code == .tooLarge {
            throw Self.tooLarge(limit: maxJSONBytes)
        }
        let changes = try await services.labs.apply(document)
        return JSONResponse.make(
            .object([
                "changes": .array(
                    changes.map {
                        .object([
                            "action": .string($0.action.rawValue), "kind": .string($0.kind),
                            "name": .string($0.name),
                            "id": .string($0.id),
                        ])
                    }
                )
            ])
        )
    }

    @Sendable func whoami(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        return JSONResponse.make(
            .object([
                "id": .string(principal.id), "name": .string(principal.name),
                "site_admin": .bool(principal.isSiteAdmin),
                "groups": .array(
                    principal.memberships.map {
                        .object([
                            "id": .string($0.groupID), "name": .string($0.groupName),
                            "role": .string($0.role.rawValue),
                            "permissions": .array($0.permissions.sorted().map { .string($0) }),
                        ])
                    }
                ),
            ])
        )
    }

    /// The 413 of a lab larger than the body limit, with the way out: `proctor apply` sends a lab in batches under
    /// the limit, which it reads from `limit`.
    static func tooLarge(limit: Int) -> ProctorError {
        ProctorError(
            .tooLarge,
            "the lab is larger than the \(limit) bytes a request may carry (serve --max-json-bytes): "
                + "`proctor apply -f LAB` sends a big lab in batches under this limit; "
                + "another client can send the sections in several requests, groups and users first",
            details: ["limit": [String(limit)]]
        )
    }
}

extension ApplyController {
    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<ApplyController, AuthenticatedContext>] = [
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/whoami",
                "The caller, with their groups, roles and permissions",
                tag: "auth",
                replies: [.ok(SchemaDoc.ref("Whoami"))]
            ),
            { $0.whoami }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/apply",
                "Apply a lab document",
                tag: "system",
                description:
                    "The JSON form of `lab.yaml`; site admin only. Applying the same document twice changes nothing. A "
                    + "document larger than `--max-json-bytes` is a 413 whose `error.limit` gives the limit; `proctor "
                    + "apply` sends a big lab in batches under it, in section order (groups, users, tokens, …, "
                    + "definitions, bundles), each batch its own transaction.",
                body: .json(SchemaDoc.ref("LabDocument")),
                replies: [.ok(SchemaDoc.ref("ApplyResult"))]
            ),
            { $0.apply }
        ),
    ]
}
