import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorDashboard
import ProctorHTTP
import ProctorHTTPKit
import Testing

/// One scope check for every door: a token's scopes limit it on the native API, XPRESSO, CDRouter, DCI and
/// KernelCI alike, decided by ``RouteScopes`` and enforced where every handler gets its caller.
@Suite struct ScopeTests {
    /// Routes any caller may call without a token (or with any token): what a scope cannot limit.
    static let publicRoutes: Set<String> = [
        "GET /livez", "GET /healthz", "GET /metrics", "GET /openapi.json", "GET /docs", "POST /api/v1/auth/login",
        "POST /cdrouter/authenticate", "GET /cdrouter/api/v1/system/hostname", "GET /cdrouter/api/v1/system/time",
    ]

    func token(_ client: any TestClientProtocol, scopes: [String]) async throws -> String {
        let list = scopes.map { "\"\($0)\"" }.joined(separator: ", ")
        let body = #"{"name": "scoped-\#(UUID().uuidString)", "scopes": [\#(list)]}"#
        return try await client.execute(
            uri: "/api/v1/tokens",
            method: .post,
            headers: bearer(TestApp.adminToken),
            body: ByteBuffer(json: body)
        ) {
            #expect($0.status == .created)
            return try json($0)["token"]?.stringValue ?? ""
        }
    }

    @Test func scopeNamesAndWhatTheyGrant() {
        #expect(AccessScope.granted(by: ["get"]) == [.read])
        #expect(AccessScope.granted(by: ["kernelci:post"]) == [.read, .write])
        #expect(AccessScope.granted(by: ["execute"]) == [.read, .execute])
        #expect(AccessScope.granted(by: ["admin"]) == Set(AccessScope.allCases))
        #expect(AccessScope.granted(by: ["bogus"]).isEmpty)
        #expect(throws: ProctorError.self) { try AccessScope.validate(["read", "runs"]) }
        #expect(AccessScope.granted(by: nil) == Set(AccessScope.allCases))
        #expect(RouteScopes.required(method: .get, path: "/api/v1/users") == .read)
        #expect(RouteScopes.required(method: .post, path: "/api/v1/runs") == .execute)
        #expect(RouteScopes.required(method: .delete, path: "/api/v1/testbeds/x") == .write)
        #expect(RouteScopes.required(method: .post, path: "/api/v1/groups/g/members") == .admin)
        #expect(RouteScopes.required(method: .post, path: "/xpresso/api/v2/requests") == .execute)
        #expect(RouteScopes.required(method: .post, path: "/xpresso/api/v2/jobs/search") == .read)
        #expect(RouteScopes.required(method: .patch, path: "/api/v1/users/u1") == .write)
        #expect(RouteScopes.required(method: .delete, path: "/api/v1/users/u1") == .admin)
    }

