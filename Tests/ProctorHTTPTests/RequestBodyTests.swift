import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorStore
import Testing

/// Native request bodies are decoded into their request types: a member that is missing or of the wrong type is
/// a 400 naming it (its dotted path), and nothing is stored.
@Suite struct RequestBodyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var uri: String
        var body: String
        var field: String
        var message: String
        var testDescription: String { "\(uri) \(body)" }
    }

    static let cases: [Case] = [
        Case(
            uri: "/api/v1/runs",
            body: #"{"group": "default", "labels": {"branch": 1}}"#,
            field: "labels.branch",
            message: "field 'labels.branch' must be a string"
        ),
        Case(
            uri: "/api/v1/runs",
            body: #"{"group": "default", "tags": ["a", false]}"#,
            field: "tags.1",
            message: "field 'tags.1' must be a string"
        ),
        Case(
            uri: "/api/v1/runs",
            body: #"{"definition": ""}"#,
            field: "definition",
            message: "field 'definition' must be a job definition's id or name"
        ),
        Case(
            uri: "/api/v1/runs",
            body: #"{"group": "default", "options": []}"#,
            field: "options",
            message: "field 'options' must be an object"
        ),
        Case(
            uri: "/api/v1/agents/register",
            body: #"{"labels": ["linux"]}"#,
            field: "name",
            message: "field 'name' is required"
        ),
        Case(
            uri: "/api/v1/agents/register",
            body: #"{"name": "a1", "slots": 0}"#,
            field: "slots",
            message: "field 'slots' must be between 1 and 1000"
        ),
        Case(
            uri: "/api/v1/agents/register",
            body: #"{"name": "a1", "slots": "2"}"#,
            field: "slots",
            message: "field 'slots' must be a number"
        ),
        Case(
            uri: "/api/v1/auth/login",
            body: #"{"password": "secret-password"}"#,
            field: "name",
            message: "field 'name' is required"
        ),
        Case(
            uri: "/api/v1/tokens",
            body: #"{"name": "ci", "expires_in": 1.5}"#,
            field: "expires_in",
            message: "field 'expires_in' must be an integer"
        ),
        Case(
            uri: "/api/v1/tokens",
            body: #"{"name": "ci", "scope": ["read"]}"#,
            field: "scope",
            message: "unknown field 'scope'; valid fields: expires_at, expires_in, name, scopes"
        ),
    ]

    @Test(arguments: cases)
    func aMemberOfTheWrongShapeIsABadRequestNamingIt(_ item: Case) async throws {
        let app = try await TestApp.make()
        let store = app.store
        try await app.test { client in
            try await client.execute(
                uri: item.uri,
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(string: item.body)
            ) { response in
                #expect(response.status == .badRequest)
                let error = try json(response)["error"]
                #expect(error?["message"] == .string(item.message), "\(String(describing: error))")
                #expect(error?["field"] == .string(item.field))
            }
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == 0)
            #expect(try await store.count(.agents, query: Query(), scope: .everything) == 0)
        }
    }

    @Test func aStatusReportWithoutStatusOrNotAnObjectIsRefused() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let id = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(string: #"{"group": "default", "name": "reported", "labels": {"branch": "main"}}"#)
            ) { response in
                #expect(response.status == .created)
                let run = try json(response)
                #expect(run["labels"] == .object(["branch": .string("main")]))
                #expect(run["executor"] == .string("client"))
                return run["id"]?.stringValue ?? ""
            }
            for (body, message) in [
                (#"{"comment": "no status"}"#, "field 'status' is required"),
                (#"["success"]"#, "the body must be a JSON object"),
                (#"{"status": "#, "the body is not valid JSON"),
                (#"{"status": "sideways"}"#, nil),
            ] {
                try await client.execute(
                    uri: "/api/v1/runs/\(id)/status",
                    method: .post,
                    headers: bearer(TestApp.adminToken),
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    let text = try json(response)["error"]?["message"]?.stringValue ?? ""
                    if let message { #expect(text == message) } else { #expect(text.hasPrefix("unknown status")) }
                }
            }
            try await client.execute(
                uri: "/api/v1/runs/\(id)/status",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(string: #"{"status": "running", "comment": "go"}"#)
            ) { response in
                #expect(response.status == .created)
                let reply = try json(response)
                #expect(reply["run"]?["status"] == .string("running"))
                #expect(reply["event"]?["comment"] == .string("go"))
                // Written straight from the two rows, the bytes are those of the same object built as a value.
                #expect(String(buffer: response.body) == reply.encodedString())
            }
        }
    }

    @Test func anAgentPhaseReportNamesItsClaimant() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let id = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(string: #"{"group": "default"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            for (path, body, message) in [
                ("advance", #"{"status": "running"}"#, "field 'claimant' is required"),
                (
                    "advance", #"{"claimant": "agent:x", "status": "post-run", "exit_code": 1.5}"#,
                    "field 'exit_code' must be an integer"
                ),
                ("heartbeat", #"{"claimant": 7}"#, "field 'claimant' must be a string"),
            ] {
                try await client.execute(
                    uri: "/api/v1/runs/\(id)/\(path)",
                    method: .post,
                    headers: bearer(TestApp.adminToken),
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    let error = try json(response)["error"]
                    #expect(error?["message"] == .string(message))
                }
            }
        }
    }
}
