import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Synchronization
import Testing

@testable import ProctorExec

/// What happens to runs and agents, as an operator's log collector and Prometheus see it: one JSON line per run
/// status change, lease loss and agent join, and the counters and histograms of the runs that ended.
@Suite(.serialized) struct RunActivityTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [JSONValue] { lines.withLock { $0 }.compactMap { JSONValue.decode($0) } }
    }

    static let lab = """
        {"groups": [{"name": "lab"}],
         "engines": [{"group": "lab", "name": "local", "type": "local"}],
         "definitions": [
           {"group": "lab", "name": "fine", "harness": "shell", "job_file": "echo all good",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local"}]},
           {"group": "lab", "name": "broken", "harness": "shell", "job_file": "echo no good; exit 3",
            "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local"}]}]}
        """

    static func jsonLogger(_ captured: Lines) -> Logger {
        var logger = Logger(label: "proctor") { label in
            JSONLogHandler(label: label) { line in captured.lines.withLock { $0.append(line) } }
        }
        logger.logLevel = .info
        return logger
    }

    @Test func aRunsLifecycleIsLoggedAsJSONLinesAndCounted() async throws {
        var app = try await TestApp.make()
        app.configuration.workspace = ExecutionTests.repo.path
        app.configuration.executorSlots = 1
        let captured = Lines()
        let application = try await buildApplication(
            configuration: app.configuration,
            store: app.store,
            logger: Self.jsonLogger(captured)
        )
        let ids = Mutex<[String]>([])
        let scrape = Mutex("")
        try await application.test(.live) { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: Self.lab)
            ) { #expect($0.status == .ok) }
            for (job, outcome) in [("fine", "success"), ("broken", "failure")] {
                let id = try await client.execute(
                    uri: "/api/v1/runs",
                    method: .post,
                    headers: bearer(TestApp.adminToken),
                    body: ByteBuffer(json: #"{"definition": "\#(job)"}"#)
                ) { try json($0)["id"]?.stringValue ?? "" }
                ids.withLock { $0.append(id) }
                let ended = try await Self.waitForEnd(client, id)
                #expect(ended == outcome)
            }
            try await client.execute(
                uri: "/api/v1/agents/register",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"name": "bench-agent", "labels": ["linux"], "slots": 2}"#)
            ) { #expect($0.status == .ok || $0.status == .created) }
            // A run's end is visible in the store a moment before its executor records it in the metrics (the
            // record follows the commit): scrape until both ends are counted, for at most 5 s; the exact values
            // are asserted below.
            var text = ""
            for _ in 0..<50 {
                text = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
                if text.contains(#"proctor_runs_finished_total{status="success"} 1"#),
                    text.contains(#"proctor_runs_finished_total{status="failure"} 1"#)
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            scrape.withLock { $0 = text }
        }
        await app.store.shutdown()

        let runIDs = ids.withLock { $0 }
        let lines = captured.all
        for (index, id) in runIDs.enumerated() {
            let final = index == 0 ? "success" : "failure"
            let mine = lines.filter { $0["run_id"] == .string(id) && $0["level"] == .string("info") }
            #expect(
                mine.map { $0["message"]?.stringValue ?? "" }
                    == [
                        "run created", "run status changed", "run status changed", "run status changed",
                        "run status changed",
                    ],
                "\(captured.lines.withLock { $0 })"
            )
            #expect(mine.map { $0["from"]?.stringValue ?? "-" } == ["-", "new", "pre-run", "running", "post-run"])
            #expect(mine.map { $0["to"]?.stringValue ?? "" } == ["new", "pre-run", "running", "post-run", final])
            #expect(mine.allSatisfy { $0["executor"] == .string("local") && $0["label"] == .string("proctor") })
            #expect(mine[1]["reason"]?.stringValue?.hasPrefix("claimed by local@") == true)
            if case .number(let seconds) = mine.last?["duration_s"] {
                #expect(seconds >= 0)
            } else {
                Issue.record("the last line has no duration_s: \(String(describing: mine.last))")
            }
            #expect(mine.dropLast().allSatisfy { $0["duration_s"] == nil })
        }
        let joined = lines.filter { $0["message"] == .string("agent joined") }
        #expect(joined.count == 1)
        #expect(joined.first?["agent"] == .string("bench-agent"))
        #expect(joined.first?["labels"] == .array([.string("linux")]))
        #expect(joined.first?["slots"] == .number(2))
        #expect(joined.first?["new"] == .bool(true))
        #expect(joined.first?["level"] == .string("info"))
        #expect(captured.lines.withLock { $0 }.allSatisfy { $0.hasSuffix("\n") && !$0.dropLast().contains("\n") })

        let text = scrape.withLock { $0 }
        #expect(text.contains(#"proctor_runs_finished_total{status="success"} 1"#), "\(text)")
        #expect(text.contains(#"proctor_runs_finished_total{status="failure"} 1"#))
        #expect(text.contains(#"proctor_runs_finished_total{status="killed"} 0"#))
        #expect(text.contains(#"proctor_run_duration_seconds_count{status="success"} 1"#))
        #expect(text.contains(#"proctor_run_duration_seconds_count{status="failure"} 1"#))
        #expect(text.contains(#"proctor_queue_wait_seconds_count{executor="local"} 2"#))
        #expect(text.contains("proctor_executor_slots 1.0"))
        #expect(text.contains("proctor_agents_online 1.0"))
    }

    /// An agent not seen for the online window is marked offline by the next sweep and logged once as `agent left`;
    /// one seen again is online again, and an agent still heard from is left alone.
    @Test func aSilentAgentIsLoggedAsLeft() async throws {
        let app = try await TestApp.make()
        let captured = Lines()
        let feed = RunActivityFeed()
        feed.add(RunActivityLog(logger: Self.jsonLogger(captured)))
        let registry = AgentRegistry(store: app.store, activity: feed)
        let principal = try await Authenticator(store: app.store).principal(forToken: TestApp.adminToken)
        let silent = try await registry.register(
            name: "gone",
            groupID: principal.memberships.first?.groupID ?? "",
            labels: ["linux"],
            version: nil,
            slots: 1,
            principal: principal
        )
        let lively = try await registry.register(
            name: "lively",
            groupID: principal.memberships.first?.groupID ?? "",
            labels: ["linux"],
            version: nil,
            slots: 1,
            principal: principal
        )
        let lastSeen = Timestamp.now() - 300 * 1_000_000
        _ = try await app.store.update(
            .agents,
            id: silent.id,
            changes: Agent.changes([.lastSeenAt: .timestamp(lastSeen)]),
            ifMatch: nil,
            scope: .everything
        )
        let marked = try await registry.markSilentOffline()
        #expect(marked.map(\.id) == [silent.id])
        #expect(try await app.store.get(Agent.self, id: silent.id)?.state == "offline")
        #expect(try await app.store.get(Agent.self, id: lively.id)?.state == "online")
        #expect(try await registry.markSilentOffline().isEmpty, "told twice")
        let left = captured.all.filter { $0["message"] == .string("agent left") }
        #expect(left.count == 1)
        #expect(left.first?["agent_id"] == .string(silent.id))
        #expect(left.first?["agent"] == .string("gone"))
        if case .number(let seconds) = left.first?["silent_s"] {
            #expect(seconds >= 300)
        } else {
            Issue.record("no silent_s: \(String(describing: left.first))")
        }
        // Heard from again: online, and a later silence is told again.
        await registry.seen(agentID: silent.id)
        #expect(try await app.store.get(Agent.self, id: silent.id)?.state == "online")
        await app.store.shutdown()
    }

    /// Polls the run until it ends; its final status.
    static func waitForEnd(_ client: any TestClientProtocol, _ id: String) async throws -> String {
        for _ in 0..<600 {
            let status = try await client.execute(
                uri: "/api/v1/runs/\(id)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { try json($0)["status"]?.stringValue ?? "" }
            if RunStatus(rawValue: status)?.isTerminal == true { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
        return "still going"
    }

    /// A webhook that cannot be reached is a warning line per failed attempt, saying which delivery, hook and run,
    /// the attempt, the error and whether it will be retried.
    @Test func aFailedWebhookDeliveryIsAWarning() async throws {
        // A receiver that refuses every delivery with 503.
        let refusing = Router()
        refusing.post("hook") { _, _ -> HTTPResponse.Status in .serviceUnavailable }
        let port = Mutex(0)
        let receiver = Application(
            router: refusing,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port ?? 0 } }
        )
        let serving = Task { try await receiver.runService() }
        defer { serving.cancel() }
        for _ in 0..<250 where port.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let (hook, run, line) = try await Self.firstWebhookFailure(url: "http://127.0.0.1:\(port.withLock { $0 })/hook")
        guard let line else { return }
        #expect(line["level"] == .string("warning"))
        #expect(line["webhook_id"] == .string(hook))
        #expect(line["run_id"] == .string(run))
        #expect(line["attempt"] == .number(1))
        #expect(line["will_retry"] == .bool(true))
        #expect(line["delivery_id"]?.stringValue?.isEmpty == false)
        #expect(line["error"] == .string("HTTP 503"), "\(line)")
    }

    /// A receiver that is down (nothing listens on its port) is a failed attempt at once, saying the connection
    /// was refused: the HTTP client does not retry connecting until the dispatcher's 10 s timeout, which held up
    /// every other delivery behind it.
    @Test func aWebhookReceiverThatIsDownFailsAtOnce() async throws {
        // AsyncHTTPClient retries a refused connection until the request's deadline unless told not to; that
        // held every delivery behind a dead receiver up for 10 s. The connect timeout stays short for a
        // receiver that drops packets instead of refusing.
        let configuration = WebhookDispatcher.clientConfiguration
        #expect(configuration.connectionPool.retryConnectionEstablishment == false)
        #expect(configuration.timeout.connect == .seconds(5))
        let (_, _, line) = try await Self.firstWebhookFailure(url: "http://127.0.0.1:9/hook")
        guard let line else { return }
        #expect(line["attempt"] == .number(1))
        #expect(line["will_retry"] == .bool(true))
        let error = line["error"]?.stringValue?.lowercased() ?? ""
        #expect(error.contains("refused"), "\(line)")
    }

    /// Launches a run of a lab whose group has a webhook to `url`, and returns the hook, the run and the first
    /// "webhook delivery failed" line, looked for during the 10 s after the run ends (an issue when none came).
    static func firstWebhookFailure(url: String) async throws -> (hook: String, run: String, line: JSONValue?) {
        var app = try await TestApp.make()
        app.configuration.workspace = ExecutionTests.repo.path
        app.configuration.executorSlots = 1
        let captured = Lines()
        let application = try await buildApplication(
            configuration: app.configuration,
            store: app.store,
            logger: Self.jsonLogger(captured)
        )
        let found = Mutex<(hook: String, run: String, line: JSONValue?)>(("", "", nil))
        try await application.test(.live) { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: Self.lab)
            ) { #expect($0.status == .ok) }
            let hook = try await client.execute(
                uri: "/api/v1/webhooks",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"group": "lab", "name": "ci", "url": "\#(url)", "secret": "s"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            let run = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"definition": "fine"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            #expect(try await Self.waitForEnd(client, run) == "success")
            // The first attempt follows the run's end within the dispatcher's next pass (it wakes on changes).
            var line: JSONValue?
            for _ in 0..<100 {
                line = captured.all.first { $0["message"] == .string("webhook delivery failed") }
                if line != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            found.withLock { $0 = (hook, run, line) }
        }
        await app.store.shutdown()
        let result = found.withLock { $0 }
        if result.line == nil {
            Issue.record("no 'webhook delivery failed' line in \(captured.lines.withLock { $0 })")
        }
        return result
    }

    @Test func aLostLeaseIsAWarningAndTheRunGoesBack() async throws {
        var app = try await TestApp.make()
        app.configuration.leaseSeconds = 0
        let services = app.configuration.runServices(store: app.store)
        let captured = Lines()
        services.activity.add(RunActivityLog(logger: Self.jsonLogger(captured)))
        let group = try #require(try await app.store.first(.groups, matching: ["name": .string("default")]))
        let run = try await services.lifecycle.createExecuted(
            Run([.name: .string("abandoned"), .harness: .string("shell")]),
            groupID: group.id,
            comment: "launched"
        )
        let claimed = try await services.queue.claim(claimant: "local@gone:1", executor: .local)
        #expect(claimed?.id == run.id)
        try await Task.sleep(for: .milliseconds(5))  // the lease (0 s) must lie in the past
        let requeued = try await services.queue.expireLeases()
        await app.store.shutdown()
        #expect(requeued.map(\.id) == [run.id])

        let lines = captured.all.filter { $0["run_id"] == .string(run.id) }
        #expect(
            lines.map { $0["message"]?.stringValue ?? "" }
                == ["run created", "run status changed", "run status changed", "run lease expired"],
            "\(captured.lines.withLock { $0 })"
        )
        #expect(lines.map { $0["to"]?.stringValue ?? "-" } == ["new", "pre-run", "new", "-"])
        let lost = try #require(lines.last)
        #expect(lost["level"] == .string("warning"))
        #expect(lost["claimant"] == .string("local@gone:1"))
        #expect(lost["attempts"] == .number(1))
        #expect(lost["max_attempts"] == .number(3))
        #expect(lost["outcome"] == .string("requeued"))
        #expect(lines[2]["reason"] == .string("lease of local@gone:1 expired; requeued (attempt 1 of 3)"))
    }
}
