import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ProctorCore
import Synchronization

/// `proctor-bench --lab-simulation URL,URL,…`: a lab at scale against running replicas (issue #20). Applies a lab
/// of `testbeds` testbeds and one agent engine, registers `agents` simulated agents spread over the replicas,
/// launches `runs` short runs (each on one testbed, round robin, with labels) through the replicas while the
/// agents claim them and report each straight through `running`, `post-run` and `success`, as a real agent does
/// with a job that takes no time.
///
/// It checks what a lab relies on: every run executed exactly once (a run id claimed twice is a duplicate) and
/// no testbed ever holding two runs at once (an agent's testbed is marked busy from its claim until just before
/// it reports the end, so a claim the server hands out while the testbed is still busy is a violation). It prints
/// the dispatch latency (launch, as the run's `created_at` says, to the claim's answer) p50/p99, runs/s from the
/// first launch to the last end, the claims that came back empty, and the failed requests.
enum LabSimulation {
    struct Options {
        var replicas: [String]
        var token: String
        var agents: Int
        var runs: Int
        var testbeds: Int
    }

    /// The tally every agent and launcher adds to.
    final class Shared: Sendable {
        let state = Mutex(Tally())
    }

    /// What the agents and launchers saw.
    struct Tally {
        var claimed: Set<String> = []
        var duplicates = 0
        var finished = 0
        var busyTestbeds: [String: Int] = [:]
        var violations = 0
        var dispatch: [Double] = []
        var emptyClaims = 0
        var failures: [String: Int] = [:]
        var launched = 0
    }

