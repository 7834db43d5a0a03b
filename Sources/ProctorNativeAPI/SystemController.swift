import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `/healthz`: the server and its store; `/livez`: the process alone (a liveness probe that never touches the store).
struct SystemController {
    let store: any StoreReader

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("livez") { _, _ -> Response in
            JSONResponse.make(.object(["status": .string("ok")]), status: .ok)
        }
        router.get("healthz") { _, _ -> Response in
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
}
