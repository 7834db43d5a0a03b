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
        router.get("openapi.json") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: Self.json)
            )
        }
        router.get("docs") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: Self.html)
            )
        }
    }
}
