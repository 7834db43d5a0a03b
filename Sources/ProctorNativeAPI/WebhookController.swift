import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// A webhook's delivery log (the webhooks themselves are plain resources under `/api/v1/webhooks`).
struct WebhookController {
    let store: any StoreReader

    func addRoutes(to api: RouterGroup<AuthenticatedContext>) {
        api.mount(Self.routes, of: self, at: "/api/v1")
    }

    /// The webhook's deliveries, newest first, with the native list parameters.
    @Sendable func deliveries(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        guard let hook = try await store.get(.webhooks, id: id, scope: principal.scope) else {
            throw ProctorError.notFound("no such webhook: \(id)")
        }
        try principal.require(.admin, in: hook.groupID ?? "", resource: "webhook")
        var query = try NativeQuery.parse(request.uri.formParameters, schema: ResourceKind.webhookDeliveries.schema)
        query.filter = query.filter.map { .and([.equal("webhook_id", hook.id), $0]) } ?? .equal("webhook_id", hook.id)
        return JSONResponse.page(try await store.listJSON(.webhookDeliveries, query: query, scope: principal.scope))
    }
}

extension WebhookController {
    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<WebhookController, AuthenticatedContext>] = [
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/webhooks/{id}/deliveries",
                "A webhook's delivery log",
                tag: "webhooks",
                description:
                    "Each delivery of a run event to the webhook: status (pending, sending, delivered, failed), "
                    + "attempts, the receiver's response code and the last error. Group admins only.",
                parameters: ParameterDoc.list,
                replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("WebhookDelivery")))]
            ),
            { $0.deliveries }
        )
    ]
}