    /// The defects that were reproduced: a `get` token launched natively, deleted a testbed, created an XPRESSO
    /// request and a CDRouter package.
    @Test func aReadOnlyTokenChangesNothingThroughAnyDoor() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let lab =
                #"{"groups": [{"name": "g"}], "testbeds": [{"group": "g", "name": "tb"}], "definitions": [{"group": "g", "name": "job", "harness": "shell", "job_file": "true", "profiles": [{"name": "P", "is_default": true}]}]}"#
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: lab)
            ) {
                #expect($0.status == .ok)
            }
            let readOnly = try await token(client, scopes: ["get"])
            let testbed = try await client.execute(
                uri: "/api/v1/testbeds?filter=name=tb",
                method: .get,
                headers: bearer(readOnly)
            ) { response in
                #expect(response.status == .ok)
                return try json(response)["items"]?.arrayValue?.first?["id"]?.stringValue ?? ""
            }
            try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(readOnly),
                body: ByteBuffer(json: #"{"definition": "job"}"#)
            ) {
                #expect($0.status == .forbidden)
                let message = try json($0)["error"]?["message"]?.stringValue ?? ""
                #expect(message.contains("do not grant 'execute'"), "\(message)")
            }
            try await client.execute(uri: "/api/v1/testbeds/\(testbed)", method: .delete, headers: bearer(readOnly)) {
                #expect($0.status == .forbidden)
            }
            let profile = try await client.execute(uri: "/api/v1/profiles", method: .get, headers: bearer(readOnly)) {
                try json($0)["items"]?.arrayValue?.first?["id"]?.stringValue ?? ""
            }
            try await client.execute(
                uri: "/xpresso/api/v2/requests",
                method: .post,
                headers: [
                    .authorization: "Token \(readOnly)", .contentType: "application/json",
                    HTTPField.Name("X-Xpresso-Group")!: "g",
                ],
                body: ByteBuffer(json: #"{"profile": "\#(profile)"}"#)
            ) { response in
                #expect(response.status == .forbidden)
                let body = try json(response)
                #expect(body["detail"] != nil, "XPRESSO's error shape")
            }
            try await client.execute(
                uri: "/cdrouter/api/v1/packages/",
                method: .post,
                headers: bearer(readOnly),
                body: ByteBuffer(json: #"{"name": "p"}"#)
            ) { response in
                #expect(response.status == .forbidden)
                let body = try json(response)
                #expect(body["error"]?.stringValue != nil, "CDRouter's error shape")
            }
            // KernelCI takes the shared names too: read is its get, and nothing more.
            try await client.execute(uri: "/kernelci/job", method: .get, headers: [.authorization: readOnly]) {
                #expect($0.status == .ok)
            }
            let reader = try await token(client, scopes: ["read"])
            try await client.execute(uri: "/kernelci/job", method: .get, headers: [.authorization: reader]) {
                #expect($0.status == .ok)
            }
            try await client.execute(
                uri: "/kernelci/job",
                method: .post,
                headers: [.authorization: reader, .contentType: "application/json"],
                body: ByteBuffer(json: #"{"job": "j", "kernel": "k"}"#)
            ) { #expect($0.status == .forbidden) }
            // Nothing changed.
            try await client.execute(uri: "/api/v1/runs", method: .get, headers: bearer(TestApp.adminToken)) {
                let items = try json($0)["items"]?.arrayValue
                #expect(items?.isEmpty == true)
            }
            try await client.execute(uri: "/api/v1/testbeds/\(testbed)", method: .get, headers: bearer(readOnly)) {
                #expect($0.status == .ok)
            }
        }
    }

    /// Every route of every door, called with a token that lacks the scope the route needs, answers 403: a route
    /// added later without a scope fails here.
    @Test func everyRouteRefusesATokenWithoutItsScope() async throws {
        let app = try await TestApp.make()
        let routes = buildRouter(store: app.store, configuration: app.configuration).routes.map {
            (method: $0.method, path: $0.path.description)
        }
        try await app.test { client in
            // Every scope includes read, so no valid token lacks it (a scope name that grants nothing is refused).
            let lacking: [AccessScope: String] = [
                .write: try await token(client, scopes: ["read"]),
                .execute: try await token(client, scopes: ["write"]),
                .admin: try await token(client, scopes: ["write", "execute"]),
            ]
            var wrong: [String] = []
            for route in routes {
                let key = "\(route.method.rawValue) \(route.path)"
                // Catch-alls (`**`, and a door's own path, which `**` does not match) and the stubs that answer 405
                // for a method a path does not have are no operations.
                if Self.publicRoutes.contains(key) || Dashboard.isDashboardRoute(route.path)
                    || route.path.hasSuffix("**") || ["/xpresso", "/xpresso/api/v2"].contains(route.path)
                    || [.options, .connect, .trace].contains(route.method)
                {
                    continue
                }
                let path =
                    "/"
                    + route.path.split(separator: "/").map {
                        $0.hasPrefix(":") || $0.hasPrefix("*") ? "x0" : String($0)
                    }
                    .joined(separator: "/")
                let scope = RouteScopes.required(method: route.method, path: path)
                guard let token = lacking[scope] else { continue }
                let headers: HTTPFields = [
                    .authorization: path.hasPrefix("/kernelci") ? token : "Bearer \(token)",
                    .contentType: "application/json",
                    HTTPField.Name("X-Xpresso-Group")!: "default",
                ]
                let status = try await client.execute(
                    uri: path,
                    method: route.method,
                    headers: headers,
                    body: ByteBuffer(string: "{}")
                ) {
                    $0.status
                }
                if status != .forbidden && status != .methodNotAllowed {
                    wrong.append("\(key) [\(scope.rawValue)] → \(status.code)")
                }
            }
            #expect(
                wrong.isEmpty,
                "routes that did not refuse a token lacking their scope:\n\(wrong.joined(separator: "\n"))"
            )
        }
    }
}
