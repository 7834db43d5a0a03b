import Foundation
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
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
}
