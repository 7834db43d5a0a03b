import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import Testing

/// Three groups: no call by a member of one group reads, lists, counts or changes another group's runs,
/// through any door: ids, filters, sort keys, projections, events, logs, files, test results or ETags.
@Suite struct TenancyTests {
    static let lab = """
        {"groups": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
         "users": [{"name": "ann", "password": "ann-password-1", "groups": {"a": "member"}},
                   {"name": "ben", "password": "ben-password-1", "groups": {"b": "member"}},
                   {"name": "cat", "password": "cat-password-1", "groups": {"c": "viewer"}}],
         "tokens": [{"user": "ann", "name": "t", "value": "pt_tenancy_ann_token_000000"},
                    {"user": "ben", "name": "t", "value": "pt_tenancy_ben_token_000000"},
                    {"user": "cat", "name": "t", "value": "pt_tenancy_cat_token_000000"}],
         "definitions": [{"group": "c", "name": "c-job", "harness": "shell", "job_file": "true",
                          "profiles": [{"name": "DEFAULT", "is_default": true}]}]}
        """
    static let ann = "pt_tenancy_ann_token_000000"
    static let ben = "pt_tenancy_ben_token_000000"
    static let cat = "pt_tenancy_cat_token_000000"

    func call(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String,
        body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, body: String, headers: HTTPFields) {
        var headers = bearer(token)
        for field in extra { headers[field.name] = field.value }
        return try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: body.map { ByteBuffer(string: $0) }
        ) {
            ($0.status, String(buffer: $0.body), $0.headers)
        }
    }

    @Test func anotherGroupsRunIsInvisibleThroughEveryDoor() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            #expect(
                try await call(client, .post, "/api/v1/apply", token: TestApp.adminToken, body: Self.lab).status == .ok
            )
            // Ann's run in group a, with a log, a result file and an event.
            let created = try await call(
                client,
                .post,
                "/api/v1/runs",
                token: Self.ann,
                body: #"{"name": "secret-run", "labels": {"kernel": "v1"}}"#
            )
            #expect(created.status == .created)
            let run = try #require(JSONValue.decode(created.body))
            let id = try #require(run["id"]?.stringValue)
            let etag = try #require(created.headers[.eTag])
            #expect(
                try await call(client, .post, "/api/v1/runs/\(id)/log", token: Self.ann, body: "top secret\n").status
                    == .created
            )
            let upload = try await call(
                client,
                .post,
                "/api/v1/runs/\(id)/files?name=junit.xml",
                token: Self.ann,
                body: #"<testsuite name="s"><testcase classname="c" name="t"/></testsuite>"#,
                headers: [.contentType: "application/junit"]
            )
            #expect(upload.status == .created)
            let fileID = try #require(JSONValue.decode(upload.body)?["file"]?["id"]?.stringValue)

            // Ann sees it all.
            #expect(try await call(client, .get, "/api/v1/runs/\(id)", token: Self.ann).status == .ok)
            #expect(try await call(client, .get, "/api/v1/files/\(fileID)/content", token: Self.ann).status == .ok)

            // Ben (group b) gets 404 by id, and nothing through lists, filters, counts, sort keys or projections.
            for uri in [
                "/api/v1/runs/\(id)", "/api/v1/runs/\(id)/log", "/api/v1/runs/\(id)/events", "/api/v1/runs/\(id)/tests",
                "/api/v1/runs/\(id)/files", "/api/v1/files/\(fileID)", "/api/v1/files/\(fileID)/content",
                "/api/v1/runs/\(id)/log/summary",
            ] {
                let answer = try await call(client, .get, uri, token: Self.ben)
                #expect(answer.status == .notFound, "\(uri)")
                #expect(!answer.body.contains("secret"), "\(uri)")
            }
            for uri in [
                "/api/v1/runs?count=true", "/api/v1/runs?filter=id=\(id)&count=true",
                "/api/v1/runs?filter=name=secret-run&count=true",
                "/api/v1/runs?filter=labels.kernel=v1&count=true",
                "/api/v1/runs?sort=-group_id&fields=group_id,name&count=true",
                "/api/v1/events?after=0&limit=1000",
            ] {
                let answer = try await call(client, .get, uri, token: Self.ben)
                #expect(answer.status == .ok, "\(uri)")
                #expect(!answer.body.contains(id) && !answer.body.contains("secret-run"), "\(uri)")
                if uri.contains("count=true") {
                    #expect(JSONValue.decode(answer.body)?["total"] == .number(0), "\(uri)")
                }
            }
            // Nor can Ben change it, even holding its ETag.
            for (method, uri, body) in [
                (HTTPRequest.Method.patch, "/api/v1/runs/\(id)", #"{"name": "mine"}"#),
                (.post, "/api/v1/runs/\(id)/cancel", ""),
                (.post, "/api/v1/runs/\(id)/status", #"{"status": "success"}"#),
                (.post, "/api/v1/runs/\(id)/log", "injected\n"), (.delete, "/api/v1/runs/\(id)", ""),
            ] {
                let answer = try await call(
                    client,
                    method,
                    uri,
                    token: Self.ben,
                    body: body.isEmpty ? nil : body,
                    headers: [.ifMatch: etag]
                )
                #expect(answer.status == .notFound, "\(method) \(uri)")
            }
            let after = try await call(client, .get, "/api/v1/runs/\(id)", token: Self.ann)
            #expect(JSONValue.decode(after.body)?["name"] == .string("secret-run"))
            #expect(JSONValue.decode(after.body)?["status"] == .string("new"))

            // Cat is a viewer in c: reads c, cannot launch there (403), cannot see a's run (404).
            #expect(
                try await call(client, .get, "/api/v1/definitions?filter=name=c-job&count=true", token: Self.cat).body
                    .contains("\"total\":1")
            )
            #expect(
                try await call(client, .post, "/api/v1/runs", token: Self.cat, body: #"{"definition": "c-job"}"#).status
                    == .forbidden
            )
            #expect(try await call(client, .get, "/api/v1/runs/\(id)", token: Self.cat).status == .notFound)
            // Ben cannot launch c's job either: it does not exist for him.
            #expect(
                try await call(client, .post, "/api/v1/runs", token: Self.ben, body: #"{"definition": "c-job"}"#).status
                    == .notFound
            )
        }
    }
}
