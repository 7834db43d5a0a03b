import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
import Testing

/// PostgreSQL-style array literals in `filter=` on the native and the CDRouter doors: an element keeps its inner
/// spaces, a quoted one its commas, braces and escaped quotes; whether the client wrote a space as `%20` or, as
/// cdrouter.py's `requests` and HTML forms do, as `+`.
@Suite struct FilterLiteralTests {
    /// The tags of the runs (native) and jobs (CDRouter) each test creates, in creation order.
    static let tagSets: [[String]] = [
        ["night build", "x"],
        ["a b", "c,d"],
        ["zzz"],
        ["night", "build"],
        [#"say "hi""#, "{braced}", "a+b"],
    ]

    /// Encodes a query value the way Python's `urlencode` does (spaces as `+`), or strictly (`%20`).
    static func encode(_ value: String, plusForSpace: Bool) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
        return plusForSpace ? encoded.replacingOccurrences(of: "%20", with: "+") : encoded
    }

    /// Each filter and the indexes (in ``tagSets``) of what it matches.
    static let cases: [(filter: String, matches: [Int])] = [
        ("tags@>{night build}", [0]),
        ("tags@>{ night build }", [0]),
        (#"tags@>{"night build"}"#, [0]),
        (#"tags@>{"a b"}"#, [1]),
        ("tags@>{a b}", [1]),
        ("tags&&{a b,zzz}", [1, 2]),
        (#"tags&&{"c,d", zzz}"#, [1, 2]),
        ("tags@>{night,build}", [3]),
        ("tags&&{night}", [3]),
        (#"tags@>{"say \"hi\"", "{braced}"}"#, [4]),
        ("tags@>{a+b}", [4]),
        ("tags<@{zzz, night build, x}", [0, 2]),
    ]

    @Test(arguments: [false, true])
    func nativeRunFilters(plusForSpace: Bool) async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            var ids: [String] = []
            for tags in Self.tagSets {
                let body = JSONValue.object(["name": .string("r"), "tags": .array(tags.map(JSONValue.string))])
                    .encodedString()
                ids.append(
                    try await client.execute(
                        uri: "/api/v1/runs",
                        method: .post,
                        headers: bearer(TestApp.adminToken),
                        body: ByteBuffer(json: body)
                    ) { response in
                        #expect(response.status == .created)
                        return try json(response)["id"]?.stringValue ?? ""
                    }
                )
            }
            for (filter, matches) in Self.cases {
                let uri = "/api/v1/runs?sort=seq&filter=" + Self.encode(filter, plusForSpace: plusForSpace)
                try await client.execute(uri: uri, method: .get, headers: bearer(TestApp.adminToken)) { response in
                    #expect(response.status == .ok, "\(filter): \(String(buffer: response.body))")
                    let found = try json(response)["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                    #expect(found == matches.map { ids[$0] }, "\(filter) (\(uri))")
                }
            }
            // A malformed literal is the native 400.
            let broken = "/api/v1/runs?filter=" + Self.encode(#"tags@>{"a b}"#, plusForSpace: plusForSpace)
            try await client.execute(uri: broken, method: .get, headers: bearer(TestApp.adminToken)) { response in
                #expect(response.status == .badRequest)
                let message = try json(response)["error"]?["message"]?.stringValue
                #expect(message?.contains("unterminated") == true)
            }
        }
    }

    @Test(arguments: [false, true])
    func cdrouterJobFilters(plusForSpace: Bool) async throws {
        try await CDRouterTests().withLab { client in
            let cdr = CDRouterTests()
            let package =
                try await cdr.call(client, .get, "packages/?filter=name=dhcp")["data"]?.arrayValue?.first?["id"]?
                .stringValue ?? ""
            var ids: [String] = []
            for tags in Self.tagSets {
                let options = JSONValue.object(["tags": .array(tags.map(JSONValue.string))]).encodedString()
                let job = try await cdr.call(
                    client,
                    .post,
                    "jobs/",
                    #"{"package_id": "\#(package)", "options": \#(options)}"#
                )
                ids.append(job["data"]?["id"]?.stringValue ?? "")
            }
            // Stored as given.
            let first = try await cdr.call(client, .get, "jobs/\(ids[0])/")
            #expect(first["data"]?["options"]?["tags"] == .array([.string("night build"), .string("x")]))
            for (filter, matches) in Self.cases {
                let path = "jobs/?sort=id&limit=none&filter=" + Self.encode(filter, plusForSpace: plusForSpace)
                let found = try await cdr.call(client, .get, path)["data"]?.arrayValue?.compactMap {
                    $0["id"]?.stringValue
                }
                #expect(found == matches.map { ids[$0] }, "\(filter) (\(path))")
            }
            // `options.tags` is the same field; a malformed literal is CDRouter's 400.
            let byOption = try await cdr.call(
                client,
                .get,
                "jobs/?filter=" + Self.encode("options.tags@>{night build}", plusForSpace: plusForSpace)
            )
            #expect(byOption["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[0]])
            let bad = try await cdr.call(
                client,
                .get,
                "jobs/?filter=" + Self.encode(#"tags@>{"a"b}"#, plusForSpace: plusForSpace),
                status: .badRequest
            )
            #expect(bad["error"]?.stringValue?.contains("after a quoted array element") == true)
        }
    }
}
