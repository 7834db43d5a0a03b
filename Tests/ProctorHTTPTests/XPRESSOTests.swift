import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Testing

/// The XPRESSO front door: groups from headers, tenancy, its error shapes, paging, Polaris image builds with a
/// stand-in builder, and requests that run jobs on the local executor.
@Suite(.serialized) struct XPRESSOTests {
    static let alice = "xp_alice_token_0000000000000001"  // admin of lab-a (holds every permission there)
    static let bob = "xp_bob_token_00000000000000001"  // member of lab-a and lab-b, no add_docker_image
    static let carol = "xp_carol_token_000000000000001"  // member of lab-b with add_docker_image

    static let lab = """
        {"groups": [{"name": "lab-a"}, {"name": "lab-b"}],
         "users": [{"name": "alice", "groups": {"lab-a": "admin"}},
                   {"name": "bob", "groups": {"lab-a": "member", "lab-b": "member"}},
                   {"name": "carol", "groups": [{"group": "lab-b", "permissions": ["add_docker_image"]}]}],
         "tokens": [{"user": "alice", "name": "t", "value": "\(alice)"}, {"user": "bob", "name": "t", "value": "\(bob)"},
                    {"user": "carol", "name": "t", "value": "\(carol)"}],
         "engines": [{"group": "lab-a", "name": "local", "type": "local"}, {"group": "lab-b", "name": "local-b"}],
         "harnesses": [{"group": "lab-a", "name": "sh", "harness": "shell", "site": "SJC", "bldg": "ALL"}],
         "testbeds": [{"group": "lab-a", "name": "tb-1", "clean": "c"}, {"group": "lab-a", "name": "tb-2", "clean": "c"}],
         "definitions": [
           {"group": "lab-a", "name": "smoke", "harness": "shell", "tags": ["smoke", "fast"],
            "job_file": "printf '<testsuite><testcase classname=\\"s\\" name=\\"ping\\"/></testsuite>' > junit.xml",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "harnesses": ["sh"],
                          "testbeds": ["tb-1"], "max_run_time": 60, "jobargs": [{"name": "-v", "flag": true}]}]},
           {"group": "lab-a", "name": "broken", "harness": "shell", "tags": ["fast"], "job_file": "exit 3",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local"}]},
           {"group": "lab-a", "name": "old", "harness": "shell", "job_file": "true", "deleted": true},
           {"group": "lab-b", "name": "secret", "harness": "shell", "tags": ["smoke"], "job_file": "true",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local-b"}]}],
         "bundles": [{"group": "lab-a", "name": "both", "profiles": ["smoke/DEFAULT", "broken/DEFAULT"]}]}
        """

    /// A builder standing in for `docker build`: writes a tarball for any ref but `broken`.
    static let builder = """
        #!/bin/sh
        echo "building $PROCTOR_IMAGE_NAME:$PROCTOR_IMAGE_TAG at $PROCTOR_GIT_REF (base '$PROCTOR_BASE_REF') with: $*"
        [ "$PROCTOR_GIT_REF" = broken ] && { echo "merge conflict" >&2; exit 1; }
        printf 'image tarball of %s\\n' "$PROCTOR_GIT_REF" > "$PROCTOR_IMAGE_TARBALL"
        """

