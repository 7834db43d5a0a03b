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
            let sample = try await seed(bench, runs: runs)
            print(
                String(
                    format: "== native: seeded %d runs in %.1f s (as Benchmarks/http.sh leaves them)",
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

    /// Runs as Benchmarks/http.sh leaves them, inserted straight into the store (seeding is then the same in
    /// every run, which profiles that subtract two runs need): bare client runs, labels `branch` main (3 in 4) or
    /// stable; 9 in 10 finished, success (6 in 7) or failure, with their start, end and duration. Returns the id of
    /// the run in the middle.
    static func seed(_ bench: BenchStore, runs: Int) async throws -> String {
        let group = try await bench.defaultGroup()
        let start = Timestamp.now() - Int64(runs) * 1_000_000
        for chunk in stride(from: 0, to: runs, by: 1000) {
            let records = (chunk..<min(runs, chunk + 1000)).map { index in
                let created = start + Int64(index) * 1_000_000
                var values: [String: Value] = [
                    "group_id": .string(group.id), "name": .string("run-\(index)"), "executor": .string("client"),
                    "labels": .json(.object(["branch": .string(index % 4 == 0 ? "stable" : "main")])),
                    "created_at": .timestamp(created), "updated_at": .timestamp(created),
                ]
                if index % 10 != 0 {
                    values["status"] = .string(index % 7 == 0 ? "failure" : "success")
                    values["started_at"] = .timestamp(created + 1_000)
                    values["finished_at"] = .timestamp(created + 251_000)
                    values["duration"] = .double(0.25)
                }
                return Record(.runs, values)
            }
            try await bench.store.insertMany(records)
        }
        let middle = try await bench.store.list(
            .runs,
            query: Query(sort: [SortKey("seq")], limit: 1, offset: runs / 2, fields: ["id"]),
            scope: .everything
        )
        guard let id = middle.items.first?.id else { throw ProctorError(.internal, "no run was seeded") }
        return id
    }
}
