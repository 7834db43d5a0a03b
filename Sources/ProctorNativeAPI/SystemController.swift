import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `/healthz`: the server and its store; `/livez`: the process alone (a liveness probe that never touches the store).
struct SystemController {
    let store: any StoreReader

    func addRoutes(to router: Router<AppRequestContext>) {
        router.mount(Self.routes, of: self, at: "")
    }

    @Sendable func livez(_ request: Request, context: AppRequestContext) async throws -> Response {
        JSONResponse.make(.object(["status": .string("ok")]), status: .ok)
    }

    @Sendable func healthz(_ request: Request, context: AppRequestContext) async throws -> Response {
        let health = await store.health()
        var body: [String: JSONValue] = [
            "status": .string(health.ok ? "ok" : "unavailable"),
            "store": .object([
                "backend": .string(health.backend), "ok": .bool(health.ok),
                "schema_version": .number(Double(health.schemaVersion)),
            ]),
        ]
        if let message = health.message { body["message"] = .string(message) }
        return JSONResponse.make(.object(body), status: health.ok ? .ok : .serviceUnavailable)
    }
}

extension SystemController {
    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<SystemController, AppRequestContext>] = [
        NativeRoute(
            RouteDoc(
                .get,
                "/livez",
                "Liveness of the process",
                tag: "system",
                description:
                    "Answers without touching the store: for liveness probes (a store outage should not restart "
                    + "the server) and as the no-op baseline of the HTTP benchmark.",
                public: true,
                replies: [
                    .ok(SchemaDoc.object(["status": SchemaDoc.string], required: ["status"]), "The process is serving.")
                ],
                errors: []
            ),
            { $0.livez }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/healthz",
                "Health of the server and its store",
                tag: "system",
                public: true,
                replies: [
                    .ok(SchemaDoc.ref("Health"), "The server and its store are up."),
                    .json(503, "The store is unavailable.", SchemaDoc.ref("Health")),
                ],
                errors: []
            ),
            { $0.healthz }
        ),
    ]
}