    static func run(_ options: Options) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: options.agents + 64
        )
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(90))
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let client = Client(http: http, token: options.token)
        let replicas = options.replicas
        print(
            "== lab simulation: \(options.agents) agents, \(options.runs) runs over \(options.testbeds) testbeds, "
                + "\(replicas.count) replicas (load average \(WriteLoadBench.loadAverage()))"
        )
        try await applyLab(options, client: client)
        var agentIDs: [String] = []
        for index in 0..<options.agents {
            let body = #"{"name": "sim-\#(index)", "labels": ["sim"], "slots": 1}"#
            let answer = try await client.json(
                "POST",
                replicas[index % replicas.count] + "/api/v1/agents/register",
                body
            )
            guard let id = answer["id"] as? String else { throw Failure("register answered \(answer)") }
            agentIDs.append(id)
        }

        let tally = Shared()
        let started = Date()
        let total = options.runs
        await withTaskGroup(of: Void.self) { group in
            // Launchers: 16 at a time, through every replica in turn.
            let launchers = 16
            for launcher in 0..<launchers {
                group.addTask {
                    for index in stride(from: launcher, to: total, by: launchers) {
                        let body =
                            #"{"definition": "sim", "testbed": "tb-\#(index % options.testbeds)", "#
                            + #""labels": {"shard": "\#(index % 10)", "wave": "\#(index / 1000)"}}"#
                        do {
                            _ = try await client.json("POST", replicas[index % replicas.count] + "/api/v1/runs", body)
                            tally.state.withLock { $0.launched += 1 }
                        } catch {
                            tally.state.withLock { $0.failures["launch: \(error)", default: 0] += 1 }
                        }
                    }
                }
            }
            for (index, agentID) in agentIDs.enumerated() {
                let replica = replicas[index % replicas.count]
                group.addTask {
                    await agent(agentID, replica: replica, client: client, tally: tally, total: total, started: started)
                }
            }
        }
        let wall = Date().timeIntervalSince(started)
        try? await http.shutdown()
        let result = tally.state.withLock { $0 }
        let sorted = result.dispatch.sorted()
        func percentile(_ p: Double) -> Double { WriteLoadBench.percentile(sorted, p) }
        print(
            String(
                format: "runs: %d launched, %d executed (%d distinct, %d duplicates) in %.1f s: %.0f runs/s",
                result.launched,
                result.finished,
                result.claimed.count,
                result.duplicates,
                wall,
                Double(result.finished) / wall
            )
        )
        print(
            String(
                format: "dispatch (launch to claim): p50 %.0f ms, p99 %.0f ms, max %.0f ms; empty claims %d",
                percentile(0.5) * 1000,
                percentile(0.99) * 1000,
                (sorted.last ?? 0) * 1000,
                result.emptyClaims
            )
        )
        print("testbeds holding two runs at once: \(result.violations)")
        let failed = result.failures.values.reduce(0, +)
        print(
            "failed requests: \(failed)\(result.failures.isEmpty ? "" : " \(result.failures.sorted { $0.key < $1.key })")"
        )
        print("load average after: \(WriteLoadBench.loadAverage())")
        guard result.finished == total, result.duplicates == 0, result.violations == 0, failed == 0 else {
            throw Failure("the lab simulation did not execute every run exactly once on a free testbed")
        }
    }

    /// One simulated agent: claims on its replica until every run has ended, and reports each run it gets
    /// through its phases at once.
    static func agent(
        _ agentID: String,
        replica: String,
        client: Client,
        tally: Shared,
        total: Int,
        started: Date
    ) async {
        while tally.state.withLock({ $0.finished < total }) && Date().timeIntervalSince(started) < 1800 {
            let answer: [String: Any]?
            do {
                answer = try await client.jsonOrEmpty("POST", "\(replica)/api/v1/agents/\(agentID)/claim?wait=5", "{}")
            } catch {
                tally.state.withLock { $0.failures["claim: \(error)", default: 0] += 1 }
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            guard let answer, let run = answer["run"] as? [String: Any], let runID = run["id"] as? String,
                let claimant = answer["claimant"] as? String
            else {
                tally.state.withLock { $0.emptyClaims += 1 }
                continue
            }
            let claimedAt = Date()
            let testbed = run["testbed_id"] as? String ?? ""
            let created = (run["created_at"] as? String).flatMap(parseTime)
            tally.state.withLock { tally in
                if !tally.claimed.insert(runID).inserted { tally.duplicates += 1 }
                if !testbed.isEmpty {
                    if tally.busyTestbeds[testbed, default: 0] > 0 { tally.violations += 1 }
                    tally.busyTestbeds[testbed, default: 0] += 1
                }
                if let created { tally.dispatch.append(claimedAt.timeIntervalSince(created)) }
            }
            var ended = false
            for (status, extra) in [("running", ""), ("post-run", #", "exit_code": 0"#), ("success", "")] {
                if status == "success" {
                    // Free before the end is reported: the server frees it when the end commits, and the
                    // next claim of this testbed may come back before this answer does.
                    tally.state.withLock { if !testbed.isEmpty { $0.busyTestbeds[testbed, default: 1] -= 1 } }
                }
                let body = #"{"claimant": "\#(claimant)", "status": "\#(status)"\#(extra)}"#
                do {
                    _ = try await client.json("POST", "\(replica)/api/v1/runs/\(runID)/advance", body)
                    ended = status == "success"
                } catch {
                    tally.state.withLock { $0.failures["advance \(status): \(error)", default: 0] += 1 }
                    break
                }
            }
            if ended { tally.state.withLock { $0.finished += 1 } }
        }
    }

    static func applyLab(_ options: Options, client: Client) async throws {
        let testbeds = (0..<options.testbeds).map { #"{"name": "tb-\#($0)"}"# }.joined(separator: ",")
        let lab = """
            {"engines": [{"name": "sim", "type": "agent", "labels": ["sim"]}],
             "testbeds": [\(testbeds)],
             "definitions": [{"name": "sim", "harness": "shell", "job_file": "true",
               "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "sim", "testbeds": ["tb-0"],
                             "max_run_time": 600}]}]}
            """
        _ = try await client.json("POST", options.replicas[0] + "/api/v1/apply", lab)
    }

    /// The server's times (RFC 3339, UTC, microseconds).
    static func parseTime(_ text: String) -> Date? {
        Timestamp.parse(text).map { Date(timeIntervalSince1970: Double($0) / 1_000_000) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// JSON requests with the bearer token.
    struct Client: Sendable {
        let http: HTTPClient
        let token: String

        func json(_ method: String, _ url: String, _ body: String) async throws -> [String: Any] {
            guard let object = try await jsonOrEmpty(method, url, body) else { throw Failure("\(url) answered 204") }
            return object
        }

        /// The answer's JSON object, or nil for a 204.
        func jsonOrEmpty(_ method: String, _ url: String, _ body: String) async throws -> [String: Any]? {
            var request = HTTPClientRequest(url: url)
            request.method = .RAW(value: method)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await http.execute(request, timeout: .seconds(90))
            let bytes = try await response.body.collect(upTo: 16 << 20)
            if response.status.code == 204 { return nil }
            guard (200..<300).contains(response.status.code) else {
                throw Failure("HTTP \(response.status.code): \(String(buffer: bytes).prefix(200))")
            }
            return try JSONSerialization.jsonObject(with: Data(String(buffer: bytes).utf8)) as? [String: Any] ?? [:]
        }
    }
}
