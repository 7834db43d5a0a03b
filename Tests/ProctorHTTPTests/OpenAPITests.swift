import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ProctorCore
import ProctorDashboard
import ProctorHTTP
import ProctorStore
import Testing

/// The OpenAPI document covers the real router, route for route, and `/docs` renders it.
@Suite struct OpenAPITests {
    /// Fails on any route of `buildRouter` missing from `/openapi.json` (and on any documented route that does
    /// not exist), so a new route cannot ship undocumented: declare it as a `NativeRoute` in its controller's table.
    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let app = try await TestApp.make()
        let router = buildRouter(store: app.store, configuration: app.configuration)
        let routed = Set(
            router.routes.map { (method: $0.method.rawValue.uppercased(), path: Self.template($0.path.description)) }
                .filter { route in
                    !Self.dialectPrefixes.contains { route.path.hasPrefix($0) || route.path + "/" == $0 }
                }
                .filter { route in !Dashboard.isDashboardRoute(route.path) }
                .map { "\($0.method) \($0.path)" }
        )
        #expect(routed.count > 20)

        let document = try await fetchDocument(app)
        var documented: Set<String> = []
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            for method in (item.objectValue ?? [:]).keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        let undocumented = routed.subtracting(documented).sorted()
        #expect(
            undocumented.isEmpty,
            "routes missing from the OpenAPI document (declare them as NativeRoutes in their controller's table): \(undocumented)"
        )
        let phantom = documented.subtracting(routed).sorted()
        #expect(phantom.isEmpty, "documented routes the router does not serve: \(phantom)")
    }

    @Test func documentIsWellFormedOpenAPI31() async throws {
        let app = try await TestApp.make()
        let document = try await fetchDocument(app)
        #expect(document["openapi"] == .string("3.1.0"))
        #expect(document["info"]?["title"]?.stringValue != nil)
        #expect(document["components"]?["securitySchemes"]?["bearerAuth"]?["scheme"] == .string("bearer"))

        var operationIDs: Set<String> = []
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            #expect(path.hasPrefix("/"))
            let templated = Set(
                path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
            )
            for (method, operation) in item.objectValue ?? [:] {
                let id = try #require(operation["operationId"]?.stringValue, "\(method) \(path)")
                #expect(operationIDs.insert(id).inserted, "duplicate operationId \(id)")
                #expect(operation["responses"]?.objectValue?.isEmpty == false, "\(method) \(path) has no responses")
                let pathParameters = (operation["parameters"]?.arrayValue ?? []).filter { $0["in"] == .string("path") }
                #expect(Set(pathParameters.compactMap { $0["name"]?.stringValue }) == templated, "\(method) \(path)")
            }
        }
        // Every $ref points at something that exists.
        var references: [String] = []
        Self.collectReferences(document, into: &references)
        #expect(!references.isEmpty)
        for reference in Set(references) {
            let parts = reference.dropFirst(2).split(separator: "/").map(String.init)
            var node: JSONValue? = document
            for part in parts { node = node?[part] }
            #expect(node != nil, "dangling $ref \(reference)")
        }
    }

    @Test func genericResourcesAndTheErrorShapeAreDescribed() async throws {
        let app = try await TestApp.make()
        let document = try await fetchDocument(app)
        let list = try #require(document["paths"]?["/api/v1/harnesses"]?["get"])
        let parameters = list["parameters"]?.arrayValue?.compactMap { $0["$ref"]?.stringValue } ?? []
        #expect(
            parameters.map { $0.split(separator: "/").last.map(String.init) ?? "" }
                == ["filter", "type", "sort", "limit", "offset", "cursor", "fields", "count"]
        )
        for status in ["400", "401", "403", "404", "409", "422"] {
            #expect(list["responses"]?[status]?["$ref"] != nil, "list harnesses lacks \(status)")
        }
        let create = try #require(document["paths"]?["/api/v1/harnesses"]?["post"])
        for status in ["413", "415"] { #expect(create["responses"]?[status]?["$ref"] != nil) }

        let harness = try #require(document["components"]?["schemas"]?["Harness"]?["properties"])
        #expect(harness["name"]?["type"] == .string("string"))
        #expect(harness["site"]?["type"] == .array([.string("string"), .string("null")]))
        #expect(harness["created_at"]?["format"] == .string("date-time"))
        let run = try #require(document["components"]?["schemas"]?["Run"]?["properties"])
        #expect(run["labels"]?["additionalProperties"]?["type"] == .string("string"))
        let user = try #require(document["components"]?["schemas"]?["User"]?["properties"])
        #expect(user["password_hash"] == nil)
        #expect(document["components"]?["schemas"]?["Token"]?["properties"]?["token_hash"] == nil)

        let error = try #require(document["components"]?["schemas"]?["Error"]?["properties"]?["error"]?["properties"])
        let errorFields = Set((error.objectValue ?? [:]).keys)
        #expect(errorFields.isSuperset(of: ["code", "message", "field"]))
        #expect(
            document["components"]?["responses"]?["NotFound"]?["content"]?["application/json"]?["schema"]?["$ref"]
                == .string("#/components/schemas/Error")
        )
        let login = try #require(document["paths"]?["/api/v1/auth/login"]?["post"])
        #expect(login["security"] == .array([]))
        #expect(login["responses"]?["201"] != nil)
        #expect(login["responses"]?["401"] != nil)
    }

    @Test func docsIsSelfContainedHTML() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let response = try await client.execute(uri: "/docs", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
            let html = String(buffer: response.body)
            #expect(html.hasPrefix("<!doctype html>"))
            #expect(html.contains("<code>/api/v1/auth/login</code>"))
            #expect(html.contains("<code>/api/v1/harnesses/{id}</code>"))
            #expect(html.contains("id=\"schema-Harness\""))
            #expect(html.contains("<code>filter</code>"))
            #expect(!html.contains("<script"))
            #expect(!html.contains("src=\"http"))
            #expect(!html.contains("href=\"http"))
        }
    }

    // MARK: Helpers

    /// The served document (no credentials).
    private func fetchDocument(_ app: TestApp) async throws -> JSONValue {
        let box = DocumentBox()
        try await app.test { client in
            let response = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            await box.set(try json(response))
        }
        return try #require(await box.value)
    }

    private actor DocumentBox {
        var value: JSONValue?
        func set(_ value: JSONValue) { self.value = value }
    }

    /// The compatible front doors: they reproduce their vendors' own documents and are not part of this one.
    static let dialectPrefixes = ["/dci/", "/cdrouter/", "/xpresso/", "/kernelci/"]

    /// Hummingbird prints captures as `{id}` already; older `:id` spellings are mapped too.
    static func template(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
    }

    static func collectReferences(_ value: JSONValue, into references: inout [String]) {
        switch value {
        case .object(let object):
            for (key, child) in object {
                if key == "$ref", let reference = child.stringValue { references.append(reference) }
                collectReferences(child, into: &references)
            }
        case .array(let items):
            for item in items { collectReferences(item, into: &references) }
        default:
            break
        }
    }
}
