import HTTPTypes
import Hummingbird

/// A door's router group that remembers each path's methods, so that a door can answer the methods a path does
/// not serve, and any path it does not know, in its own error shape.
///
/// The router matches a path before a method and does not fall back to a `**` route when the matched path lacks
/// the method: without an explicit answer, `POST` on a `GET`-only path would fall through to the native API's
/// 404 in the native shape.
package struct DoorRoutes: RouterMethods {
    package typealias Context = AuthenticatedContext

    /// The methods a door's path may be called with.
    package static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch]

    /// Paths (as registered) and their methods; filled while the routes are added, read once afterwards.
    package final class Registry: @unchecked Sendable {
        var value: [String: Set<HTTPRequest.Method>] = [:]
    }

    package let group: RouterGroup<AuthenticatedContext>
    package let registered = Registry()

    package init(group: RouterGroup<AuthenticatedContext>) { self.group = group }

    @discardableResult
    package func on<Responder: HTTPResponder>(_ path: RouterPath, method: HTTPRequest.Method, responder: Responder)
        -> Self
    where Responder.Context == Context {
        group.on(path, method: method, responder: responder)
        registered.value[path.description, default: []].insert(method)
        return self
    }

    package func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        _ = group.add(middleware: middleware)
        return self
    }

    /// Once every route is added: the other methods of each registered path throw `methodNotAllowed(method,
    /// allowed)`, `allowed` being the served methods sorted (`HEAD` with `GET`).
    package func addMethodFallbacks(
        _ methodNotAllowed: @escaping @Sendable (_ method: HTTPRequest.Method, _ allowed: [String]) -> any Error
    ) {
        for (path, served) in registered.value {
            let allowed = (served.map(\.rawValue) + (served.contains(.get) ? [HTTPRequest.Method.head.rawValue] : []))
                .sorted()
            for method in Self.methods where !served.contains(method) {
                group.on(RouterPath(path), method: method) { _, _ -> Response in
                    throw methodNotAllowed(method, allowed)
                }
            }
        }
    }

    /// Any path under `group`, the group's own included, that no route serves throws `notFound` (whatever the
    /// method; `**` does not match the group's own path).
    package static func answerUnknownPaths<Context: RequestContext>(
        under group: RouterGroup<Context>,
        with notFound: @escaping @Sendable () -> any Error
    ) {
        for method in methods {
            for path: RouterPath in ["", "**"] {
                group.on(path, method: method) { _, _ -> Response in throw notFound() }
            }
        }
    }
}
