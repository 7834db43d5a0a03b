import Foundation
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Testing

/// `/metrics`: request counters by route template and status, latency histograms, run gauges.
@Suite struct MetricsTests {
    @Test func requestsAreCountedByRouteTemplateAndStatus() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let admin: HTTPFields = [.authorization: "Bearer \(TestApp.adminToken)"]
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/api/v1/harnesses", method: .get, headers: admin).status == .ok)
            #expect(try await client.execute(uri: "/api/v1/harnesses", method: .get, headers: admin).status == .ok)
            #expect(
                try await client.execute(uri: "/api/v1/harnesses/secret-id-1", method: .get, headers: admin).status
                    == .notFound
            )
            #expect(try await client.execute(uri: "/api/v1/harnesses", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/no/such/path/xyz", method: .get).status == .notFound)

            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: response.body)
            #expect(text.contains("# TYPE proctor_http_requests_total counter"))
            #expect(text.contains(#"proctor_http_requests_total{route="/healthz",method="GET",status="200"} 1"#))
            #expect(
                text.contains(#"proctor_http_requests_total{route="/api/v1/harnesses",method="GET",status="200"} 2"#)
            )
            #expect(
                text.contains(#"proctor_http_requests_total{route="/api/v1/harnesses",method="GET",status="401"} 1"#)
            )
            #expect(
                text.contains(
                    #"proctor_http_requests_total{route="/api/v1/harnesses/{id}",method="GET",status="404"} 1"#
                )
            )
            #expect(text.contains(#"proctor_http_requests_total{route="unmatched",method="GET",status="404"} 1"#))
            #expect(text.contains("# TYPE proctor_http_request_duration_seconds histogram"))
            #expect(
                text.contains(
                    #"proctor_http_request_duration_seconds_count{route="/api/v1/harnesses",method="GET",status="200"} 2"#
                )
            )
            #expect(
                text.contains(
                    #"proctor_http_request_duration_seconds_bucket{route="/healthz",method="GET",status="200",le="+Inf"} 1"#
                )
            )
            // Raw paths never become labels.
            #expect(!text.contains("secret-id-1"))
            #expect(!text.contains("xyz"))
        }
    }

    @Test func runGaugesAreCountedOnScrape() async throws {
        let app = try await TestApp.make()
        let group = try #require(try await app.store.first(.groups, matching: ["name": .string("default")]))
        for status in ["new", "new", "running", "success"] {
            _ = try await app.store.insert(
                Record(
                    .runs,
                    ["group_id": .string(group.id), "status": .string(status), "executor": .string("client")]
                )
            )
        }
        try await app.test { client in
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(text.contains("# TYPE proctor_queue_depth gauge"))
            #expect(text.contains("proctor_queue_depth 2.0"))
            #expect(text.contains(#"proctor_runs{status="new"} 2.0"#))
            #expect(text.contains(#"proctor_runs{status="running"} 1.0"#))
            #expect(text.contains(#"proctor_runs{status="success"} 1.0"#))
            #expect(text.contains(#"proctor_runs{status="killed"} 0.0"#))
            #expect(text.contains("proctor_store_up 1.0"))

            let group = try #require(try await app.store.first(.groups, matching: ["name": .string("default")]))
            // Reported by a client, like the others: the local executor, which runs during the test, must not claim it
            // before the scrape.
            _ = try await app.store.insert(
                Record(.runs, ["group_id": .string(group.id), "status": .string("new"), "executor": .string("client")])
            )
            let again = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(again.contains("proctor_queue_depth 3.0"))
        }
    }

    @Test func eachApplicationHasItsOwnRegistry() async throws {
        // Two applications in one process: no global bootstrap, no counts leaking between them.
        for _ in 0..<2 {
            let app = try await TestApp.make()
            try await app.test { client in
                _ = try await client.execute(uri: "/healthz", method: .get)
                let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                #expect(text.contains(#"proctor_http_requests_total{route="/healthz",method="GET",status="200"} 1"#))
            }
        }
    }

    /// The runs' ends and queue waits, told by the core as they happen, land in the buckets their durations
    /// decide: the test backdates the runs' launch and start so that each falls in one known bucket.
    @Test func finishedRunsAndQueueWaitsAreCountedByStatusInTheirBuckets() async throws {
        let app = try await TestApp.make()
        let services = app.configuration.runServices(store: app.store)
        let router = buildRouter(services: services, configuration: app.configuration)
        let group = try #require(try await app.store.first(.groups, matching: ["name": .string("default")]))
        let second: Int64 = 1_000_000

        /// Launched `waited` seconds ago, claimed now, started `took` seconds ago, ended `final`.
        func run(waited: Int64, took: Int64, final: RunStatus) async throws {
            let now = Timestamp.now()
            let launched = try await app.store.insert(
                Record(
                    .runs,
                    [
                        "group_id": .string(group.id), "status": .string("new"), "executor": .string("agent"),
                        "created_at": .timestamp(now - waited * second), "run_at": .timestamp(now - waited * second),
                    ]
                )
            )
            let claimed = try await services.queue.claim(claimant: "agent:test", executor: .agent)
            #expect(claimed?.id == launched.id)
            try await services.lifecycle.advance(runID: launched.id, to: .running)
            _ = try await app.store.update(
                .runs,
                id: launched.id,
                changes: ["started_at": .timestamp(Timestamp.now() - took * second)],
                ifMatch: nil,
                scope: .everything
            )
            try await services.lifecycle.advance(runID: launched.id, to: .postRun)
            try await services.lifecycle.advance(runID: launched.id, to: final)
        }
        // Waits far from the bucket bounds: a loaded machine may take seconds between the launch and the claim.
        try await run(waited: 40, took: 90, final: .success)
        try await run(waited: 2, took: 400, final: .failure)
        for (name, state, seen) in [("fresh", "online", Int64(0)), ("stale", "online", 300), ("gone", "offline", 0)] {
            _ = try await app.store.insert(
                Record(
                    .agents,
                    [
                        "group_id": .string(group.id), "name": .string(name), "state": .string(state),
                        "last_seen_at": .timestamp(Timestamp.now() - seen * second),
                    ]
                )
            )
        }

        try await Application(router: router).test(.router) { client in
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(text.contains("# TYPE proctor_runs_finished_total counter"), "\(text)")
            #expect(text.contains(#"proctor_runs_finished_total{status="success"} 1"#))
            #expect(text.contains(#"proctor_runs_finished_total{status="failure"} 1"#))
            #expect(text.contains(#"proctor_runs_finished_total{status="killed"} 0"#))
            #expect(text.contains(#"proctor_runs_finished_total{status="error"} 0"#))

            #expect(text.contains("# TYPE proctor_run_duration_seconds histogram"))
            for (status, below, above) in [("success", "60.0", "120.0"), ("failure", "300.0", "600.0")] {
                #expect(text.contains(#"proctor_run_duration_seconds_bucket{status="\#(status)",le="\#(below)"} 0"#))
                #expect(text.contains(#"proctor_run_duration_seconds_bucket{status="\#(status)",le="\#(above)"} 1"#))
                #expect(text.contains(#"proctor_run_duration_seconds_bucket{status="\#(status)",le="86400.0"} 1"#))
                #expect(text.contains(#"proctor_run_duration_seconds_bucket{status="\#(status)",le="+Inf"} 1"#))
                #expect(text.contains(#"proctor_run_duration_seconds_count{status="\#(status)"} 1"#))
            }
            #expect(text.contains(#"proctor_run_duration_seconds_bucket{status="killed",le="+Inf"} 0"#))
            #expect(text.contains(#"proctor_run_duration_seconds_count{status="killed"} 0"#))

            #expect(text.contains("# TYPE proctor_queue_wait_seconds histogram"))
            for (le, count) in [("1.0", 0), ("15.0", 1), ("30.0", 1), ("60.0", 2), ("+Inf", 2)] {
                #expect(text.contains(#"proctor_queue_wait_seconds_bucket{executor="agent",le="\#(le)"} \#(count)"#))
            }
            #expect(text.contains(#"proctor_queue_wait_seconds_count{executor="agent"} 2"#))
            #expect(text.contains(#"proctor_queue_wait_seconds_count{executor="local"} 0"#))

            #expect(text.contains("# TYPE proctor_agents_online gauge"))
            #expect(text.contains("proctor_agents_online 1.0"))
            #expect(text.contains("# TYPE proctor_build_info gauge"))
            #expect(text.contains(#"proctor_build_info{version="\#(ProctorBuild.version)"} 1.0"#))
        }
        await app.store.shutdown()
    }

    @Test func processMetricsAreReadFromProc() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            var values: [String: Double] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix("process_") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { values[String(parts[0])] = Double(parts[1]) }
            }
            #expect(text.contains("# TYPE process_cpu_seconds_total counter"), "\(text)")
            #expect(text.contains("# TYPE process_resident_memory_bytes gauge"))
            let now = Date().timeIntervalSince1970
            #expect((values["process_cpu_seconds_total"] ?? 0) > 0)
            #expect((values["process_resident_memory_bytes"] ?? 0) > 1_000_000)
            #expect((values["process_open_fds"] ?? 0) >= 3)
            #expect((values["process_max_fds"] ?? 0) >= (values["process_open_fds"] ?? 0))
            let started = values["process_start_time_seconds"] ?? 0
            #expect(started > 1_600_000_000 && started <= now + 1)
        }
    }

    @Test func executorSlotsFollowTheExecutor() {
        let metrics = AppMetrics()
        metrics.record(.executorSlots(busy: 3, total: 4))
        metrics.record(.executorSlots(busy: 1, total: 4))
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains("proctor_executor_slots 4.0"))
        #expect(text.contains("proctor_executor_slots_busy 1.0"))
    }
}
