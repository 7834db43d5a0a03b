import Foundation
import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// `GET /openapi.json` and `GET /docs`: the native API's description, no credentials needed.
/// Both are rendered once per process, since they depend only on code.
struct OpenAPIController {
    static let json: ByteBuffer = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(OpenAPIDocument.document)) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }()

    static let html = ByteBuffer(string: DocsPage.render(OpenAPIDocument.document))

    func addRoutes(to router: Router<AppRequestContext>) {
        router.mount(Self.routes, of: self, at: "")
    }

    @Sendable func description(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: Self.json)
        )
    }

    @Sendable func docs(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: Self.html)
        )
    }
}

extension OpenAPIController {
    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<OpenAPIController, AppRequestContext>] = [
        NativeRoute(
            RouteDoc(
                .get,
                "/openapi.json",
                "This OpenAPI document",
                tag: "system",
                public: true,
                replies: [.ok(.object(["type": .string("object")]), "OpenAPI 3.1.")],
                errors: []
            ),
            { $0.description }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/docs",
                "This reference as HTML",
                tag: "system",
                public: true,
                replies: [.text(200, "A self-contained HTML page.", mediaType: "text/html")],
                errors: []
            ),
            { $0.docs }
        ),
    ]
}
