import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorExec
import ProctorHTTP
import ProctorHTTPKit
import Testing

/// Jobs really run: launched over the API, executed by the local executor of a live server, their console
/// and test cases stored, timeouts and cancel enforced.
@Suite(.serialized) struct ExecutionTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let python = ProcessInfo.processInfo.environment["PROCTOR_TEST_PYTHON"] ?? "python3"

    static let lab = """
        {"groups": [{"name": "lab"}],
         "engines": [{"group": "lab", "name": "local", "type": "local"}],
         "testbeds": [{"group": "lab", "name": "bench-1"}],
         "definitions": [
           {"group": "lab", "name": "pytest-demo", "harness": "pytest", "job_file": "examples/tests",
            "config": {"python": "\(python)"},
            "profiles": [
              {"name": "DEFAULT", "is_default": true, "engine": "local", "max_run_time": 120},
              {"name": "FAILING", "engine": "local", "envargs": [{"name": "PROCTOR_DEMO_FAIL", "value": "1"}]}]},
           {"group": "lab", "name": "sleepy", "harness": "shell", "job_file": "echo going to sleep; sleep 30",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "max_run_time": 1}]},
           {"group": "lab", "name": "patient", "harness": "shell", "job_file": "echo waiting; sleep 30",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "testbeds": ["bench-1"]}]},
           {"group": "lab", "name": "mystery", "harness": "robotframework", "job_file": "suite.robot",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local"}]}]}
        """

    func withLab(
        configure: (inout TestApp) -> Void = { _ in },
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        var app = try await TestApp.make()
        app.configuration.workspace = Self.repo.path
        app.configuration.killGraceSeconds = 1
        app.configuration.executorSlots = 2
        configure(&app)
        try await app.testLive { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: Self.lab)
            ) { response in
                #expect(response.status == .ok)
            }
            try await body(client)
        }
    }

    func launch(_ client: any TestClientProtocol, _ body: String) async throws -> String {
        try await client.execute(
            uri: "/api/v1/runs",
            method: .post,
            headers: bearer(TestApp.adminToken),
            body: ByteBuffer(json: body)
        ) {
            response in
            #expect(response.status == .created)
            let run = try json(response)
            #expect(run["status"] == .string("new"))
            return run["id"]?.stringValue ?? ""
        }
    }

    func run(_ client: any TestClientProtocol, _ id: String) async throws -> JSONValue {
        try await client.execute(uri: "/api/v1/runs/\(id)", method: .get, headers: bearer(TestApp.adminToken)) {
            try json($0)
        }
    }

    /// Polls until the run reaches `statuses` (or a final status), within `seconds`.
    func waitFor(_ client: any TestClientProtocol, _ id: String, _ statuses: Set<String>, seconds: Double = 60)
        async throws -> JSONValue
    {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let current = try await run(client, id)
            if let status = current["status"]?.stringValue, statuses.contains(status) { return current }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await run(client, id)
    }

    @Test func aPytestJobRunsAndItsTestsDecideTheOutcome() async throws {
        try await withLab { client in
            let passing = try await launch(client, #"{"definition": "pytest-demo"}"#)
            let failing = try await launch(client, #"{"definition": "pytest-demo", "profile": "FAILING"}"#)
            let done = try await waitFor(client, passing, ["success", "failure", "error", "killed"])
            #expect(done["status"] == .string("success"), "reason: \(done["reason"] ?? .null)")
            #expect(done["tests_total"] == .number(4))
            #expect(done["tests_passed"] == .number(4))
            #expect(done["exit_code"] == .number(0))

            let failed = try await waitFor(client, failing, ["success", "failure", "error", "killed"])
            #expect(failed["status"] == .string("failure"))
            #expect(failed["tests_failed"] == .number(1))
            #expect(failed["reason"] == .string("1 failed, 0 errored of 4 tests"))

            try await client.execute(
                uri: "/api/v1/runs/\(failing)/tests?filter=status=failed",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .ok)
                let items = try json(response)["items"]?.arrayValue ?? []
                #expect(items.count == 1)
                #expect(items.first?["name"] == .string("test_optional_failure"))
                #expect(items.first?["message"]?.stringValue?.contains("PROCTOR_DEMO_FAIL") == true)
            }
            // The console: the pytest summary line is in the log; the phases are events.
            try await client.execute(
                uri: "/api/v1/runs/\(passing)/log",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains("4 passed"))
                #expect(response.headers[HTTPField.Name("Proctor-Run-Status")!] == "success")
            }
            try await client.execute(
                uri: "/api/v1/runs/\(passing)/events",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                let statuses = try json(response)["items"]?.arrayValue?.compactMap { $0["status"]?.stringValue }
                #expect(statuses == ["new", "pre-run", "running", "post-run", "success"])
            }
            // The JUnit file pytest wrote is stored with the run and downloadable.
            try await client.execute(
                uri: "/api/v1/runs/\(passing)/files",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                let files = try json(response)["items"]?.arrayValue ?? []
                #expect(files.compactMap { $0["name"]?.stringValue } == ["junit.xml"])
                #expect(files.first?["storage_path"] == nil)
            }
        }
    }

    @Test func aJobPastItsMaxRunTimeIsKilledWithReasonTimeout() async throws {
        try await withLab { client in
            let id = try await launch(client, #"{"definition": "sleepy"}"#)
            let done = try await waitFor(client, id, ["success", "failure", "error", "killed"], seconds: 20)
            // The job sleeps 30 s with a 1 s limit: killed for the timeout, not finished. (How promptly is a
            // figure for Benchmarks/, not an assertion: timing in tests only measures the machine.)
            #expect(done["status"] == .string("killed"))
            #expect(done["reason"] == .string("timeout"))
            try await client.execute(uri: "/api/v1/runs/\(id)/log", method: .get, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(String(buffer: response.body).contains("going to sleep"))
            }
        }
    }

    @Test func cancelKillsARunningJobAndAQueuedOneWaitsForItsTestbed() async throws {
        try await withLab { client in
            let first = try await launch(client, #"{"definition": "patient"}"#)
            let second = try await launch(client, #"{"definition": "patient"}"#)
            let running = try await waitFor(client, first, ["running"], seconds: 20)
            #expect(running["status"] == .string("running"))
            // Same testbed: the second waits even though a slot is free.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await run(client, second)["status"] == .string("new"))

            try await client.execute(
                uri: "/api/v1/runs/\(first)/cancel",
                method: .post,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .accepted)
            }
            let killed = try await waitFor(client, first, ["killed", "success", "failure", "error"], seconds: 10)
            #expect(killed["status"] == .string("killed"))
            #expect(killed["reason"] == .string("canceled"))
            // The testbed is free: the second starts; cancel it too.
            _ = try await waitFor(client, second, ["running"], seconds: 20)
            try await client.execute(
                uri: "/api/v1/runs/\(second)/cancel",
                method: .post,
                headers: bearer(TestApp.adminToken)
            ) { _ in }
            #expect(try await waitFor(client, second, ["killed"], seconds: 10)["status"] == .string("killed"))
            // A finished run cannot be canceled again.
            try await client.execute(
                uri: "/api/v1/runs/\(first)/cancel",
                method: .post,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .conflict)
            }
        }
    }

    @Test func anUnknownHarnessFailsAtOnceWithAReason() async throws {
        try await withLab { client in
            let id = try await launch(client, #"{"definition": "mystery"}"#)
            let done = try await waitFor(client, id, ["error", "failure", "success", "killed"], seconds: 10)
            #expect(done["status"] == .string("error"))
            #expect(done["reason"]?.stringValue?.contains("unknown harness 'robotframework'") == true)
        }
    }

    @Test func launchingBadInputIsAClearError() async throws {
        try await withLab { client in
            for (body, status) in [
                (#"{"definition": "nope"}"#, HTTPResponse.Status.notFound),
                (#"{"definition": "pytest-demo", "profile": "NOPE"}"#, .notFound),
                (#"{"definition": 7}"#, .badRequest),
                (#"{"definition": "pytest-demo", "tags": "x"}"#, .badRequest),
            ] {
                try await client.execute(
                    uri: "/api/v1/runs",
                    method: .post,
                    headers: bearer(TestApp.adminToken),
                    body: ByteBuffer(json: body)
                ) {
                    response in
                    let answer = try json(response)
                    #expect(response.status == status, "\(body)")
                    #expect(answer["error"]?["code"] != nil)
                }
            }
            // A run's status cannot be patched around the state machine.
            let id = try await launch(client, #"{"definition": "mystery"}"#)
            try await client.execute(
                uri: "/api/v1/runs/\(id)",
                method: .patch,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"status": "success"}"#)
            ) { response in
                let answer = try json(response)
                #expect(response.status == .badRequest)
                #expect(answer["error"]?["field"] == .string("status"))
            }
        }
    }

    @Test func aBareRunIsReportedByItsClientWithItsLogAndResults() async throws {
        try await withLab { client in
            let id = try await launch(client, #"{"group": "lab", "name": "reported", "labels": {"kernel": "v6.1"}}"#)
            try await client.execute(
                uri: "/api/v1/runs/\(id)/status",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"status": "running", "comment": "booting"}"#)
            ) { response in
                #expect(response.status == .created)
                let reply = try json(response)
                #expect(reply["run"]?["status"] == .string("running"))
            }
            for (offset, text) in [(0, "line one\nerror: disk full\n"), (26, "warning: slow\nerror: disk full\n")] {
                try await client.execute(
                    uri: "/api/v1/runs/\(id)/log?offset=\(offset)",
                    method: .post,
                    headers: bearer(TestApp.adminToken),
                    body: ByteBuffer(string: text)
                ) { response in
                    #expect(response.status == .created)
                }
            }
            // A retried append at an offset already stored is a no-op; one past the end is a conflict.
            try await client.execute(
                uri: "/api/v1/runs/\(id)/log?offset=0",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(string: "line one\n")
            ) { response in
                let reply = try json(response)
                #expect(reply["end"] == .number(57))
            }
            try await client.execute(
                uri: "/api/v1/runs/\(id)/log?offset=999",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(string: "x")
            ) { response in
                #expect(response.status == .conflict)
            }
            try await client.execute(
                uri: "/api/v1/runs/\(id)/log?offset=9&limit=16",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                response in
                #expect(String(buffer: response.body) == "error: disk full")
                #expect(response.headers[HTTPField.Name("Proctor-Log-Next")!] == "25")
            }
            try await client.execute(
                uri: "/api/v1/runs/\(id)/log?line=1&lines=2",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                response in
                let reply = try json(response)
                #expect(reply["lines"] == .array([.string("error: disk full"), .string("warning: slow")]))
            }
            try await client.execute(
                uri: "/api/v1/runs/\(id)/log/summary",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                let body = try json(response)
                #expect(body["errors"] == .array([.array([.number(2), .string("error: disk full")])]))
                #expect(body["warnings"] == .array([.array([.number(1), .string("warning: slow")])]))
            }
            let junit = """
                <testsuites><testsuite name="boot"><testcase classname="boot" name="login"/>
                <testcase classname="boot" name="dmesg"><failure message="oops"/></testcase></testsuite></testsuites>
                """
            try await client.execute(
                uri: "/api/v1/runs/\(id)/files?name=results.xml",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "application/junit"],
                body: ByteBuffer(string: junit)
            ) { response in
                #expect(response.status == .created)
                let body = try json(response)
                #expect(body["results"]?["total"] == .number(2))
                #expect(body["results"]?["failed"] == .number(1))
            }
            try await client.execute(
                uri: "/api/v1/runs/\(id)/files?name=broken.xml",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "application/junit"],
                body: ByteBuffer(string: "<testsuite>\n<testcase name='a'>\n</testsuite>")
            ) { response in
                #expect(response.status == .badRequest)
                let reply = try json(response)
                #expect(reply["error"]?["message"]?.stringValue?.contains("line") == true)
            }
            try await client.execute(
                uri: "/api/v1/runs/\(id)/status",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"status": "failure"}"#)
            ) { _ in }
            let final = try await run(client, id)
            #expect(final["status"] == .string("failure"))
            #expect(final["tests_failed"] == .number(1))
            #expect(final["executor"] == .string("client"))
            // The broken file is still stored.
            try await client.execute(
                uri: "/api/v1/runs/\(id)/files?sort=name",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                let reply = try json(response)
                #expect(
                    reply["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["broken.xml", "results.xml"]
                )
            }
        }
    }

    /// A harness record's `path` is the interpreter of the pytest runs of the profiles naming it, ahead of the
    /// definition's config `python`; without one the executor's `--python` decides. Two wrapper scripts around the
    /// real interpreter print which of them ran, into the run's console.
    @Test func aHarnessPathIsTheInterpreterItsRunsExecute() async throws {
        let scripts = TestApp.scriptsDirectory.appendingPathComponent("harness-path-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        func wrapper(_ name: String) throws -> String {
            let script = scripts.appendingPathComponent(name)
            try "#!/bin/sh\necho \"wrapper \(name) ran\"\nexec \(Self.python) \"$@\"\n".write(
                to: script,
                atomically: true,
                encoding: .utf8
            )
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
            return script.path
        }
        let harnessPython = try wrapper("harness-python")
        let executorPython = try wrapper("executor-python")
        let lab = """
            {"harnesses": [
               {"group": "lab", "name": "wrapped", "harness": "pytest", "path": "\(harnessPython)"},
               {"group": "lab", "name": "pathless", "harness": "pytest"},
               {"group": "lab", "name": "sh", "harness": "shell", "path": "/bin/false"}],
             "definitions": [
               {"group": "lab", "name": "by-harness", "harness": "pytest", "job_file": "examples/tests",
                "profiles": [
                  {"name": "DEFAULT", "is_default": true, "engine": "local", "harnesses": ["wrapped"]},
                  {"name": "PATHLESS", "engine": "local", "harnesses": ["sh", "pathless"]}]},
               {"group": "lab", "name": "config-and-harness", "harness": "pytest", "job_file": "examples/tests",
                "config": {"python": "/nonexistent/python"},
                "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "harnesses": ["wrapped"]}]}]}
            """
        try await withLab(configure: { $0.configuration.pythonBinary = executorPython }) { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: lab)
            ) { #expect($0.status == .ok, "\(String(buffer: $0.body))") }
            // A launch cannot name the interpreter: only a harness record or the definition (admins) can.
            try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"definition": "by-harness", "options": {"python": "/bin/sh"}}"#)
            ) { response in
                let answer = try json(response)
                #expect(response.status == .badRequest)
                #expect(answer["error"]?["field"] == .string("options.python"))
            }
            let cases: [(launch: String, python: JSONValue?, ran: String)] = [
                (#"{"definition": "by-harness"}"#, .string(harnessPython), "harness-python"),
                (#"{"definition": "by-harness", "profile": "PATHLESS"}"#, nil, "executor-python"),
                (#"{"definition": "config-and-harness"}"#, .string(harnessPython), "harness-python"),
            ]
            for (body, python, ran) in cases {
                let id = try await launch(client, body)
                let done = try await waitFor(client, id, ["success", "failure", "error", "killed"])
                #expect(done["status"] == .string("success"), "\(body): \(done["reason"] ?? .null)")
                #expect(done["options"]?["python"] == python, "\(body)")
                let log = try await client.execute(
                    uri: "/api/v1/runs/\(id)/log",
                    method: .get,
                    headers: bearer(TestApp.adminToken)
                ) { String(buffer: $0.body) }
                let wrappers = log.split(separator: "\n").filter { $0.hasPrefix("wrapper ") }
                #expect(wrappers == ["wrapper \(ran) ran"], "\(body): \(log)")
            }
        }
    }

    /// The poll waits up to the server's maximum (60 s) and the test's limit is one minute: a poll that did not
    /// wake on the event would outlast the test.
    @Test(.timeLimit(.minutes(1))) func eventsLongPollWakesOnANewEvent() async throws {
        let app = try await TestApp.make()
        let store = app.store
        try await app.testLive { client in
            let latest = try await client.execute(
                uri: "/api/v1/events?after=0&limit=1000",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                if case .number(let value) = try json($0)["next_after"] ?? .null { return value }
                return 0
            }
            async let waited = client.execute(
                uri: "/api/v1/events?after=\(Int(latest))&wait=60",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in try json(response)["items"]?.arrayValue ?? [] }
            try await Task.sleep(for: .milliseconds(300))
            // Another replica's event (the test client has one connection, busy with the long-poll).
            let group = try await store.first(.groups, matching: ["name": .string("default")])
            let lifecycle = RunLifecycle(store: store, events: EventHub())
            _ = try await lifecycle.createReported(Run([.name: .string("wake-up")]), groupID: group?.id ?? "")
            let items = try await waited
            #expect(items.first?["status"] == .string("new"))
        }
    }
}

/// Webhooks: run events of a group are posted, signed, to its webhooks and logged as deliveries.
@Suite struct WebhookTests {
    actor Inbox {
        var posts: [(signature: String, event: String, body: String)] = []
        var port = 0
        func add(_ signature: String, _ event: String, _ body: String) { posts.append((signature, event, body)) }
        func setPort(_ value: Int) { port = value }
    }

    /// A local receiver that records what it is posted; returns its serving task and port.
    private func receiver(_ inbox: Inbox) async throws -> (Task<Void, any Error>, Int) {
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            await inbox.add(
                request.headers[HTTPField.Name("X-Proctor-Signature")!] ?? "",
                request.headers[HTTPField.Name("X-Proctor-Event")!] ?? "",
                String(buffer: body)
            )
            return .ok
        }
        let receiver = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in await inbox.setPort(channel.localAddress?.port ?? 0) }
        )
        let serving = Task { try await receiver.runService() }
        var port = 0
        for _ in 0..<100 where port == 0 {
            try await Task.sleep(for: .milliseconds(20))
            port = await inbox.port
        }
        return (serving, port)
    }

    /// Creates a webhook to the receiver on `port` for success and failure events; returns its id.
    private func hook(_ client: any TestClientProtocol, port: Int) async throws -> String {
        let hook = """
            {"group": "default", "name": "ci", "url": "http://127.0.0.1:\(port)/hook", "secret": "s3cret",
             "statuses": ["success", "failure"]}
            """
        return try await client.execute(
            uri: "/api/v1/webhooks",
            method: .post,
            headers: bearer(TestApp.adminToken),
            body: ByteBuffer(json: hook)
        ) { response in
            let body = try json(response)
            #expect(response.status == .created)
            #expect(body["secret"] == nil)
            return body["id"]?.stringValue ?? ""
        }
    }

    /// Reports `statuses` in turn on a new client-reported run; returns its id.
    private func report(_ statuses: [String], _ client: any TestClientProtocol) async throws -> String {
        let runID = try await client.execute(
            uri: "/api/v1/runs",
            method: .post,
            headers: bearer(TestApp.adminToken),
            body: ByteBuffer(json: #"{"name": "hooked"}"#)
        ) { try json($0)["id"]?.stringValue ?? "" }
        for status in statuses {
            try await client.execute(
                uri: "/api/v1/runs/\(runID)/status",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"status": "\#(status)"}"#)
            ) { response in #expect(response.status == .created) }
        }
        return runID
    }

    /// Serves a receiver and an app with a hook to it, and hands both to `body`.
    private func withHook(_ body: @Sendable (any TestClientProtocol, _ hookID: String, Inbox) async throws -> Void)
        async throws
    {
        let inbox = Inbox()
        let (serving, receiverPort) = try await receiver(inbox)
        defer { serving.cancel() }
        let app = try await TestApp.make()
        try await app.testLive { client in try await body(client, try await hook(client, port: receiverPort), inbox) }
    }

    /// What the receiver got: waits for a first post, then `settle` more for any others.
    private func posts(_ inbox: Inbox, settle: Duration) async throws -> [(
        signature: String, event: String, body: String
    )] {
        for _ in 0..<100 {
            if await !inbox.posts.isEmpty { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: settle)
        return await inbox.posts
    }

    /// The hook's deliveries, once none is still `sending`: the dispatcher records the receiver's answer after
    /// the receiver has the post, so a busy machine can show the post before its delivery's outcome (up to 10 s).
    private func deliveries(_ client: any TestClientProtocol, hookID: String) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        for _ in 0..<200 {
            items = try await client.execute(
                uri: "/api/v1/webhooks/\(hookID)/deliveries",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                try json($0)["items"]?.arrayValue ?? []
            }
            if !items.contains(where: { $0["status"] == .string("sending") }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return items
    }

    @Test func aRunEventIsPostedSignedAndLogged() async throws {
        try await withHook { client, hookID, inbox in
            let runID = try await report(["running", "failure"], client)
            let posts = try await posts(inbox, settle: .milliseconds(200))
            // Only the filtered status was sent, once, signed with the secret.
            #expect(posts.count == 1)
            let post = try #require(posts.first)
            #expect(post.event == "run.failure")
            let payload = try #require(JSONValue.decode(post.body))
            #expect(payload["run"]?["id"] == .string(runID))
            #expect(post.signature == "sha256=" + WebhookDispatcher.signature(body: payload, secret: "s3cret"))
            let items = try await deliveries(client, hookID: hookID)
            #expect(items.count == 1)
            #expect(items.first?["status"] == .string("delivered"))
            #expect(items.first?["response_code"] == .number(200))
        }
    }

    /// DCI's rule: only an entry into a final status from a non-final one notifies; a second final status
    /// (success → failure → error → success) does not.
    @Test func onlyTheFirstEntryIntoAFinalStatusNotifies() async throws {
        try await withHook { client, hookID, inbox in
            _ = try await report(["running", "success", "failure", "error", "success"], client)
            let posts = try await posts(inbox, settle: .milliseconds(500))
            #expect(posts.map(\.event) == ["run.success"])
            #expect(try await deliveries(client, hookID: hookID).count == 1)
        }
    }
}
