import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `POST /api/v1/apply`: applies a lab document (the JSON form of `lab.yaml`). Site admins only.
struct ApplyController {
    let services: RunServices
    let maxJSONBytes: Int

    var store: any StoreReader { services.store }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        group.post("apply") { request, context -> Response in
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
        group.get("whoami") { _, context -> Response in
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
