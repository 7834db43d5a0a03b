import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import Testing

/// Result uploads through the doors: a file sent again under the same name replaces the earlier one's cases (the
/// native API and DCI), and partial uploads a killed server left in `files/.incoming` are gone when the next one
/// starts.
@Suite struct ResultUploadTests {
    static func junit(cases: Int, failing: Int = 0) -> String {
        let rows = (0..<cases).map { index in
            index < failing
                ? #"<testcase classname="c" name="t\#(index)"><failure message="no"/></testcase>"#
                : #"<testcase classname="c" name="t\#(index)" time="0.1"/>"#
        }
        return "<testsuites><testsuite name=\"s\">\n" + rows.joined(separator: "\n") + "\n</testsuite></testsuites>"
    }

    /// `POST /api/v1/runs/{id}/files?name=big.xml&results=junit` twice: 201 both times, and the run holds the second
    /// file's cases only, once.
    @Test func aNativeReuploadReplacesInsteadOfAdding() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let admin = bearer(TestApp.adminToken)
            let run = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: admin,
                body: ByteBuffer(json: #"{"name": "reported"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            func upload(_ name: String, _ body: String) async throws -> JSONValue {
                try await client.execute(
                    uri: "/api/v1/runs/\(run)/files?name=\(name)&results=junit",
                    method: .post,
                    headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "application/xml"],
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                    return try json(response)
                }
            }
            func count(_ query: String = "") async throws -> JSONValue? {
                try await client.execute(
                    uri: "/api/v1/runs/\(run)/tests?count=true&limit=1\(query)",
                    method: .get,
                    headers: admin
                ) {
                    try json($0)["total"]
                }
            }
            let first = try await upload("big.xml", Self.junit(cases: 1_200))
            #expect(first["run_totals"]?["total"] == .number(1_200))
            _ = try await upload("other.xml", Self.junit(cases: 3))
            let second = try await upload("big.xml", Self.junit(cases: 1_200, failing: 7))
            #expect(second["results"]?["total"] == .number(1_200))
            #expect(second["run_totals"]?["total"] == .number(1_203))
            #expect(second["run_totals"]?["failed"] == .number(7))
            #expect(try await count() == .number(1_203))
            #expect(try await count("&filter=status=failed") == .number(7))
            let names = try await client.execute(
                uri: "/api/v1/runs/\(run)/files?sort=name",
                method: .get,
                headers: admin
            ) {
                try json($0)["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            }
            #expect(names == ["big.xml", "other.xml"])
            let firstID = first["file"]?["id"]?.stringValue ?? ""
            try await client.execute(uri: "/api/v1/files/\(firstID)", method: .get, headers: admin) {
                #expect($0.status == .notFound)
            }
            let stored = try await client.execute(uri: "/api/v1/runs/\(run)", method: .get, headers: admin) {
                try json($0)
            }
            #expect(stored["tests_total"] == .number(1_203))
        }
    }

    /// DCI: a JUnit file uploaded again under the same `DCI-NAME` leaves one `results` row, the new file's.
    @Test func aDCIReuploadReplacesTheJobsResultsRow() async throws {
        let app = try await DCITests.makeApp()
        try await app.test { client in
            let id = try #require(try await DCITests.createJob(client)["id"]?.stringValue)
            let uri = "/dci/api/v1/files"
            func upload(_ body: String) async throws -> HTTPResponse.Status {
                var headers = DCITests.signed(.post, uri, body: body)
                headers[HTTPField.Name("DCI-NAME")!] = "junit.xml"
                headers[HTTPField.Name("DCI-MIME")!] = "application/junit"
                headers[HTTPField.Name("DCI-JOB-ID")!] = id
                return try await client.execute(
                    uri: uri,
                    method: .post,
                    headers: headers,
                    body: ByteBuffer(string: body)
                ) {
                    $0.status
                }
            }
            #expect(try await upload(Self.junit(cases: 600)) == .created)
            #expect(try await upload(Self.junit(cases: 600, failing: 2)) == .created)
            let (_, results, _) = try await DCITests.call(client, .get, "jobs/\(id)/results")
            let rows = results["results"]?.arrayValue ?? []
            #expect(rows.count == 1)
            #expect(rows.first?["total"] == .number(600))
            #expect(rows.first?["failures"] == .number(2))
            let (_, files, _) = try await DCITests.call(client, .get, "jobs/\(id)/files")
            #expect(files["files"]?.arrayValue?.count == 1)
            let stored = try await client.execute(
                uri: "/api/v1/runs/\(id)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                try json($0)
            }
            #expect(stored["tests_total"] == .number(600))
        }
    }

    /// A server starting over a data directory whose `files/.incoming` holds a killed server's partial upload
    /// deletes it; uploads then work as before.
    @Test func theServerRemovesAbandonedUploadsAsItStarts() async throws {
        let app = try await TestApp.make()
        let incoming = app.configuration.filesDirectory.appendingPathComponent(".incoming")
        // The folder of a process of this host that is gone (pid 2^22 + 1 is above Linux's pid_max).
        let abandoned = incoming.appendingPathComponent("\(hostName()).4194305.deadbeef")
        try FileManager.default.createDirectory(at: abandoned, withIntermediateDirectories: true)
        let partial = abandoned.appendingPathComponent("0F1E2D3C")
        try Data(repeating: 60, count: 256 << 10).write(to: partial)
        #expect(FileManager.default.fileExists(atPath: partial.path))
        try await app.test { client in
            #expect(!FileManager.default.fileExists(atPath: partial.path))
            #expect(!FileManager.default.fileExists(atPath: abandoned.path))
            let run = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"name": "r"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            try await client.execute(
                uri: "/api/v1/runs/\(run)/files?name=results.xml&results=junit",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)"],
                body: ByteBuffer(string: Self.junit(cases: 2))
            ) { response in
                #expect(response.status == .created)
                let body = try json(response)
                #expect(body["run_totals"]?["total"] == .number(2))
            }
        }
    }

    private func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
