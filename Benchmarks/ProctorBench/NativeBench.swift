import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore

/// `proctor-bench --native N`: the routes of `Benchmarks/http.sh` (the no-op `/livez`, `GET /api/v1/runs/{id}`
/// and the filtered page of 50 runs issue #19 asks to bring to 0.2 of the no-op route) served in process, without
/// sockets, after seeding N runs as http.sh does: server CPU per request, and each route's cost against the no-op
/// route's. wrk's req/s ratio moves with the machine and with wrk itself on the same two cores; this is the figure
/// to profile by (`NATIVE_ONLY=<suffix>`: only the route whose label ends with it, e.g. `NATIVE_ONLY=page`, under
/// valgrind's callgrind).
enum NativeBench {
    static let token = "pt_bench_native_admin_token_00000000"
    static let filteredPage =
        "/api/v1/runs?filter=status%3Dsuccess&filter=labels.branch%3Dmain&sort=-created_at&limit=50"

    static func measure(runs: Int, repeats: Int) async throws {
        let bench = try await BenchStore.open("native", token: token)
        defer { bench.remove() }
        let app = try await buildApplication(
            configuration: bench.configuration,
            store: bench.store,
            logger: bench.logger
        )
        let headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
        try await app.test(.router) { client in
            let started = ContinuousClock.now
            let sample = try await seed(client, runs: runs, headers: headers)
            print(
                String(
                    format: "== native: seeded %d runs in %.1f s (as Benchmarks/http.sh does)",
                    runs,
                    ProctorBench.milliseconds(ContinuousClock.now - started) / 1000
                )
            )
            var perRequest: [String: Double] = [:]
            for (label, uri) in [
                ("GET /livez (no-op)", "/livez"), ("GET /api/v1/runs/{id}", "/api/v1/runs/\(sample)"),
                ("filtered page", filteredPage),
            ] where ProcessInfo.processInfo.environment["NATIVE_ONLY"].map({ label.hasSuffix($0) }) ?? true {
                perRequest[label] = try await DCIBench.cpu(label, times: repeats) {
                    try await client.execute(uri: uri, method: .get, headers: headers) {
                        guard $0.status == .ok else {
                            throw ProctorError(.internal, "\(uri) answered \($0.status.code)")
                        }
                        return $0.body.readableBytes
                    }
                }
            }
            if let noop = perRequest["GET /livez (no-op)"] {
                for (label, cost) in perRequest.sorted(by: { $0.key < $1.key }) where cost != noop {
                    print(String(format: "== native: %@ costs %.1f× the no-op route's CPU", label, cost / noop))
                }
            }
        }
        await bench.store.shutdown()
    }

    /// Bare runs as http.sh seeds them: labels `branch` main (3 in 4) or stable; 9 in 10 reported running, then
    /// success (6 in 7) or failure. Returns the id of the run in the middle.
    static func seed(_ client: some TestClientProtocol, runs: Int, headers: HTTPFields) async throws -> String {
        func call(_ uri: String, _ body: String, expect: HTTPResponse.Status) async throws -> JSONValue {
            try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) {
                guard $0.status == expect else { throw ProctorError(.internal, "\(uri) answered \($0.status.code)") }
                return try JSONValue.decode(String(buffer: $0.body)) ?? .null
            }
        }
        var sample = ""
        for index in 0..<runs {
            let branch = index % 4 == 0 ? "stable" : "main"
            let run = try await call(
                "/api/v1/runs",
                #"{"name": "run-\#(index)", "labels": {"branch": "\#(branch)"}}"#,
                expect: .created
            )
            guard let id = run["id"]?.stringValue else { throw ProctorError(.internal, "a run without an id") }
            if index % 10 != 0 {
                for status in ["running", index % 7 == 0 ? "failure" : "success"] {
                    _ = try await call("/api/v1/runs/\(id)/status", #"{"status": "\#(status)"}"#, expect: .created)
                }
            }
            if index == runs / 2 { sample = id }
        }
        return sample
    }
}