    func withLab(
        live: Bool = false,
        objectStore: ObjectStoreSettings? = nil,
        _ body: @Sendable (any TestClientProtocol, TestApp) async throws -> Void
    ) async throws {
        var app = try await TestApp.make()
        app.configuration.objectStore = objectStore
        // Not under /tmp: a run's sandbox has a private /tmp.
        let scripts = TestApp.scriptsDirectory.appendingPathComponent("xpresso-builder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        let script = scripts.appendingPathComponent("build.sh")
        try Self.builder.write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        app.configuration.imageBuilderCommand = script.path
        let lab = LabApplier(store: app.store)
        _ = try await lab.apply(try JSONValue.decode(Data(Self.lab.utf8)))
        let ready = app
        let body = { @Sendable (client: any TestClientProtocol) in try await body(client, ready) }
        if live { try await ready.testLive(body) } else { try await ready.test(body) }
    }

    static func headers(_ token: String, group: String? = nil, header: String = "X-Xpresso-Group") -> HTTPFields {
        var fields: HTTPFields = [.authorization: "Token \(token)", .contentType: "application/json"]
        if let group { fields[HTTPField.Name(header)!] = group }
        return fields
    }

    func call(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String = alice,
        group: String? = nil,
        body: String? = nil
    ) async throws -> (HTTPResponse.Status, JSONValue, HTTPFields) {
        try await client.execute(
            uri: "/xpresso/api/v2" + path,
            method: method,
            headers: Self.headers(token, group: group),
            body: body.map { ByteBuffer(string: $0) }
        ) { response in (response.status, (try? json(response)) ?? .null, response.headers) }
    }

    func names(_ value: JSONValue) -> [String] { (value.arrayValue ?? []).compactMap { $0["name"]?.stringValue } }

    // MARK: Groups, tenancy, errors

    @Test func groupsComeFromHeadersAndTenancyHolds() async throws {
        try await withLab { client, _ in
            // Without a header: the caller's default (first) group.
            #expect(names(try await call(client, .get, "/jobs", token: Self.bob).1) == ["smoke", "broken"])
            #expect(names(try await call(client, .get, "/jobs", token: Self.bob, group: "lab-b").1) == ["secret"])
            let viaGroup = try await client.execute(
                uri: "/xpresso/api/v2/jobs",
                method: .get,
                headers: Self.headers(Self.bob, group: "lab-b", header: "Group")
            ) { try json($0) }
            #expect(names(viaGroup) == ["secret"])
            // A group the caller is not in: 403, whether it exists or not.
            for group in ["lab-b", "nowhere"] {
                let (status, body, _) = try await call(client, .get, "/jobs", group: group)
                #expect(status == .forbidden)
                #expect(body["detail"]?.stringValue?.contains(group) == true)
            }
            // Another group's job: Not Found, as a job that does not exist.
            let secret =
                try await call(client, .get, "/jobs", token: Self.bob, group: "lab-b").1.arrayValue?.first?["id"]?
                .stringValue ?? ""
            for path in [
                "/jobs/\(secret)", "/jobs/no-such-id", "/bundles/x", "/profile/x", "/profiles/x", "/harnesses/x",
                "/engines/x",
            ] {
                let (status, body, _) = try await call(client, .get, path)
                #expect(status == .notFound, "\(path)")
                #expect(body == .object(["detail": .string("Not Found")]), "\(path)")
            }
            #expect(try await call(client, .get, "/jobs/\(secret)", token: Self.bob).0 == .ok)
            #expect(try await call(client, .get, "/nothing-here").0 == .notFound)
        }
    }

    /// A served path called with a method it does not serve is DRF's 405 (after authentication); any other path
    /// under `/xpresso` is Django's 404, with or without a token. Neither is in the native shape.
    @Test func unservedMethodsAndPathsAnswerInXPRESSOsShape() async throws {
        try await withLab { client, _ in
            for (method, path, allow) in [
                (HTTPRequest.Method.post, "/jobs", "GET, HEAD"),
                (.put, "/jobs/some-id", "GET, HEAD"),
                (.delete, "/profiles/some-id", "GET, HEAD"),
                (.patch, "/profile/some-id", "GET, HEAD"),
                (.get, "/jobs/search", "POST"),
                (.delete, "/requests/REQ1", "GET, HEAD"),
                (.get, "/images/polaris_build", "POST"),
            ] {
                let (status, body, headers) = try await call(client, method, path, body: "{}")
                #expect(status == .methodNotAllowed, "\(method) \(path)")
                #expect(body == .object(["detail": .string("Method \"\(method.rawValue)\" not allowed.")]))
                #expect(headers[.allow] == allow, "\(method) \(path)")
            }
            let anonymous = try await client.execute(uri: "/xpresso/api/v2/jobs", method: .post) {
                ($0.status, try json($0))
            }
            #expect(anonymous.0 == .unauthorized)
            #expect(anonymous.1 == .object(["detail": .string("Authentication credentials were not provided.")]))
            for (method, uri) in [
                (HTTPRequest.Method.get, "/xpresso/api/v2/nothing-here"),
                (.post, "/xpresso/api/v2/jobs/x/runs"),
                (.delete, "/xpresso/api/v2/"),
                (.put, "/xpresso/api/v3/jobs"),
                (.get, "/xpresso/"),
            ] {
                for headers in [Self.headers(Self.alice), [:]] {
                    let (status, body) = try await client.execute(uri: uri, method: method, headers: headers) {
                        ($0.status, try json($0))
                    }
                    #expect(status == .notFound, "\(method) \(uri)")
                    #expect(body == .object(["detail": .string("Not Found")]), "\(method) \(uri)")
                }
            }
        }
    }

    @Test func limitIsFrom1To1000() async throws {
        try await withLab { client, _ in
            for query in ["limit=1001", "limit=0", "limit=x"] {
                let (status, body, _) = try await call(client, .get, "/jobs?\(query)")
                let message = JSONValue.string("limit must be an integer from 1 to 1000")
                #expect(status == .badRequest, "\(query)")
                #expect(body == .object(["detail": message, "Error": message]), "\(query)")
            }
            let (status, body, headers) = try await call(client, .get, "/jobs?limit=1000")
            #expect(status == .ok)
            #expect(names(body) == ["smoke", "broken"])
            #expect(headers[HTTPField.Name("X-Total-Count")!] == "2")
        }
    }

    @Test func authenticationIsTokenOrBearer() async throws {
        try await withLab { client, _ in
            let missing = try await client.execute(uri: "/xpresso/api/v2/jobs", method: .get) {
                ($0.status, try json($0))
            }
            #expect(missing.0 == .unauthorized)
            #expect(missing.1 == .object(["detail": .string("Authentication credentials were not provided.")]))
            let wrong = try await client.execute(
                uri: "/xpresso/api/v2/jobs",
                method: .get,
                headers: [.authorization: "Token wrong-token-123"]
            ) { ($0.status, try json($0)) }
            #expect(wrong.0 == .unauthorized)
            #expect(wrong.1 == .object(["detail": .string("Invalid token.")]))
            try await client.execute(
                uri: "/xpresso/api/v2/jobs",
                method: .get,
                headers: [.authorization: "Bearer \(Self.alice)"]
            ) {
                #expect($0.status == .ok)
            }
        }
    }

    @Test func searchIsAndAcrossKeysOrWithin() async throws {
        try await withLab { client, _ in
            func search(_ body: String, token: String = XPRESSOTests.alice) async throws -> (
                HTTPResponse.Status, JSONValue
            ) {
                let (status, value, _) = try await call(client, .post, "/jobs/search", token: token, body: body)
                return (status, value)
            }
            #expect(names(try await search(#"{"tags": ["fast"]}"#).1) == ["smoke", "broken"])
            #expect(names(try await search(#"{"tags": ["fast"], "name": ["broken", "x"]}"#).1) == ["broken"])
            #expect(
                names(try await search(#"{"tags": ["smoke"], "group": ["lab-a", "lab-b"]}"#, token: Self.bob).1) == [
                    "smoke", "secret",
                ]
            )
            // Groups the caller is not in match nothing.
            #expect(try await search(#"{"group": ["lab-b"]}"#).0 == .notFound)
            let (status, body) = try await search(#"{"name": ["old"]}"#)
            #expect(status == .notFound)
            #expect(body == .object(["detail": .string("Not Found")]))
            let tooMany = #"{"name": ["# + Array(repeating: #""x""#, count: 1001).joined(separator: ",") + "]}"
            for bad in ["{}", #"{"owner": ["me"]}"#, #"{"name": [1]}"#, "[]", "not json", tooMany] {
                let (status, body) = try await search(bad)
                #expect(status == .badRequest, "\(bad)")
                #expect(body["detail"] != nil && body["Error"] != nil, "\(bad)")
            }
        }
    }

    @Test func listsPageWithOffsetAndLimit() async throws {
        try await withLab { client, _ in
            let (status, body, headers) = try await call(client, .get, "/jobs?limit=1&offset=1")
            #expect(status == .ok)
            #expect(names(body) == ["broken"])
            #expect(headers[HTTPField.Name("X-Total-Count")!] == "2")
            for query in ["limit=0", "limit=x", "offset=-1"] {
                #expect(try await call(client, .get, "/profiles?\(query)").0 == .badRequest, "\(query)")
            }
            let profile = try await call(client, .get, "/profiles").1.arrayValue?.first
            #expect(
                profile?["jobargs"]?.arrayValue?.first
                    == .object([
                        "id": .number(1), "job_arg": .null, "name": .string("-v"), "value": .string(""),
                        "flag": .bool(true),
                        "inherits": .bool(false),
                    ])
            )
            #expect(profile?["harness_instances"]?.arrayValue?.first?["name"] == .string("sh"))
            let bundle = try await call(client, .get, "/bundles").1.arrayValue?.first
            #expect(bundle?["profiles"]?.arrayValue?.count == 2)
        }
    }

    // MARK: Image builds

    @Test func polarisBuildNeedsThePermissionAndValidates() async throws {
        try await withLab { client, _ in
            let body = #"{"name": "polaris-image", "tag": "v1", "git_ref": "main", "groups": ["lab-b"]}"#
            let (refused, detail, _) = try await call(
                client,
                .post,
                "/images/polaris_build",
                token: Self.bob,
                body: body
            )
            #expect(refused == .forbidden)
            #expect(detail["detail"]?.stringValue != nil)
            #expect(
                try await call(client, .post, "/images/polaris_build", token: Self.bob, group: "lab-b", body: body).0
                    == .forbidden
            )
            let bad = [
                #"{"name": "Polaris", "tag": "v1", "git_ref": "main", "groups": ["lab-b"]}"#,
                #"{"name": "p", "tag": "-v1", "git_ref": "main", "groups": ["lab-b"]}"#,
                #"{"name": "p", "tag": "v1", "git_ref": "a b", "groups": ["lab-b"]}"#,
                #"{"name": "p", "tag": "v1", "git_ref": "main", "base_ref": "../x", "groups": ["lab-b"]}"#,
                #"{"name": "p", "tag": "v1", "git_ref": "main", "groups": []}"#,
                #"{"name": "p", "tag": "v1", "git_ref": "main", "groups": ["no-such-group"]}"#,
                #"{"name": "p", "tag": "v1", "git_ref": "main"}"#,
                #"{"tag": "v1", "git_ref": "main", "groups": ["lab-b"]}"#,
                #"{"name": "p", "tag": "v1", "git_ref": "main", "groups": ["lab-b"], "extra": 1}"#,
            ]
            for item in bad {
                let (status, body, _) = try await call(
                    client,
                    .post,
                    "/images/polaris_build",
                    token: Self.carol,
                    body: item
                )
                #expect(status == .badRequest, "\(item)")
                #expect(body["detail"] != nil, "\(item)")
            }
            let (status, image, _) = try await call(
                client,
                .post,
                "/images/polaris_build",
                token: Self.carol,
                body: body
            )
            #expect(status == .ok)
            #expect(image["status"] == .string("building"))
            #expect(image["group"] == .string("lab-b"))
            #expect(image["base_ref"] == .null)
        }
    }

