import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorStore
import Testing

@testable import ProctorDCI
@testable import ProctorHTTP
@testable import ProctorHTTPKit

/// A response body as JSON, or null (so a check inside a response closure needs no `try`).
private func parsed(_ response: TestResponse) -> JSONValue {
    (try? json(response)) ?? .null
}

/// The DCI dialect under `/dci/api/v1`: auth (HMAC, Basic, Bearer), DCI's envelopes and errors, the job flow,
/// files and results, tenancy. The real dciclient/dcictl run against a live server in `Tests/compat/test_dci.py`.
@Suite struct DCITests {
    static let partnerID = "6cee7286-5d99-4a96-9949-200977f4be07"
    static let partnerSecret = "partner-ci-secret-0123456789abcdef"
    static let otherID = "0b8f8f0e-1111-4222-8333-444455556666"
    static let otherSecret = "other-ci-secret-0123456789abcdef"
    static let feederID = "f33df33d-1111-4222-8333-444455556666"

    /// Two teams: `default` (partner-ci, a feeder, alice, the topic RHEL-8.2 and its components) and `other`
    /// (other-ci, eve).
    static let lab = """
        {"groups": [{"name": "default"}, {"name": "other"}],
         "users": [{"name": "alice", "email": "alice@example.com", "password": "alice-password", "groups": {"default": "admin"}},
                   {"name": "eve", "password": "eve-password", "groups": {"other": "member"}}],
         "remotecis": [{"name": "partner-ci", "client_id": "\(partnerID)", "api_secret": "\(partnerSecret)"},
                       {"name": "other-ci", "group": "other", "client_id": "\(otherID)", "api_secret": "\(otherSecret)"},
                       {"name": "feeder", "client_type": "feeder", "client_id": "\(feederID)", "api_secret": "feeder-secret"}],
         "products": [{"name": "RHEL", "label": "RHEL"}],
         "topics": [{"name": "RHEL-8.2", "product": "RHEL", "component_types": ["Compose", "hwcert"]},
                    {"name": "OTHER-1", "group": "other", "component_types": ["x"]}],
         "components": [{"name": "RHEL-8.2.0-20191028.n.0", "topic": "RHEL-8.2", "type": "Compose"},
                        {"name": "hwcert-1572272875", "topic": "RHEL-8.2", "type": "hwcert", "tags": ["build:ga"]}]}
        """

    static func makeApp() async throws -> TestApp {
        let app = try await TestApp.make()
        _ = try await LabApplier(store: app.store).apply(try JSONValue.decode(Data(lab.utf8)))
        // Newer component of the same type, created after the first one: schedule must pick it.
        let topic = try #require(try await app.store.first(.topics, matching: ["name": .string("RHEL-8.2")]))
        _ = try await app.store.insert(
            Record(
                .components,
                [
                    "group_id": .string(topic.groupID ?? ""), "topic_id": .string(topic.id),
                    "name": .string("RHEL-8.2.0-20191029.n.0"),
                    "type": .string("Compose"), "canonical_project_name": .string("RHEL-8.2.0-20191029.n.0"),
                ]
            )
        )
        return app
    }

    // MARK: Helpers

    /// Headers a DCI client sends: JSON content type, user agent, and the DCI2 signature over the request.
    static func signed(
        _ method: HTTPRequest.Method,
        _ uri: String,
        body: String = "",
        id: String = partnerID,
        secret: String = partnerSecret,
        type: String = "remoteci",
        at date: Date = Date(),
        extra: HTTPFields = [:]
    ) -> HTTPFields {
        let parts = uri.split(separator: "?", maxSplits: 1).map(String.init)
        let request = DCISignature.Request(
            method: method.rawValue,
            path: parts[0],
            query: parts.count > 1 ? parts[1] : nil,
            headers: ["host": "localhost"],
            body: Array(body.utf8)
        )
        var fields: HTTPFields = [
            .contentType: "application/json", .userAgent: "python-dciclient_4.2.0",
            HTTPField.Name("Client-Version")!: "python-dciclient_4.2.0",
        ]
        for (name, value) in DCISignature.sign(request, clientType: type, clientID: id, secret: secret, at: date) {
            fields[HTTPField.Name(name)!] = value
        }
        fields.append(contentsOf: extra)
        return fields
    }

    static func basic(_ user: String, _ password: String) -> HTTPFields {
        [
            .authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString(),
            .contentType: "application/json",
        ]
    }

    /// Sends a request signed as `id`; the body is a JSON text.
    @discardableResult
    static func call(
        _ client: some TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ path: String,
        _ body: String = "",
        id: String = partnerID,
        secret: String = partnerSecret,
        type: String = "remoteci",
        extra: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, body: JSONValue, headers: HTTPFields) {
        let uri = "/dci/api/v1/" + path
        return try await client.execute(
            uri: uri,
            method: method,
            headers: signed(method, uri, body: body, id: id, secret: secret, type: type, extra: extra),
            body: body.isEmpty ? nil : ByteBuffer(string: body)
        ) { response in
            let parsed = response.body.readableBytes == 0 ? JSONValue.null : parsed(response)
            return (response.status, parsed, response.headers)
        }
    }

    static func topicID(_ client: some TestClientProtocol) async throws -> String {
        let (_, body, _) = try await call(client, .get, "topics?where=name:RHEL-8.2")
        return try #require(body["topics"]?.arrayValue?.first?["id"]?.stringValue)
    }

    static func createJob(
        _ client: some TestClientProtocol,
        name: String = "my job",
        id: String = partnerID,
        secret: String = partnerSecret
    )
        async throws -> JSONValue
    {
        let topic = try await topicID(client)
        let (_, components, _) = try await call(client, .get, "topics/\(topic)/components?where=type:hwcert")
        let component = try #require(components["components"]?.arrayValue?.first?["id"]?.stringValue)
        let (status, body, _) = try await call(
            client,
            .post,
            "jobs",
            #"{"topic_id": "\#(topic)", "components": ["\#(component)"], "name": "\#(name)", "tags": ["t1", ""], "remoteci_id": "x"}"#,
            id: id,
            secret: secret
        )
        #expect(status == .created)
        return try #require(body["job"])
    }

    static func isDCIError(_ body: JSONValue, _ status: Int) -> Bool {
        body["status_code"] == .number(Double(status)) && body["message"]?.stringValue != nil
            && body["payload"]?.objectValue != nil
    }

    static let junit = """
        <?xml version="1.0" encoding="utf-8"?>
        <testsuites><testsuite name="suite" tests="4">
          <testcase classname="a" name="ok1" time="1.5"/>
          <testcase classname="a" name="ok2" time="2"/>
          <testcase classname="a" name="bad" time="0.5"><failure message="boom">trace</failure></testcase>
          <testcase classname="a" name="skip"><skipped/></testcase>
        </testsuite></testsuites>
        """

    // MARK: Auth and identity

