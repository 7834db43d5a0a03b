import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
import ProctorTestSupport
import Testing

/// An impossible date (30 February, 31 April, hour 24, minute 60, …) in a query is each door's 400, exactly as a
/// month 13 always was; it is never read as a later day. KernelCI, which never refuses a query, ignores it as it
/// ignores any date that is not one.
@Suite struct ImpossibleDateTests {
    static let impossible = [
        "2026-02-31", "2026-02-29", "2026-04-31", "2026-13-01", "2026-01-01T24:00:00Z", "2026-01-01T12:60:00Z",
        "2026-01-01T12:00:00%2B25:00",
    ]

    @Test func nativeFilters() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let admin = bearer(TestApp.adminToken)
            try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: admin,
                body: ByteBuffer(json: #"{"name": "r"}"#)
            ) { #expect($0.status == .created) }
            for date in Self.impossible {
                for filter in ["created_at>\(date)", "created_at=\(date)", "updated_at<=\(date)"] {
                    try await client.execute(uri: "/api/v1/runs?filter=\(filter)", method: .get, headers: admin) {
                        response in
                        #expect(response.status == .badRequest, "\(filter)")
                        let error = try json(response)["error"]
                        #expect(error?["code"] == .string("bad_request"))
                        #expect(error?["message"]?.stringValue?.contains("a time") == true, "\(filter)")
                    }
                }
            }
            // Real dates, a leap day among them, still filter.
            for (filter, count) in [
                ("created_at>2024-02-29", 1), ("created_at<2024-02-29T23:59:59Z", 0), ("created_at>2026-04-30", 1),
            ] {
                try await client.execute(uri: "/api/v1/runs?count=true&filter=\(filter)", method: .get, headers: admin)
                { response in
                    #expect(response.status == .ok, "\(filter)")
                    let total = try json(response)["total"]
                    #expect(total == .number(Double(count)), "\(filter)")
                }
            }
        }
    }

    @Test func cdrouterFilters() async throws {
        try await CDRouterTests().withLab { client in
            let cdr = CDRouterTests()
            for date in Self.impossible {
                let body = try await cdr.call(client, .get, "jobs/?filter=created>\(date)", status: .badRequest)
                #expect(body["error"]?.stringValue?.contains("a time") == true, "\(date): \(body)")
                try await cdr.call(client, .get, "results/?filter=updated<\(date)", status: .badRequest)
            }
            let real = try await cdr.call(client, .get, "jobs/?filter=created>2024-02-29")
            #expect(real["data"] != nil)
        }
    }

    @Test func dciWhereQueryAndCreatedAfter() async throws {
        let app = try await DCITests.makeApp()
        try await app.test { client in
            _ = try await DCITests.createJob(client)
            for date in Self.impossible {
                for path in [
                    "jobs?created_after=\(date)", "jobs?where=created_at:\(date)", "jobs?query=gt(created_at,\(date))",
                    "jobs?updated_after=\(date)",
                ] {
                    let (status, body, _) = try await DCITests.call(client, .get, path)
                    #expect(status == .badRequest, "\(path): \(body)")
                    #expect(DCITests.isDCIError(body, 400), "\(path): \(body)")
                }
            }
            let (status, body, _) = try await DCITests.call(client, .get, "jobs?created_after=2024-02-29")
            #expect(status == .ok)
            #expect(body["_meta"]?["count"] == .number(1))
        }
    }

    /// KernelCI answers every query: `created_on` that is no date is ignored, whether its month is 13 or its day
    /// the 31st of February, while a real day still narrows the list.
    @Test(arguments: TestBackend.available) func kernelCICreatedOn(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            for index in 1...3 {
                try await lab.seed(job: "next", kernel: "next-\(index)", age: Int64(index) * KernelCILab.minute)
            }
            for date in ["2026-02-31", "2026-13-01", "2023-02-29", "20260431"] {
                let page = try await lab.get("/kernelci/job?created_on=\(date)")
                #expect(page["code"] == .number(200), "\(date)")
                #expect(page["count"] == .number(3), "\(date)")
            }
            #expect(try await lab.get("/kernelci/job?created_on=2024-02-29")["count"] == .number(0))
            #expect(try await lab.get("/kernelci/job?created_on=2026-02-28&date_range=1")["count"] == .number(0))
        }
    }
}