    /// Asks for two Polaris builds of `polaris/image` in lab-a, `t-main` from git ref `main` (which the test builder
    /// builds) and `t-broken` from `broken` (which it fails), and returns them by ref once both finished.
    func buildMainAndBroken(_ client: any TestClientProtocol, _ app: TestApp, baseRef: String? = nil) async throws
        -> [String: Record]
    {
        var ids: [String: String] = [:]
        for ref in ["main", "broken"] {
            let base = baseRef.map { #", "base_ref": "\#($0)""# } ?? ""
            let body =
                #"{"name": "polaris/image", "tag": "t-\#(ref)", "git_ref": "\#(ref)"\#(base), "groups": ["lab-a"]}"#
            let (status, image, _) = try await call(client, .post, "/images/polaris_build", body: body)
            #expect(status == .ok)
            ids[ref] = image["uuid"]?.stringValue ?? ""
        }
        return try await Self.finishedBuilds(ids, in: app)
    }

    /// The image builds of `ids` (by ref) once none is `building` any more, or as they are after 30 s.
    static func finishedBuilds(_ ids: [String: String], in app: TestApp) async throws -> [String: Record] {
        var builds: [String: Record] = [:]
        for _ in 0..<300 {
            for (ref, id) in ids { builds[ref] = try await app.store.get(.imageBuilds, id: id) }
            if builds.values.allSatisfy({ $0.string("status") != "building" }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return builds
    }

    @Test func polarisBuildRunsTheBuilderToBuiltOrFailed() async throws {
        try await withLab(live: true) { client, app in
            let builds = try await buildMainAndBroken(client, app, baseRef: "v1.0")
            let built = try #require(builds["main"])
            #expect(built.string("status") == "built")
            let path = try #require(built.string("storage_path"))
            #expect(path.hasSuffix("/lab-a/polaris/image/t-main.tar"))
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "image tarball of main\n")
            #expect(built.int("size") == 22)
            #expect(builds["broken"]?.string("status") == "failed")
            // The build's run went through the executor: its console shows the builder's arguments.
            let run = try #require(try await app.store.get(.runs, id: built.string("run_id") ?? ""))
            #expect(run.string("status") == "success")
            #expect(
                run["options"].jsonValue?["command"]?.stringValue?.contains("'--build-arg' 'BASE_REF=v1.0'") == true
            )
        }
    }

    /// With an object store, a built image's tarball is also a file of the build's run, kept in the store: any
    /// replica serves it. A failed build keeps nothing.
    @Test func aBuiltTarballIsKeptInTheObjectStore() async throws {
        guard let settings = try await S3Peer.freshBucket() else { return }
        try await withLab(live: true, objectStore: settings) { client, app in
            let builds = try await buildMainAndBroken(client, app)
            let built = try #require(builds["main"])
            #expect(built.string("status") == "built")
            let runID = built.string("run_id") ?? ""
            let files = try await client.execute(
                uri: "/api/v1/runs/\(runID)/files",
                method: .get,
                headers: [.authorization: "Bearer \(TestApp.adminToken)"]
            ) { try json($0)["items"]?.arrayValue ?? [] }
            #expect(files.map { $0["name"] } == [.string("t-main.tar")])
            #expect(files.first?["mime"] == .string("application/x-tar"))
            let fileID = files.first?["id"]?.stringValue ?? ""
            try await client.execute(
                uri: "/api/v1/files/\(fileID)/content",
                method: .get,
                headers: [.authorization: "Bearer \(TestApp.adminToken)"]
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "image tarball of main\n")
            }
            let broken = try #require(builds["broken"])
            #expect(broken.string("status") == "failed")
            let brokenFiles = try await client.execute(
                uri: "/api/v1/runs/\(broken.string("run_id") ?? "")/files",
                method: .get,
                headers: [.authorization: "Bearer \(TestApp.adminToken)"]
            ) { try json($0)["items"]?.arrayValue ?? [] }
            #expect(brokenFiles.isEmpty)
        }
    }

