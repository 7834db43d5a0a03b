import Foundation
import Hummingbird
import HummingbirdTesting
import ProctorCore
import Testing

@Suite struct NativeAPITests {
    @Test func healthzReportsTheStore() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["status"] == .string("ok"))
                #expect(body["store"]?["backend"] == .string("sqlite"))
            }
        }
    }

    @Test func wrongMethodOnAKnownPathIs405WithAllow() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await client.execute(uri: "/livez", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["status"] == .string("ok"))
            }
            try await client.execute(uri: "/api/v1/whoami", method: .delete, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
                let body = try json(response)
                #expect(body["error"]?["code"] == .string("method_not_allowed"))
            }
            try await client.execute(
                uri: "/api/v1/harnesses/some-id",
                method: .post,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .methodNotAllowed)
                let allowed = Set(
                    (response.headers[.allow] ?? "").split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    }
                )
                #expect(allowed == ["GET", "HEAD", "PATCH", "DELETE"])
            }
            // An unknown path and a missing row stay 404.
            try await client.execute(uri: "/api/v1/no-such-thing", method: .get, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(response.status == .notFound)
            }
            try await client.execute(
                uri: "/api/v1/harnesses/no-such-id",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.allow] == nil)
            }
        }
    }

    @Test func missingOrBadTokenIs401InOneShape() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await client.execute(uri: "/api/v1/harnesses", method: .get) { response in
                #expect(response.status == .unauthorized)
                let body = try json(response)
                #expect(body["error"]?["code"] == .string("unauthorized"))
            }
            try await client.execute(uri: "/api/v1/harnesses", method: .get, headers: bearer("pt_wrong_token_000000")) {
                response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func applyCreatesTheLabAndIsIdempotent() async throws {
        let app = try await TestApp.make()
        let lab = """
            {"groups": [{"name": "lab"}],
             "harnesses": [{"group": "lab", "name": "pytest", "harness": "pytest"}],
             "engines": [{"group": "lab", "name": "local"}],
             "definitions": [{"group": "lab", "name": "demo", "harness": "pytest",
                              "profiles": [{"name": "DEFAULT", "engine": "local", "harnesses": ["pytest"], "priority": 2}]}]}
            """
        try await app.test { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: lab)
            ) { response in
                #expect(response.status == .ok)
                let actions = try json(response)["changes"]?.arrayValue?.compactMap { $0["action"]?.stringValue }
                #expect(actions == ["created", "created", "created", "created", "created"])
            }
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: lab)
            ) { response in
                let actions = try json(response)["changes"]?.arrayValue?.compactMap { $0["action"]?.stringValue }
                #expect(actions?.allSatisfy { $0 == "unchanged" } == true)
            }
            try await client.execute(
                uri: "/api/v1/profiles?filter=priority=2&fields=name,priority",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .ok)
                let items = try json(response)["items"]?.arrayValue ?? []
                #expect(items.count == 1)
                #expect(items.first?["name"] == .string("DEFAULT"))
                #expect(items.first?["engine_id"] == nil)
            }
        }
    }

    @Test func badInputGetsTheRightStatus() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let admin = bearer(TestApp.adminToken)
            try await client.execute(uri: "/api/v1/harnesses?filter=bogus=1", method: .get, headers: admin) {
                response in
                #expect(response.status == .badRequest)
                let body = try json(response)
                #expect(body["error"]?["field"] == .string("bogus"))
            }
            try await client.execute(uri: "/api/v1/harnesses?limit=-1", method: .get, headers: admin) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(
                uri: "/api/v1/harnesses",
                method: .post,
                headers: admin,
                body: ByteBuffer(string: "{not json")
            ) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(
                uri: "/api/v1/harnesses",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "text/plain"],
                body: ByteBuffer(string: "x")
            ) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            try await client.execute(
                uri: "/api/v1/harnesses",
                method: .post,
                headers: admin,
                body: ByteBuffer(json: #"{"group": "default", "name": "h"}"#)
            ) { response in
                #expect(response.status == .created)
                #expect(response.headers[.eTag] != nil)
            }
            try await client.execute(
                uri: "/api/v1/harnesses",
                method: .post,
                headers: admin,
                body: ByteBuffer(json: #"{"group": "default", "name": "h"}"#)
            ) { response in
                #expect(response.status == .conflict)
            }
            try await client.execute(uri: "/api/v1/harnesses/nope", method: .get, headers: admin) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
