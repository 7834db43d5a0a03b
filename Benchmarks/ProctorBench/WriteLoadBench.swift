import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// `proctor-bench --write-load URL`: N clients, each flat out for T seconds against a running server, each
/// creating a bare run (`POST /api/v1/runs`) and reporting it `running` then `success`
/// (`POST /api/v1/runs/{id}/status`), one request after the other (issue #19's write load). Prints the
/// acknowledged writes (2xx answers), writes/s, p50/p99/max of their latency, the failures, and the machine's
/// load average before and after.
enum WriteLoadBench {
    /// What every client measured.
    struct Tally {
        var latencies: [Double] = []
        var failures: [String: Int] = [:]
    }

    /// The clients' shared tally.
    final class Tallies: Sendable {
        let tally = Mutex(Tally())
    }

    static func measure(url: String, token: String, clients: Int, seconds: Double) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: clients
        )
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let loadBefore = loadAverage()
        print("== write load: \(clients) clients for \(Int(seconds)) s against \(url) (load average \(loadBefore))")
        let tally = Tallies()
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(Int64(seconds * 1000))
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    var sequence = 0
                    while ContinuousClock.now < deadline {
                        sequence += 1
                        let created = await post(
                            http,
                            "\(url)/api/v1/runs",
                            token: token,
                            body: #"{"name": "load-\#(client)-\#(sequence)", "labels": {"bench": "writes"}}"#,
                            into: tally
                        )
                        guard let id = created.flatMap(runID) else { continue }
                        for status in ["running", "success"] where ContinuousClock.now < deadline {
                            _ = await post(
                                http,
                                "\(url)/api/v1/runs/\(id)/status",
                                token: token,
                                body: #"{"status": "\#(status)"}"#,
                                into: tally
                            )
                        }
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        try? await http.shutdown()
        let result = tally.tally.withLock { $0 }
        let sorted = result.latencies.sorted()
        func percentile(_ p: Double) -> Double { Self.percentile(sorted, p) }
        print(
            String(
                format:
                    "acknowledged writes: %d in %.1f s, %.0f writes/s; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                sorted.count,
                wall,
                Double(sorted.count) / wall,
                percentile(0.50),
                percentile(0.99),
                sorted.last ?? 0
            )
        )
        let failed = result.failures.values.reduce(0, +)
        print(
            "failed writes: \(failed)\(result.failures.isEmpty ? "" : " \(result.failures.sorted { $0.key < $1.key })")"
        )
        print("load average after: \(loadAverage())")
    }

    /// Posts `body`; returns the answer's bytes when it was a 2xx (an acknowledged write, its latency recorded).
    static func post(_ http: HTTPClient, _ url: String, token: String, body: String, into tallies: Tallies) async
        -> ByteBuffer?
    {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let sent = ContinuousClock.now
        do {
            let response = try await http.execute(request, timeout: .seconds(60))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let took = ContinuousClock.now - sent
            let milliseconds =
                Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15
            guard (200..<300).contains(response.status.code) else {
                tallies.tally.withLock { $0.failures["HTTP \(response.status.code)", default: 0] += 1 }
                return nil
            }
            tallies.tally.withLock { $0.latencies.append(milliseconds) }
            return bytes
        } catch {
            tallies.tally.withLock { $0.failures[String(describing: type(of: error)), default: 0] += 1 }
            return nil
        }
    }

    static func runID(_ bytes: ByteBuffer) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(String(buffer: bytes).utf8)) as? [String: Any]
        return object?["id"] as? String
    }

    /// The value at fraction `p` (0.99 for p99) of `sorted`, 0 when it is empty.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    /// The 1, 5 and 15 minute load averages, as /proc/loadavg says them.
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}