    // MARK: Requests

    /// A native launch joins an XPRESSO request only when it names an unfinished request of the job's own group.
    @Test func aLaunchJoinsOnlyAnUnfinishedRequestOfItsGroup() async throws {
        try await withLab { client, _ in
            let profiles = try await call(client, .get, "/profiles").1
            let smoke =
                profiles.arrayValue?.first {
                    $0["name"] == .string("DEFAULT") && $0["job"]?["name"] == .string("smoke")
                }?["id"]?.stringValue
                ?? profiles.arrayValue?.first?["id"]?.stringValue ?? ""
            let (status, request, _) = try await call(client, .post, "/requests", body: #"{"profile": "\#(smoke)"}"#)
            #expect(status == .created)
            let id = request["request_id"]?.stringValue ?? ""
            func launch(_ body: String, token: String = Self.alice) async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: "/api/v1/runs",
                    method: .post,
                    headers: bearer(token),
                    body: ByteBuffer(json: body)
                ) { $0.status }
            }
            #expect(try await launch(#"{"definition": "smoke", "request_id": "\#(id)"}"#) == .created)
            #expect(try await launch(#"{"definition": "smoke", "request_id": "REQ9999999"}"#) == .notFound)
            #expect(try await launch(#"{"definition": "smoke", "request_id": "not a request id; <x>"}"#) == .notFound)
            // Bob's job of another group cannot join lab-a's request.
            #expect(
                try await launch(#"{"definition": "secret", "request_id": "\#(id)"}"#, token: Self.bob) == .notFound
            )
            // Once every run of the request has ended, it takes no more.
            let runs = try await client.execute(
                uri: "/api/v1/runs?filter=request_id=\(id)",
                method: .get,
                headers: bearer(Self.alice)
            ) {
                try json($0)["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            }
            #expect(runs.count == 2)
            for run in runs {
                try await client.execute(uri: "/api/v1/runs/\(run)/cancel", method: .post, headers: bearer(Self.alice))
                { _ in }
            }
            for _ in 0..<200 {
                let active = try await client.execute(
                    uri: "/api/v1/runs?filter=request_id=\(id)&filter=status={new,pre-run,running,post-run}&count=true",
                    method: .get,
                    headers: bearer(Self.alice)
                ) { try json($0)["total"] }
                if active == .number(0) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await launch(#"{"definition": "smoke", "request_id": "\#(id)"}"#) == .conflict)
        }
    }

    @Test func requestsRunProfilesAndBundlesOnTheLocalExecutor() async throws {
        try await withLab(live: true) { client, app in
            let profiles = try await call(client, .get, "/profiles").1.arrayValue ?? []
            let smoke = profiles.first { $0["testbeds"]?.arrayValue?.isEmpty == false }?["id"]?.stringValue ?? ""
            let (status, submitted, _) = try await call(
                client,
                .post,
                "/requests",
                body: #"{"profile": "\#(smoke)", "testbeds": ["tb-1", "tb-2"], "tags": ["t"]}"#
            )
            #expect(status == .created)
            let id = try #require(submitted["request_id"]?.stringValue)
            #expect(id.hasPrefix("REQ") && id.count == 10)
            #expect(submitted["state"] == .string("PREPARING"))
            #expect(submitted["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["\(id)-1", "\(id)-2"])

            let bundle = try await call(client, .get, "/bundles").1.arrayValue?.first?["id"]?.stringValue ?? ""
            let (bundleStatus, fromBundle, _) = try await call(
                client,
                .post,
                "/requests",
                body: #"{"bundle": "\#(bundle)"}"#
            )
            #expect(bundleStatus == .created)
            let bundleID = try #require(fromBundle["request_id"]?.stringValue)
            #expect(bundleID != id)

            func follow(_ id: String) async throws -> JSONValue {
                for _ in 0..<600 {
                    let (_, request, _) = try await call(client, .get, "/requests/\(id)")
                    if request["state"] == .string("COMPLETED") { return request }
                    try await Task.sleep(for: .milliseconds(100))
                }
                Issue.record("request \(id) did not complete")
                return .null
            }
            let done = try await follow(id)
            #expect(done["result"] == .string("PASSED"))
            for item in done["items"]?.arrayValue ?? [] {
                let runID = item["run_id"]?.stringValue ?? ""
                let tests = try await app.store.list(
                    .testResults,
                    query: Query(filter: .equal("run_id", runID)),
                    scope: .everything
                )
                #expect(tests.items.map { $0.string("name") } == ["ping"])
            }
            let mixed = try await follow(bundleID)
            #expect(mixed["result"] == .string("FAILED"))
            #expect(mixed["items"]?.arrayValue?.compactMap { $0["result"]?.stringValue } == ["PASSED", "FAILED"])
            #expect(mixed["bundle"] == .string(bundle))

            // Another group's caller does not see it; malformed ids are Not Found.
            #expect(try await call(client, .get, "/requests/\(id)", token: Self.carol).0 == .notFound)
            #expect(try await call(client, .get, "/requests/REQ12x").0 == .notFound)
        }
    }

    @Test func requestsRejectWhatTheyCannotRun() async throws {
        try await withLab { client, _ in
            let profile = try await call(client, .get, "/profiles").1.arrayValue?.first?["id"]?.stringValue ?? ""
            let cases: [(String, HTTPResponse.Status)] = [
                ("{}", .badRequest),
                (#"{"profile": "\#(profile)", "bundle": "x"}"#, .badRequest),
                (#"{"profile": "\#(profile)", "testbeds": ["tb-1"], "topologies": ["t"]}"#, .badRequest),
                (#"{"profile": "\#(profile)", "testbeds": "tb-1"}"#, .badRequest),
                (#"{"profile": "\#(profile)", "colour": "red"}"#, .badRequest),
                (#"{"profile": "no-such-profile"}"#, .notFound),
                (#"{"profile": "\#(profile)", "testbeds": ["no-such-testbed"]}"#, .notFound),
            ]
            for (body, expected) in cases {
                let (status, answer, _) = try await call(client, .post, "/requests", body: body)
                #expect(status == expected, "\(body)")
                #expect(answer["detail"]?.stringValue != nil, "\(body)")
            }
            // Acting in a group needs the member role there (carol's profile lookup in lab-a is refused first).
            #expect(
                try await call(
                    client,
                    .post,
                    "/requests",
                    token: Self.carol,
                    group: "lab-a",
                    body: #"{"profile": "\#(profile)"}"#
                ).0 == .forbidden
            )
        }
    }
}
