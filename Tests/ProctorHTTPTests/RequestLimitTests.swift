import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import Testing

/// A query too big to run is the client's mistake: each door answers 400 in its own shape, naming the limit,
/// never 503 (which clients such as dciclient retry).
@Suite struct RequestLimitTests {
    static let terms = Filter.maxTerms + 44

    @Test func tooManyFilterTermsAreABadRequestOnEveryDoor() async throws {
        let app = try await DCITests.makeApp()
        try await app.test { client in
            let native = (0..<Self.terms).map { "filter=name=n\($0)" }.joined(separator: "&")
            try await client.execute(uri: "/api/v1/runs?\(native)", method: .get, headers: bearer(TestApp.adminToken)) {
                response in
                #expect(response.status == .badRequest)
                let message = try json(response)["error"]?["message"]?.stringValue ?? ""
                #expect(message == "a filter holds at most \(Filter.maxTerms) terms; this one has \(Self.terms)")
            }
            let cdrouter = (0..<Self.terms).map { "filter=package_name=n\($0)" }.joined(separator: "&")
            try await client.execute(
                uri: "/cdrouter/api/v1/jobs/?\(cdrouter)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .badRequest)
                let error = try json(response)["error"]?.stringValue ?? ""
                #expect(error.contains("at most \(Filter.maxTerms) terms"), "\(error)")
            }
            let dci = (0..<Self.terms).map { "name:n\($0)" }.joined(separator: ",")
            let (status, body, _) = try await DCITests.call(client, .get, "jobs?where=\(dci)")
            #expect(status == .badRequest)
            #expect(body["status_code"] == .number(400))
            #expect(body["message"]?.stringValue?.contains("at most \(Filter.maxTerms) terms") == true, "\(body)")
        }
    }

    /// A lab over the body limit is a 413 that says the limit and the way out (#21): `proctor apply` batches.
    @Test func aLabOverTheBodyLimitSaysHowToApplyIt() async throws {
        var app = try await TestApp.make()
        app.configuration.maxJSONBytes = 2048
        let groups = (0..<300).map { "{\"name\": \"group-\($0)\"}" }.joined(separator: ",")
        try await app.test { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(string: "{\"groups\": [\(groups)]}")
            ) { response in
                #expect(response.status == .contentTooLarge)
                let error = try json(response)["error"]
                #expect(error?["code"] == .string("too_large"), "\(String(describing: error))")
                #expect(error?["limit"] == .array([.string("2048")]))
                let message = error?["message"]?.stringValue ?? ""
                #expect(message.hasPrefix("the lab is larger than the 2048 bytes a request may carry"), "\(message)")
                #expect(message.contains("`proctor apply -f LAB` sends a big lab in batches"), "\(message)")
            }
        }
    }
}