    /// DCI keeps to its jobs: a run that Proctor executes (here a native launch of the team's job) is not listed,
    /// read, updated, deleted or given a jobstate through DCI; and the core refuses a status report on it from
    /// any door (the native status route too).
    @Test func dciNeitherListsNorChangesRunsThatProctorExecutes() async throws {
        let app = try await Self.makeApp()
        _ = try await LabApplier(store: app.store).apply(
            try JSONValue.decode(
                Data(
                    #"{"engines": [{"group": "default", "name": "far", "type": "agent"}], "definitions": [{"group": "default", "name": "executed", "harness": "shell", "job_file": "sleep 30", "profiles": [{"name": "P", "is_default": true, "engine": "far"}]}]}"#
                        .utf8
                )
            )
        )
        try await app.test { client in
            // Queued for an agent that never comes: it stays active through the test.
            let run = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"definition": "executed"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            let (listed, jobs, _) = try await Self.call(client, .get, "jobs")
            #expect(listed == .ok)
            #expect(jobs["jobs"]?.arrayValue?.contains { $0["id"]?.stringValue == run } == false)
            #expect(try await Self.call(client, .get, "jobs/\(run)").status == .notFound)
            let (stateStatus, stateBody, _) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(run)", "status": "success"}"#
            )
            #expect(stateStatus == .notFound)
            #expect(stateBody["status_code"] == .number(404), "DCI's error shape")
            #expect(
                try await Self.call(client, .put, "jobs/\(run)", #"{"status": "failure"}"#, extra: [.ifMatch: "x"])
                    .status == .notFound
            )
            #expect(try await Self.call(client, .delete, "jobs/\(run)", extra: [.ifMatch: "x"]).status == .notFound)
            try await client.execute(
                uri: "/api/v1/runs/\(run)/status",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"status": "success"}"#)
            ) { response in
                #expect(response.status == .conflict)
            }
            let after = try await client.execute(
                uri: "/api/v1/runs/\(run)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { try json($0) }
            #expect(after["status"] == .string("new"))

            // Nor are its files and events DCI's files and jobstates: not listed, read, downloaded or archived.
            let file = try await client.execute(
                uri: "/api/v1/runs/\(run)/files?name=notes.txt",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "text/plain"],
                body: ByteBuffer(string: "kept out of DCI")
            ) { response in
                #expect(response.status == .created)
                return try json(response)["file"]?["id"]?.stringValue ?? ""
            }
            let event = try await client.execute(
                uri: "/api/v1/runs/\(run)/events",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { try json($0)["items"]?.arrayValue?.first?["id"]?.stringValue ?? "" }
            #expect(!file.isEmpty && !event.isEmpty)
            let (filesStatus, files, _) = try await Self.call(client, .get, "files")
            #expect(filesStatus == .ok)
            #expect(files["files"]?.arrayValue?.contains { $0["id"]?.stringValue == file } == false)
            #expect(files["_meta"]?["count"] == .number(0))
            for path in ["files/\(file)", "files/\(file)/content", "jobstates/\(event)"] {
                let (status, body, _) = try await Self.call(client, .get, path)
                #expect(status == .notFound, "GET \(path)")
                #expect(body["status_code"] == .number(404), "DCI's error shape")
            }
            #expect(try await Self.call(client, .delete, "files/\(file)").status == .notFound)
            try await client.execute(
                uri: "/api/v1/files/\(file)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .ok)
                let state = try json(response)["state"]
                #expect(state != .string("archived"))
            }
        }
    }

    @Test func identityOfARemoteCIHasItsTeamKeyedById() async throws {
        let app = try await Self.makeApp()
        let team = try #require(try await app.store.first(.groups, matching: ["name": .string("default")]))
        try await app.test { client in
            let (status, body, _) = try await Self.call(client, .get, "identity")
            #expect(status == .ok)
            let identity = try #require(body["identity"])
            #expect(identity["id"] == .string(Self.partnerID))
            #expect(identity["name"] == .null)
            #expect(identity["email"] == .null)
            #expect(identity["teams"]?.objectValue?.keys.sorted() == [team.id])
            #expect(identity["teams"]?[team.id]?["team_name"] == .string("default"))
        }
    }

    /// Basic credentials are remembered between requests, but a changed password or a deactivated user
    /// takes effect on the very next one.
    @Test func basicCredentialsFollowPasswordChangesAtOnce() async throws {
        let app = try await Self.makeApp()
        let alice = try #require(try await app.store.first(.users, matching: ["name": .string("alice")]))
        try await app.test { client in
            for headers in [Self.basic("alice", "alice-password"), Self.basic("alice@example.com", "alice-password")] {
                try await client.execute(uri: "/dci/api/v1/identity", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                }
            }
            _ = try await app.store.update(
                .users,
                id: alice.id,
                changes: ["password_hash": .string(try Credentials.hashPassword("alice-newer-password", rounds: 1000))],
                ifMatch: nil,
                scope: .everything
            )
            for headers in [Self.basic("alice", "alice-password"), Self.basic("alice@example.com", "alice-password")] {
                try await client.execute(uri: "/dci/api/v1/identity", method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized)
                    #expect(parsed(response)["message"] == .string("Invalid user credentials"))
                }
            }
            try await client.execute(
                uri: "/dci/api/v1/identity",
                method: .get,
                headers: Self.basic("alice", "alice-newer-password")
            ) {
                response in
                #expect(response.status == .ok)
            }
            _ = try await app.store.update(
                .users,
                id: alice.id,
                changes: ["state": .string("inactive")],
                ifMatch: nil,
                scope: .everything
            )
            try await client.execute(
                uri: "/dci/api/v1/identity",
                method: .get,
                headers: Self.basic("alice", "alice-newer-password")
            ) {
                response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func basicAndBearerAuthenticateUsers() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            for headers in [
                Self.basic("alice", "alice-password"), Self.basic("alice@example.com", "alice-password"),
                Self.basic("alice", "alice-password"),
            ] {
                try await client.execute(uri: "/dci/api/v1/identity", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                    let identity = parsed(response)["identity"]
                    #expect(identity?["name"] == .string("alice"))
                    #expect(identity?["email"] == .string("alice@example.com"))
                    #expect(identity?["etag"]?.stringValue != nil)
                }
            }
            try await client.execute(uri: "/dci/api/v1/identity", method: .get, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(response.status == .ok)
                #expect(parsed(response)["identity"]?["name"] == .string("admin"))
            }
            try await client.execute(uri: "/dci/api/v1/identity", method: .get, headers: Self.basic("alice", "wrong")) {
                response in
                #expect(response.status == .unauthorized)
                let body = parsed(response)
                #expect(Self.isDCIError(body, 401))
                #expect(body["message"] == .string("Invalid user credentials"))
            }
            try await client.execute(uri: "/dci/api/v1/identity", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(parsed(response)["message"] == .string("Authorization header missing"))
            }
            try await client.execute(uri: "/dci/api/v1/identity", method: .get, headers: [.authorization: "Digest x"]) {
                response in
                #expect(response.status == .unauthorized)
                #expect(parsed(response)["message"] == .string("Authorization scheme Digest unknown"))
            }
        }
    }

    /// A kept signing key is the one derived from the secret and scope it is asked for: a client's new secret
    /// (or another day, another scope) is never answered with the key of the old one.
    @Test func aKeptSigningKeyIsTheKeyOfItsSecretAndScope() {
        let keys = SigningKeys()
        let credential = DCISignature.Credential(
            clientType: "remoteci",
            clientID: "ci",
            datestamp: "20261207",
            timestamp: "20261207T120000Z"
        )
        var nextDay = credential
        nextDay.datestamp = "20261208"
        for (secret, credential) in [("old", credential), ("new", credential), ("old", nextDay), ("old", credential)] {
            let derived = DCISignature.signingKey(secret: secret, credential: credential)
            #expect(keys.key(secret: secret, credential: credential) == derived)
        }
        #expect(
            DCISignature.signingKey(secret: "old", credential: credential)
                != DCISignature.signingKey(secret: "new", credential: credential)
        )
    }

    @Test func badSignaturesAreRefusedInDCIsShape() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let uri = "/dci/api/v1/identity"
            // A wrong secret.
            try await client.execute(uri: uri, method: .get, headers: Self.signed(.get, uri, secret: "wrong")) {
                response in
                #expect(response.status == .unauthorized)
                let body = parsed(response)
                #expect(Self.isDCIError(body, 401))
                #expect(body["message"] == .string("HmacMechanism failed: signature is invalid"))
            }
            // Signed 16 minutes ago.
            let old = Self.signed(.get, uri, at: Date().addingTimeInterval(-16 * 60))
            try await client.execute(uri: uri, method: .get, headers: old) { response in
                #expect(response.status == .unauthorized)
                #expect(parsed(response)["message"] == .string("HmacMechanism failed: signature is expired"))
            }
            // 14 minutes of skew is fine.
            let skewed = Self.signed(.get, uri, at: Date().addingTimeInterval(14 * 60))
            try await client.execute(uri: uri, method: .get, headers: skewed) { response in
                #expect(response.status == .ok)
            }
            // A body other than the one signed.
            let jobs = "/dci/api/v1/jobs"
            let headers = Self.signed(.post, jobs, body: #"{"topic_id": "a", "components": []}"#)
            try await client.execute(
                uri: jobs,
                method: .post,
                headers: headers,
                body: ByteBuffer(string: #"{"topic_id": "b", "components": []}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(parsed(response)["message"] == .string("HmacMechanism failed: signature is invalid"))
            }
            // A query other than the one signed.
            try await client.execute(
                uri: "/dci/api/v1/topics?limit=2",
                method: .get,
                headers: Self.signed(.get, "/dci/api/v1/topics?limit=1")
            ) { response in
                #expect(response.status == .unauthorized)
            }
            // An unknown client, a user's id as a client, a malformed header.
            let unknown = Self.signed(.get, uri, id: "00000000-0000-4000-8000-000000000000")
            try await client.execute(uri: uri, method: .get, headers: unknown) { response in
                #expect(response.status == .unauthorized)
                #expect(parsed(response)["message"] == .string("HmacMechanism failed: identity does not exists."))
            }
            try await client.execute(uri: uri, method: .get, headers: Self.signed(.get, uri, type: "user")) {
                response in
                #expect(response.status == .unauthorized)
            }
            var malformed = Self.signed(.get, uri)
            malformed[HTTPField.Name("X-DCI-Date")!] = nil
            try await client.execute(uri: uri, method: .get, headers: malformed) { response in
                #expect(response.status == .badRequest)
                let body = parsed(response)
                #expect(Self.isDCIError(body, 400))
                #expect(body["message"] == .string("HmacMechanism failed: bad or incomplete headers."))
            }
            // A feeder signs as a feeder, not as a remote CI.
            try await client.execute(
                uri: uri,
                method: .get,
                headers: Self.signed(.get, uri, id: Self.feederID, secret: "feeder-secret", type: "feeder")
            ) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: uri,
                method: .get,
                headers: Self.signed(.get, uri, id: Self.feederID, secret: "feeder-secret")
            ) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    // MARK: List conventions

    @Test func topicListFollowsDCIsConventions() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            var (status, body, _) = try await Self.call(client, .get, "topics?where=name:RHEL-8.2")
            #expect(status == .ok)
            #expect(body["_meta"]?["count"] == .number(1))
            let topic = try #require(body["topics"]?.arrayValue?.first)
            #expect(
                topic.objectValue?.keys.sorted() == [
                    "component_types", "created_at", "data", "etag", "export_control", "id", "name", "next_topic_id",
                    "product_id",
                    "state", "updated_at",
                ]
            )
            #expect(topic["component_types"] == .array([.string("Compose"), .string("hwcert")]))
            #expect(topic["next_topic_id"] == .null)
            #expect(topic["created_at"]?.stringValue?.hasSuffix("Z") == false)
            // Case-insensitive, `*` is contains, `+` is a space, the other team's topic is invisible.
            (_, body, _) = try await Self.call(client, .get, "topics?where=name:rhel-8.2")
            #expect(body["_meta"]?["count"] == .number(1))
            (_, body, _) = try await Self.call(client, .get, "topics?where=name:EL-8*")
            #expect(body["_meta"]?["count"] == .number(1))
            (_, body, _) = try await Self.call(client, .get, "topics?where=name:RHEL+8.2")
            #expect(body["_meta"]?["count"] == .number(0))
            (_, body, _) = try await Self.call(client, .get, "topics")
            #expect(body["topics"]?.arrayValue?.map { $0["name"] } == [.string("RHEL-8.2")])
            (_, body, _) = try await Self.call(
                client,
                .get,
                "topics?query=and(eq(state,active),contains(component_types,hwcert))"
            )
            #expect(body["_meta"]?["count"] == .number(1))
            (_, body, _) = try await Self.call(client, .get, "topics?where=next_topic_id:")
            #expect(body["_meta"]?["count"] == .number(1))
            // Past the end: an empty page, the total still counted.
            (_, body, _) = try await Self.call(client, .get, "topics?limit=10&offset=10")
            #expect(body["topics"] == .array([]))
            #expect(body["_meta"]?["count"] == .number(1))

            (status, body, _) = try await Self.call(client, .get, "topics?foo=bar")
            #expect(status == .badRequest)
            #expect(Self.isDCIError(body, 400))
            #expect(body["message"] == .string("Request malformed"))
            #expect(
                body["payload"]?["error"] == .string("Additional properties are not allowed ('foo' was unexpected)")
            )
            (status, body, _) = try await Self.call(client, .get, "topics?where=nope:1")
            #expect(status == .badRequest)
            #expect(body["message"] == .string("Invalid where key: \"nope\""))
            #expect(body["payload"]?["Valid where keys"]?.arrayValue?.contains(.string("name")) == true)
            (status, body, _) = try await Self.call(client, .get, "topics?where=data:1")
            #expect(status == .badRequest)
            (status, body, _) = try await Self.call(client, .get, "topics?sort=-nope")
            #expect(status == .badRequest)
            #expect(body["message"] == .string("Invalid sort key: \"nope\""))
            (status, body, _) = try await Self.call(client, .get, "topics?limit=0")
            #expect(status == .badRequest)
            (status, body, _) = try await Self.call(client, .get, "topics?query=eq(name")
            #expect(status == .badRequest)
            #expect(body["message"]?.stringValue?.hasPrefix("error while parsing the query") == true)
            (status, body, _) = try await Self.call(client, .get, "nothing/here")
            #expect(status == .notFound)
            #expect(Self.isDCIError(body, 404))
        }
    }

    @Test func unknownPathsAndMethodsAnswerInDCIsShape() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            var (status, body, _) = try await Self.call(client, .patch, "jobs", "{}")
            #expect(status == .methodNotAllowed)
            #expect(Self.isDCIError(body, 405))
            (status, body, _) = try await Self.call(client, .put, "topics", "{}")
            #expect(status == .methodNotAllowed)
            (status, body, _) = try await Self.call(client, .get, "jobs/x/nothing")
            #expect(status == .notFound)
            #expect(Self.isDCIError(body, 404))
        }
    }

    @Test func limitDefaultsTo20AndIsClampedTo200() async throws {
        let app = try await Self.makeApp()
        let topic = try #require(try await app.store.first(.topics, matching: ["name": .string("RHEL-8.2")]))
        for index in 0..<205 {
            _ = try await app.store.insert(
                Record(
                    .components,
                    [
                        "group_id": .string(topic.groupID ?? ""), "topic_id": .string(topic.id),
                        "name": .string("c-\(index)"),
                        "type": .string("bulk"),
                    ]
                )
            )
        }
        try await app.test { client in
            let id = topic.id
            var (_, body, _) = try await Self.call(client, .get, "topics/\(id)/components?where=type:bulk")
            #expect(body["components"]?.arrayValue?.count == 20)
            #expect(body["_meta"]?["count"] == .number(205))
            #expect(body["components"]?.arrayValue?.first?["name"] == .string("c-204"))
            (_, body, _) = try await Self.call(
                client,
                .get,
                "topics/\(id)/components?where=type:bulk&limit=500&offset=0"
            )
            #expect(body["components"]?.arrayValue?.count == 200)
            (_, body, _) = try await Self.call(
                client,
                .get,
                "topics/\(id)/components?where=type:bulk&sort=created_at&limit=1&offset=0"
            )
            #expect(body["components"]?.arrayValue?.first?["name"] == .string("c-0"))
            (_, body, _) = try await Self.call(client, .get, "topics/\(id)/components?where=tags:build:ga")
            #expect(body["components"]?.arrayValue?.map { $0["name"] } == [.string("hwcert-1572272875")])
        }
    }

    // MARK: Jobs

    @Test func aJobIsACreatedRunWithItsJobstatesAsEvents() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let job = try await Self.createJob(client)
            let id = try #require(job["id"]?.stringValue)
            #expect(job["status"] == .string("new"))
            #expect(job["remoteci_id"] == .string(Self.partnerID))
            #expect(job["tags"] == .array([.string("t1")]))
            #expect(job["duration"] == .number(0))
            #expect(job["user_agent"] == .string("python-dciclient_4.2.0"))
            #expect(job["client_version"] == .string("python-dciclient_4.2.0"))
            #expect(job["product_id"]?.stringValue != nil)
            for key in ["comment", "previous_job_id", "topic_id_secondary", "update_previous_job_id"] {
                #expect(job[key] == .null, "\(key)")
            }

            var (status, body, headers) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(id)", "status": "pre-run", "comment": ""}"#
            )
            #expect(status == .created)
            #expect(
                body["jobstate"]?.objectValue?.keys.sorted() == ["comment", "created_at", "id", "job_id", "status"]
            )
            #expect(body["jobstate"]?["status"] == .string("pre-run"))
            (status, body, _) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(id)", "status": "running"}"#
            )
            (status, body, _) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(id)", "status": "success"}"#
            )
            #expect(status == .created)

            (status, body, headers) = try await Self.call(client, .get, "jobs/\(id)")
            #expect(status == .ok)
            let full = try #require(body["job"])
            #expect(full["status"] == .string("success"))
            #expect(headers[.eTag] == full["etag"]?.stringValue)
            #expect(full["topic"]?["name"] == .string("RHEL-8.2"))
            #expect(full["remoteci"]?["name"] == .string("partner-ci"))
            #expect(full["team"]?["name"] == .string("default"))
            #expect(full["components"]?.arrayValue?.map { $0["type"] } == [.string("hwcert")])
            #expect(
                full["jobstates"]?.arrayValue?.compactMap { $0["status"]?.stringValue } == [
                    "new", "pre-run", "running", "success",
                ]
            )

            (status, body, _) = try await Self.call(client, .get, "jobs/\(id)/jobstates?sort=created_at")
            #expect(body["_meta"]?["count"] == .number(4))

            // The same run in the native API.
            try await client.execute(uri: "/api/v1/runs/\(id)", method: .get, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(response.status == .ok)
                let run = parsed(response)
                #expect(run["status"] == .string("success"))
                #expect(run["executor"] == .string("client"))
                #expect(run["remoteci_id"] == .string(Self.partnerID))
            }
        }
    }

    @Test func failureWhileNewIsRecordedAsError() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let id = try #require(try await Self.createJob(client)["id"]?.stringValue)
            let (status, body, _) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(id)", "status": "failure"}"#
            )
            #expect(status == .created)
            #expect(body["jobstate"]?["status"] == .string("error"))
            let (_, job, _) = try await Self.call(client, .get, "jobs/\(id)")
            #expect(job["job"]?["status"] == .string("failure"))
            // Any status may follow any.
            let (again, _, _) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(id)", "status": "running"}"#
            )
            #expect(again == .created)
            let (bad, error, _) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(id)", "status": "done"}"#
            )
            #expect(bad == .badRequest)
            #expect(error["message"] == .string("Request malformed"))
        }
    }

    @Test func onlyRemoteCIsCreateJobs() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let topic = try await Self.topicID(client)
            try await client.execute(
                uri: "/dci/api/v1/jobs",
                method: .post,
                headers: Self.basic("alice", "alice-password"),
                body: ByteBuffer(string: #"{"topic_id": "\#(topic)", "components": []}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(parsed(response)["message"] == .string("Only remoteci can create job"))
            }
            let (status, body, _) = try await Self.call(client, .post, "jobs", #"{"topic_id": "\#(topic)"}"#)
            #expect(status == .badRequest)
            #expect(body["payload"]?["error"] == .string("'components' is a required property"))
            let (unknown, _, _) = try await Self.call(
                client,
                .post,
                "jobs",
                #"{"topic_id": "\#(topic)", "components": [], "x": 1}"#
            )
            #expect(unknown == .badRequest)
            let (notJSON, _, _) = try await Self.call(client, .post, "jobs", "{nope")
            #expect(notJSON == .badRequest)
            let (noTopic, missing, _) = try await Self.call(
                client,
                .post,
                "jobs",
                #"{"topic_id": "nope", "components": []}"#
            )
            #expect(noTopic == .notFound)
            #expect(missing["message"] == .string("topic not found"))
        }
    }

    @Test func scheduleTakesTheLatestActiveComponentOfEachType() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let topic = try await Self.topicID(client)
            let (status, body, _) = try await Self.call(
                client,
                .post,
                "jobs/schedule",
                #"{"topic_id": "\#(topic)", "name": "sched"}"#
            )
            #expect(status == .created)
            let id = try #require(body["job"]?["id"]?.stringValue)
            let (_, components, _) = try await Self.call(client, .get, "jobs/\(id)/components")
            let names = components["components"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.sorted()
            #expect(names == ["RHEL-8.2.0-20191029.n.0", "hwcert-1572272875"])

            let (_, other, _) = try await Self.call(
                client,
                .post,
                "jobs/schedule",
                #"{"topic_id": "\#(topic)", "components_ids": ["a"]}"#
            )
            #expect(Self.isDCIError(other, 412))
        }
    }

    @Test func updateAndDeleteNeedTheEtag() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let job = try await Self.createJob(client)
            let id = try #require(job["id"]?.stringValue)
            let etag = try #require(job["etag"]?.stringValue)
            var (status, body, _) = try await Self.call(client, .put, "jobs/\(id)", #"{"comment": "x"}"#)
            #expect(status == .preconditionFailed)
            #expect(body["message"] == .string("'If-match' header must be provided"))
            (status, body, _) = try await Self.call(
                client,
                .put,
                "jobs/\(id)",
                #"{"comment": "x"}"#,
                extra: [.ifMatch: "stale"]
            )
            #expect(status == .conflict)
            (status, body, _) = try await Self.call(
                client,
                .put,
                "jobs/\(id)",
                #"{"comment": "x", "tags": ["a", "b"], "status": "running", "status_reason": "r"}"#,
                extra: [.ifMatch: etag]
            )
            #expect(status == .ok)
            let updated = try #require(body["job"])
            #expect(updated["comment"] == .string("x"))
            #expect(updated["tags"] == .array([.string("a"), .string("b")]))
            #expect(updated["status"] == .string("running"))
            #expect(updated["status_reason"] == .string("r"))
            let newEtag = try #require(updated["etag"]?.stringValue)
            #expect(newEtag != etag)

            (status, _, _) = try await Self.call(client, .delete, "jobs/\(id)")
            #expect(status == .preconditionFailed)
            (status, _, _) = try await Self.call(client, .delete, "jobs/\(id)", extra: [.ifMatch: etag])
            #expect(status == .conflict)
            (status, _, _) = try await Self.call(client, .delete, "jobs/\(id)", extra: [.ifMatch: newEtag])
            #expect(status == .noContent)
            (status, body, _) = try await Self.call(client, .get, "jobs/\(id)")
            #expect(status == .notFound)
            #expect(body["message"] == .string("job not found"))
            (_, body, _) = try await Self.call(client, .get, "jobs")
            #expect(body["_meta"]?["count"] == .number(0))
        }
    }

    /// `embed=jobstates,files,components` on a list gives each job its own rows (read for the whole page at once),
    /// in order, without the archived files or the files of a jobstate.
    @Test func aListEmbedsEachJobsOwnJobstatesFilesAndComponents() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            var ids: [String] = []
            for index in 0..<3 {
                ids.append(try #require(try await Self.createJob(client, name: "e\(index)")["id"]?.stringValue))
            }
            // Job e0: two jobstates; e1: one jobstate and two files; e2: nothing more.
            for (job, status) in [(ids[0], "running"), (ids[0], "success"), (ids[1], "running")] {
                let (created, _, _) = try await Self.call(
                    client,
                    .post,
                    "jobstates",
                    #"{"job_id": "\#(job)", "status": "\#(status)"}"#
                )
                #expect(created == .created)
            }
            let uri = "/dci/api/v1/files"
            for name in ["b.txt", "a.txt"] {
                var headers = Self.signed(.post, uri, body: name)
                headers[HTTPField.Name("DCI-NAME")!] = name
                headers[HTTPField.Name("DCI-JOB-ID")!] = ids[1]
                try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: name)) {
                    #expect($0.status == .created)
                }
            }
            let (status, body, _) = try await Self.call(
                client,
                .get,
                "jobs?sort=created_at&limit=10&embed=jobstates,files,components,topic"
            )
            #expect(status == .ok)
            let jobs = try #require(body["jobs"]?.arrayValue)
            #expect(jobs.map { $0["id"]?.stringValue ?? "" } == ids)
            #expect(
                jobs.map { ($0["jobstates"]?.arrayValue ?? []).compactMap { $0["status"]?.stringValue } }
                    == [["new", "running", "success"], ["new", "running"], ["new"]]
            )
            #expect(
                jobs.map { ($0["files"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue } } == [
                    [], ["b.txt", "a.txt"], [],
                ]
            )
            for job in jobs {
                #expect(job["jobstates"]?.arrayValue?.allSatisfy { $0["job_id"] == job["id"] } == true)
                #expect(job["components"]?.arrayValue?.count == 1)
                #expect(job["topic"]?["name"] == .string("RHEL-8.2"))
            }

            // With all seven embeds, the list (written straight to bytes, each shared row encoded once) says what
            // the search's documents say (rendered as JSON values), in canonical JSON: keys sorted, compact.
            let all = "topic,remoteci,team,components,results,jobstates,files"
            let listURI = "/dci/api/v1/jobs?sort=created_at&limit=10&embed=\(all)"
            let raw = try await client.execute(
                uri: listURI,
                method: .get,
                headers: Self.signed(.get, listURI, body: "")
            ) {
                #expect($0.status == .ok)
                return Array($0.body.readableBytesView)
            }
            let listed = try JSONValue.decode(Data(raw))
            #expect(listed.encodedBytes() == raw)
            let (_, found, _) = try await Self.call(
                client,
                .get,
                "analytics/jobs?sort=created_at&limit=10&query=name%3D~'e.*'"
            )
            let sources = try #require(found["hits"]?["hits"]?.arrayValue).compactMap { $0["_source"] }
            let everything = try #require(listed["jobs"]?.arrayValue)
            #expect(sources.count == 3)
            #expect(everything == sources)
            #expect(everything.allSatisfy { $0["team"]?["name"] == .string("default") && $0["remoteci"] != .null })
            #expect(listed["_meta"] == .object(["count": .number(3)]))
        }
    }

    @Test func jobListEmbedsAndFilters() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            for index in 0..<3 { _ = try await Self.createJob(client, name: "job-\(index)") }
            var (status, body, _) = try await Self.call(
                client,
                .get,
                "jobs?sort=-created_at&limit=2&offset=0&where=state:active&embed=topic,remoteci,team"
            )
            #expect(status == .ok)
            #expect(body["_meta"]?["count"] == .number(3))
            let jobs = try #require(body["jobs"]?.arrayValue)
            #expect(jobs.map { $0["name"] } == [.string("job-2"), .string("job-1")])
            #expect(jobs[0]["topic"]?["name"] == .string("RHEL-8.2"))
            #expect(jobs[0]["remoteci"]?["name"] == .string("partner-ci"))
            #expect(jobs[0]["team"]?["name"] == .string("default"))
            (_, body, _) = try await Self.call(client, .get, "jobs?where=tags:t1,name:job-1")
            #expect(body["_meta"]?["count"] == .number(1))
            (_, body, _) = try await Self.call(client, .get, "jobs?query=or(eq(name,job-0),eq(name,job-2))")
            #expect(body["_meta"]?["count"] == .number(2))
            let product = try #require(jobs[0]["product_id"]?.stringValue)
            (_, body, _) = try await Self.call(client, .get, "jobs?where=product_id:\(product)")
            #expect(body["_meta"]?["count"] == .number(3))
            (status, body, _) = try await Self.call(client, .get, "jobs?where=status:new&sort=-name")
            #expect(body["jobs"]?.arrayValue?.first?["name"] == .string("job-2"))
        }
    }

    /// `dcictl job-search` sends `POST /analytics/jobs?sort=-created_at&limit=10&offset=0&query=…` without a
    /// body; the control server answers with its analytics service's Elasticsearch result.
    @Test func jobSearchAnswersAsTheAnalyticsService() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            var ids: [String] = []
            for index in 0..<3 {
                ids.append(try #require(try await Self.createJob(client, name: "job-\(index)")["id"]?.stringValue))
            }
            func search(
                _ arguments: String,
                method: HTTPRequest.Method = .post,
                id: String = Self.partnerID,
                secret: String = Self.partnerSecret
            ) async throws -> (HTTPResponse.Status, JSONValue) {
                let (status, body, _) = try await Self.call(
                    client,
                    method,
                    "analytics/jobs?" + arguments,
                    id: id,
                    secret: secret
                )
                return (status, body)
            }
            func hit(_ id: String, _ source: JSONValue) -> JSONValue {
                .object(["_index": .string("jobs"), "_id": .string(id), "_score": .null, "_source": source])
            }
            let empty = JSONValue.object(["_meta": .object([:])])

            // `=~` is a case-insensitive regular expression over the whole value; sorted, paged, trimmed by
            // `includes` (a dotted path keeps part of an embedded object).
            var (status, body) = try await search(
                "sort=-created_at&limit=2&offset=0&includes=id,name,team.name"
                    + "&query=(name%3D'job-1')%20or%20(name%3D~'JOB-%5B02%5D')"
            )
            #expect(status == .ok)
            #expect(
                body
                    == .object([
                        "hits": .object([
                            "total": .object(["value": .number(3), "relation": .string("eq")]),
                            "max_score": .null,
                            "hits": .array([
                                hit(
                                    ids[2],
                                    .object([
                                        "id": .string(ids[2]), "name": .string("job-2"),
                                        "team": .object(["name": .string("default")]),
                                    ])
                                ),
                                hit(
                                    ids[1],
                                    .object([
                                        "id": .string(ids[1]), "name": .string("job-1"),
                                        "team": .object(["name": .string("default")]),
                                    ])
                                ),
                            ]),
                        ]),
                        "_meta": .object([:]),
                    ])
            )
            // Fields of the job's topic, remote CI and team; `in` on tags; GET as well as POST.
            (status, body) = try await search(
                "sort=name&includes=name&query=(tags%20in%20['t1'])%20and%20(topic.name%3D'RHEL-8.2')"
                    + "%20and%20(remoteci.name%3D'partner-ci')",
                method: .get
            )
            #expect(status == .ok)
            #expect(
                body["hits"]?["hits"]
                    == .array((0..<3).map { hit(ids[$0], .object(["name": .string("job-\($0)")])) })
            )
            // The document is the job with what `GET /jobs/{id}` embeds, but `data`; `excludes` drops fields.
            (status, body) = try await search("query=name%3D'job-0'&excludes=topic,team.id")
            let source = try #require(body["hits"]?["hits"]?.arrayValue?.first?["_source"])
            #expect(source["id"] == .string(ids[0]))
            #expect(source["topic"] == nil)
            #expect(source["team"]?["id"] == nil)
            #expect(source["team"]?["name"] == .string("default"))
            #expect(source["remoteci"]?["name"] == .string("partner-ci"))
            #expect(source["components"]?.arrayValue?.count == 1)
            #expect(source["jobstates"] != nil && source["data"] == nil)
            // No hit: the analytics service keeps only `_meta`. `=` is exact, `not_in` excludes.
            for query in ["name%3D'JOB-1'", "(name%3D'job-1')%20and%20(tags%20not_in%20['t1'])", "team.name%3D'other'"]
            {
                #expect(try await search("query=" + query) == (.ok, empty), "\(query)")
            }
            // Another team's remote CI sees none of these jobs; a user of the team sees them all.
            #expect(
                try await search("query=name%3D'job-1'", id: Self.otherID, secret: Self.otherSecret) == (.ok, empty)
            )
            try await client.execute(
                uri: "/dci/api/v1/analytics/jobs?query=name%3D~'job-.*'",
                method: .post,
                headers: Self.basic("alice", "alice-password")
            ) { response in
                #expect(response.status == .ok)
                #expect(parsed(response)["hits"]?["total"]?["value"] == .number(3))
            }
            // Errors in DCI's shape.
            func failure(_ detail: JSONValue) -> JSONValue {
                .object([
                    "status_code": .number(400), "message": .string("syntax error while parsing the query"),
                    "payload": detail,
                ])
            }
            #expect(
                try await search("limit=5")
                    == (.badRequest, failure(.object(["error": .string("the query parameter is required")])))
            )
            #expect(
                try await search("query=(name%3D'x'")
                    == (
                        .badRequest,
                        failure(
                            .object([
                                "error": .string(
                                    "invalid query '(name='x'': expected ')' after a condition but found the end of the query"
                                )
                            ])
                        )
                    )
            )
            (status, body) = try await search("query=owner%3D'x'")
            #expect(status == .badRequest)
            #expect(body["payload"]?["error"] == .string("unknown field 'owner'"))
            #expect(body["payload"]?["Valid fields"]?.arrayValue?.contains(.string("topic.name")) == true)
            // A search reads: a read-only token may post it.
            #expect(RouteScopes.required(method: .post, path: "/dci/api/v1/analytics/jobs") == .read)
        }
    }

    @Test func keyValuesAndTags() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let id = try #require(try await Self.createJob(client)["id"]?.stringValue)
            var (status, body, _) = try await Self.call(
                client,
                .post,
                "jobs/\(id)/kv",
                #"{"key": "score", "value": 1.5}"#
            )
            #expect(status == .created)
            #expect(body["kv"]?["value"] == .number(1.5))
            (status, _, _) = try await Self.call(client, .post, "jobs/\(id)/kv", #"{"key": "score", "value": 2}"#)
            #expect(status == .conflict)
            (_, body, _) = try await Self.call(client, .get, "jobs/\(id)")
            #expect(body["job"]?["keys_values"]?.arrayValue?.first?["key"] == .string("score"))
            (status, _, _) = try await Self.call(client, .delete, "jobs/\(id)/kv", #"{"key": "score"}"#)
            #expect(status == .noContent)
            (_, body, _) = try await Self.call(client, .get, "jobs/\(id)")
            #expect(body["job"]?["keys_values"] == .array([]))
        }
    }

    // MARK: Files and results

    @Test func junitUploadsBecomeResults() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let id = try #require(try await Self.createJob(client)["id"]?.stringValue)
            let uri = "/dci/api/v1/files"
            var headers = Self.signed(.post, uri, body: Self.junit)
            headers[HTTPField.Name("DCI-NAME")!] = "junit.xml"
            headers[HTTPField.Name("DCI-MIME")!] = "application/junit"
            headers[HTTPField.Name("DCI-JOB-ID")!] = id
            headers[.contentType] = "application/junit"
            let file = try await client.execute(
                uri: uri,
                method: .post,
                headers: headers,
                body: ByteBuffer(string: Self.junit)
            ) { response in
                #expect(response.status == .created)
                return parsed(response)["file"]
            }
            #expect(
                file?.objectValue?.keys.sorted() == [
                    "created_at", "etag", "id", "job_id", "jobstate_id", "md5", "mime", "name", "size", "state",
                    "team_id", "updated_at",
                ]
            )
            #expect(file?["size"] == .string(String(Self.junit.utf8.count)))
            #expect(file?["mime"] == .string("application/junit"))
            // Without DCI-MIME and with a JSON content type over XML (dcictl without --mime): never parsed as JSON.
            var plain = Self.signed(.post, uri, body: Self.junit)
            plain[HTTPField.Name("DCI-NAME")!] = "again.xml"
            plain[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(uri: uri, method: .post, headers: plain, body: ByteBuffer(string: Self.junit)) {
                response in
                #expect(response.status == .created)
            }
            // A log, any bytes.
            var log = Self.signed(.post, uri, body: "not json {")
            log[HTTPField.Name("DCI-NAME")!] = "log.txt"
            log[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(uri: uri, method: .post, headers: log, body: ByteBuffer(string: "not json {")) {
                response in
                #expect(response.status == .created)
            }

            var (status, body, _) = try await Self.call(client, .get, "jobs/\(id)/results")
            #expect(status == .ok)
            #expect(body["_meta"]?["count"] == .number(2))
            let result = try #require(body["results"]?.arrayValue?.first)
            #expect(result["name"] == .string("junit.xml"))
            #expect(result["total"] == .number(4))
            #expect(result["success"] == .number(2))
            #expect(result["failures"] == .number(1))
            #expect(result["errors"] == .number(0))
            #expect(result["skips"] == .number(1))
            #expect(result["time"] == .number(4))
            // The summary is the core's: counted again from the stored cases, it is the one the ingest gave.
            let counted = try await RunFiles(store: app.store, root: URL(fileURLWithPath: "/nonexistent")).results(
                fileID: try #require(file?["id"]?.stringValue),
                runID: id
            )
            #expect(
                counted == RunFiles.FileResults(tests: TestSummary(total: 4, passed: 2, failed: 1, skipped: 1), time: 4)
            )

            (_, body, _) = try await Self.call(client, .get, "jobs/\(id)/files?sort=created_at")
            #expect(
                body["files"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [
                    "junit.xml", "again.xml", "log.txt",
                ]
            )
            let fileID = try #require(file?["id"]?.stringValue)
            try await client.execute(
                uri: "/dci/api/v1/files/\(fileID)/content",
                method: .get,
                headers: Self.signed(.get, "/dci/api/v1/files/\(fileID)/content")
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == Self.junit)
                #expect(response.headers[.contentDisposition] == "attachment; filename=\"junit.xml\"")
            }
            // The cases are core test results of the run.
            try await client.execute(uri: "/api/v1/runs/\(id)", method: .get, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(parsed(response)["tests_total"] == .number(8))
            }
            (status, _, _) = try await Self.call(client, .delete, "files/\(fileID)")
            #expect(status == .noContent)
            (_, body, _) = try await Self.call(client, .get, "jobs/\(id)/results")
            #expect(body["_meta"]?["count"] == .number(1))
            (status, _, _) = try await Self.call(client, .get, "files/\(fileID)")
            #expect(status == .notFound)
        }
    }

    /// A JUnit file cut off after more cases than one stored batch: a 400 "Invalid XML", and none of its cases
    /// stay (the job's other results are untouched).
    @Test func aTruncatedJUnitUploadLeavesNoResults() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let id = try #require(try await Self.createJob(client)["id"]?.stringValue)
            let uri = "/dci/api/v1/files"
            func upload(_ name: String, _ body: String) async throws -> (HTTPResponse.Status, JSONValue) {
                var headers = Self.signed(.post, uri, body: body)
                headers[HTTPField.Name("DCI-NAME")!] = name
                headers[HTTPField.Name("DCI-MIME")!] = "application/junit"
                headers[HTTPField.Name("DCI-JOB-ID")!] = id
                return try await client.execute(
                    uri: uri,
                    method: .post,
                    headers: headers,
                    body: ByteBuffer(string: body)
                ) {
                    ($0.status, parsed($0))
                }
            }
            #expect(try await upload("junit.xml", Self.junit).0 == .created)
            let cases = (0..<1_500).map { #"<testcase classname="c" name="t\#($0)" time="0.1"/>"# }.joined(
                separator: "\n"
            )
            let truncated = "<testsuites><testsuite name=\"big\">\n" + cases + "\n<testcase classname=\"c\" name=\"cut"
            let (status, error) = try await upload("big.xml", truncated)
            #expect(status == .badRequest)
            #expect(Self.isDCIError(error, 400))
            #expect(error["message"]?.stringValue?.hasPrefix("Invalid XML: ") == true)

            let (_, results, _) = try await Self.call(client, .get, "jobs/\(id)/results")
            #expect(results["results"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["junit.xml"])
            try await client.execute(uri: "/api/v1/runs/\(id)", method: .get, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(parsed(response)["tests_total"] == .number(4))
            }
        }
    }

    @Test func fileUploadsAreChecked() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let id = try #require(try await Self.createJob(client)["id"]?.stringValue)
            let uri = "/dci/api/v1/files"
            var noName = Self.signed(.post, uri, body: "x")
            noName[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(uri: uri, method: .post, headers: noName, body: ByteBuffer(string: "x")) {
                response in
                #expect(response.status == .badRequest)
                #expect(parsed(response)["message"] == .string("HTTP header DCI-NAME must be specified"))
            }
            var noJob = Self.signed(.post, uri, body: "x")
            noJob[HTTPField.Name("DCI-NAME")!] = "x"
            try await client.execute(uri: uri, method: .post, headers: noJob, body: ByteBuffer(string: "x")) {
                response in
                #expect(response.status == .badRequest)
            }
            var bad = Self.signed(.post, uri, body: "<testsuite><testcase")
            bad[HTTPField.Name("DCI-NAME")!] = "bad.xml"
            bad[HTTPField.Name("DCI-MIME")!] = "application/junit"
            bad[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(
                uri: uri,
                method: .post,
                headers: bad,
                body: ByteBuffer(string: "<testsuite><testcase")
            ) { response in
                #expect(response.status == .badRequest)
                #expect(parsed(response)["message"]?.stringValue?.hasPrefix("Invalid XML") == true)
            }
        }
    }

    @Test func filesAreLimitedTo20MiB() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let id = try #require(try await Self.createJob(client)["id"]?.stringValue)
            let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: DCIAPI.maxBodyBytes + 1)
            // Signed: the signature check reads the body and stops at the limit.
            var signed = Self.signed(.post, "/dci/api/v1/files", body: "")
            signed[HTTPField.Name("DCI-NAME")!] = "big.log"
            signed[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(uri: "/dci/api/v1/files", method: .post, headers: signed, body: big) { response in
                #expect(response.status == .contentTooLarge)
                #expect(Self.isDCIError(parsed(response), 413))
            }
            // A user: the upload itself stops at the limit.
            var basic = Self.basic("alice", "alice-password")
            basic[HTTPField.Name("DCI-NAME")!] = "big.log"
            basic[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(uri: "/dci/api/v1/files", method: .post, headers: basic, body: big) { response in
                #expect(response.status == .contentTooLarge)
            }
            let exact = ByteBuffer(repeating: UInt8(ascii: "x"), count: DCIAPI.maxBodyBytes)
            try await client.execute(uri: "/dci/api/v1/files", method: .post, headers: basic, body: exact) { response in
                #expect(response.status == .created)
                #expect(parsed(response)["file"]?["size"] == .string(String(DCIAPI.maxBodyBytes)))
            }
        }
    }

    // MARK: Tenancy

    @Test func anotherTeamSeesNothing() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            let job = try await Self.createJob(client)
            let id = try #require(job["id"]?.stringValue)
            let other = (id: Self.otherID, secret: Self.otherSecret)
            var (status, body, _) = try await Self.call(client, .get, "jobs/\(id)", id: other.id, secret: other.secret)
            #expect(status == .notFound)
            #expect(Self.isDCIError(body, 404))
            (_, body, _) = try await Self.call(client, .get, "jobs", id: other.id, secret: other.secret)
            #expect(body["_meta"]?["count"] == .number(0))
            (status, _, _) = try await Self.call(
                client,
                .post,
                "jobstates",
                #"{"job_id": "\#(id)", "status": "success"}"#,
                id: other.id,
                secret: other.secret
            )
            #expect(status == .notFound)
            (status, _, _) = try await Self.call(
                client,
                .put,
                "jobs/\(id)",
                #"{"comment": "x"}"#,
                id: other.id,
                secret: other.secret,
                extra: [.ifMatch: job["etag"]?.stringValue ?? ""]
            )
            #expect(status == .notFound)
            (_, body, _) = try await Self.call(
                client,
                .get,
                "topics?where=name:RHEL-8.2",
                id: other.id,
                secret: other.secret
            )
            #expect(body["_meta"]?["count"] == .number(0))
            let uri = "/dci/api/v1/files"
            var headers = Self.signed(.post, uri, body: "x", id: other.id, secret: other.secret)
            headers[HTTPField.Name("DCI-NAME")!] = "x"
            headers[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: "x")) {
                response in
                #expect(response.status == .notFound)
            }
            // A user of the other team, by Basic auth.
            try await client.execute(
                uri: "/dci/api/v1/jobs/\(id)",
                method: .get,
                headers: Self.basic("eve", "eve-password")
            ) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(
                uri: "/dci/api/v1/jobs/\(id)",
                method: .get,
                headers: Self.basic("alice", "alice-password")
            ) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func topicsAndComponentsAreCreatedByAdminsAndFeeders() async throws {
        let app = try await Self.makeApp()
        try await app.test { client in
            try await client.execute(
                uri: "/dci/api/v1/topics",
                method: .post,
                headers: Self.basic("alice", "alice-password"),
                body: ByteBuffer(
                    string:
                        #"{"name": "OCP-4.12", "state": "active", "component_types": ["ocp"], "export_control": false}"#
                )
            ) { response in
                #expect(response.status == .created)
                #expect(parsed(response)["topic"]?["name"] == .string("OCP-4.12"))
            }
            let (_, topics, _) = try await Self.call(client, .get, "topics?where=name:OCP-4.12")
            let topic = try #require(topics["topics"]?.arrayValue?.first?["id"]?.stringValue)
            // A remote CI may not; a feeder may.
            let body =
                #"{"display_name": "OpenShift", "version": "4.12.1", "type": "OCP", "topic_id": "\#(topic)", "tags": ["ga"]}"#
            var (status, _, _) = try await Self.call(client, .post, "components", body)
            #expect(status == .unauthorized)
            var created: JSONValue
            (status, created, _) = try await Self.call(
                client,
                .post,
                "components",
                body,
                id: Self.feederID,
                secret: "feeder-secret",
                type: "feeder"
            )
            #expect(status == .created)
            #expect(created["component"]?["display_name"] == .string("OpenShift"))
            #expect(created["component"]?["version"] == .string("4.12.1"))
            #expect(created["component"]?["type"] == .string("ocp"))
            var found: JSONValue
            (status, found, _) = try await Self.call(
                client,
                .get,
                "topics/\(topic)/components?where=type:ocp,tags:ga&sort=-released_at&limit=1&offset=0"
            )
            #expect(found["_meta"]?["count"] == .number(1))
            // Without display_name and version: the name, and the version DCI reads from it.
            let rhel = #"{"name": "RHEL-8.2.0-20191029.n.0", "type": "Compose", "topic_id": "\#(topic)"}"#
            (status, created, _) = try await Self.call(
                client,
                .post,
                "components",
                rhel,
                id: Self.feederID,
                secret: "feeder-secret",
                type: "feeder"
            )
            #expect(status == .created)
            #expect(created["component"]?["display_name"] == .string("RHEL-8.2.0-20191029.n.0"))
            #expect(created["component"]?["version"] == .string("8.2.0-20191029.n.0"))
            (_, found, _) = try await Self.call(client, .get, "components?where=display_name:OpenShift")
            #expect(found["components"]?.arrayValue?.compactMap { $0["version"]?.stringValue } == ["4.12.1"])
            // Filters read the stored display_name and version, the values the answers show.
            (_, found, _) = try await Self.call(client, .get, "components?where=version:4.12.1")
            #expect(found["components"]?.arrayValue?.compactMap { $0["display_name"]?.stringValue } == ["OpenShift"])
            // A component from `proctor apply` gets the same display_name and version as one from the API.
            (_, found, _) = try await Self.call(client, .get, "components?where=version:8.2.0-20191028.n.0")
            #expect(
                found["components"]?.arrayValue?.compactMap { $0["display_name"]?.stringValue } == [
                    "RHEL-8.2.0-20191028.n.0"
                ]
            )
        }
    }

    @Test func componentVersionsAreReadFromNamesAsDCIDoes() {
        #expect(ComponentNaming.version(fromName: "ansible:2.9.1") == "2.9.1")
        #expect(ComponentNaming.version(fromName: "pkg@1.0") == "1.0")
        #expect(ComponentNaming.version(fromName: "OpenShift 4.12 rc 1") == "1")
        #expect(ComponentNaming.version(fromName: "RHOS-17.1-RHEL-9-20240101") == "17.1-RHEL-9-20240101")
        #expect(ComponentNaming.version(fromName: "hwcert-1572272875") == "")
    }
}
