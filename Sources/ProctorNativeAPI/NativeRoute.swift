import HTTPTypes
import Hummingbird

/// One route of the native API, declared once: its documentation (the OpenAPI description, `/docs`, the 405
/// answers for its path's other methods) and its handler. A controller lists its routes in a table and mounts it
/// with ``Hummingbird/RouterMethods/mount(_:of:at:)``, so a route cannot be served undocumented, nor documented
/// and not served.
///
/// ```swift
/// NativeRoute(RouteDoc(.post, "/api/v1/runs/{id}/cancel", "Cancel a run", tag: "runs", replies: […]), { $0.cancel })
/// ```
struct NativeRoute<Controller: Sendable, Context: RequestContext>: Sendable {
    typealias Handler = @Sendable (Request, Context) async throws -> Response

    let doc: RouteDoc
    /// The controller's handler for this route (a method reference such as `{ $0.cancel }`).
    let handler: @Sendable (Controller) -> Handler

    init(_ doc: RouteDoc, _ handler: @escaping @Sendable (Controller) -> Handler) {
        self.doc = doc
        self.handler = handler
    }

    /// The route's path below `mountPath` in the router's syntax: `/api/v1/runs/{id}` under `/api/v1` is
    /// `runs/:id`.
    func routerPath(under mountPath: String) -> RouterPath {
        precondition(doc.path.hasPrefix(mountPath), "\(doc.path) is not under \(mountPath)")
        let segments = doc.path.dropFirst(mountPath.count).split(separator: "/").map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : String(segment)
        }
        return RouterPath(segments.joined(separator: "/"))
    }

    /// The documented method as the router's.
    var method: HTTPRequest.Method {
        guard let method = HTTPRequest.Method(doc.method.rawValue.uppercased()) else {
            preconditionFailure("\(doc.method) is not an HTTP method")
        }
        return method
    }
}

extension RouterMethods {
    /// Serves `routes` with `controller`'s handlers on this router or group, whose own path is `mountPath`
    /// (`""` for the root router, `/api/v1` for the API group).
    func mount<Controller>(
        _ routes: [NativeRoute<Controller, Context>],
        of controller: Controller,
        at mountPath: String
    ) {
        for route in routes {
            on(route.routerPath(under: mountPath), method: route.method, use: route.handler(controller))
        }
    }
}
