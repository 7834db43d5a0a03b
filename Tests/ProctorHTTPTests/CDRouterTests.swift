import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import Testing

/// The CDRouter dialect under `/cdrouter`: envelopes, paging links, the null rules of cdrouter.py, filters,
/// tenancy, and (live) a job that really runs and becomes a result with test counts.
@Suite(.serialized) struct CDRouterTests {
    static let junit =
        #"printf '%s' '<testsuite name="cdr"><testcase name="cdrouter_basic_1"/><testcase name="cdrouter_nat_1"><failure message="no route">x</failure></testcase></testsuite>' > results.xml"#

    /// The lab; unless `live`, every package runs on an agent engine that no agent serves, so its jobs stay
    /// pending and paging, edits and deletes see a fixed state.
    static func lab(live: Bool) -> String {
        let profile = live ? "" : #", "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "remote"}]"#
        return """
            {"groups": [{"name": "other"}],
             "users": [{"name": "eve", "password": "eve-password-1", "groups": {"other": "admin"}}],
             "tokens": [{"user": "eve", "name": "t", "value": "pt_eve_cdrouter_token_0001"}],
             "engines": [{"group": "default", "name": "remote", "type": "agent"}, {"group": "other", "name": "remote", "type": "agent"}],
             "testbeds": [{"group": "default", "name": "dut", "interfaces": [{"value": "eth1", "is_wireless": false, "is_ics": false},
                            {"value": "wifi0", "is_wireless": true, "is_ics": true}]}],
             "configs": [{"group": "default", "name": "cfg", "contents": "testvar a 1"}],
             "definitions": [
               {"group": "default", "name": "dhcp", "harness": "shell", "tags": ["cdrouter", "nightly"], "job_file": \(JSONValue.string(junit).encodedString())\(profile)},
               {"group": "default", "name": "nat", "harness": "shell", "tags": ["cdrouter"], "job_file": "true"\(profile)},
               {"group": "default", "name": "not-a-package", "harness": "shell", "job_file": "true"},
               {"group": "other", "name": "theirs", "harness": "cdrouter"\(profile)}]}
            """
    }

    static let headers = bearer(TestApp.adminToken)
    static let eve = bearer("pt_eve_cdrouter_token_0001")

    /// The `cdrouter-cli` stand-in the `cdrouter` harness runs in these tests (the real one is commercial).
    static let standin = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/cdrouter/cdrouter-cli-standin").path

    func withLab(live: Bool = false, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var app = try await TestApp.make()
        app.configuration.cdrouterBinary = Self.standin
        let lab = Self.lab(live: live)
        let run: @Sendable (any TestClientProtocol) async throws -> Void = { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: Self.headers,
                body: ByteBuffer(json: lab)
            ) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
            }
            try await body(client)
        }
        if live { try await app.testLive(run) } else { try await app.test(run) }
    }

    @discardableResult
    func call(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ path: String,
        _ body: String? = nil,
        headers: HTTPFields = CDRouterTests.headers,
        status: HTTPResponse.Status = .ok
    ) async throws -> JSONValue {
        try await client.execute(
            uri: "/cdrouter/api/v1/" + path,
            method: method,
            headers: headers,
            body: body.map { ByteBuffer(json: $0) }
        ) { response in
            #expect(response.status == status, "\(method) \(path): \(String(buffer: response.body))")
            if response.body.readableBytes == 0 { return .null }
            return try json(response)
        }
    }

    /// Fields cdrouter.py allows to be null; any other null breaks its schemas.
    static let nullable: Set<String> = [
        "result_id", "ics_interface_name", "next", "prev", "testlist", "note", "skip_tests", "testvars", "tags",
    ]

    func expectNoForbiddenNulls(_ value: JSONValue, path: String = "") {
        switch value {
        case .object(let object):
            for (key, item) in object {
                if item == .null { #expect(Self.nullable.contains(key), "null at \(path).\(key)") }
                expectNoForbiddenNulls(item, path: "\(path).\(key)")
            }
        case .array(let items):
            for item in items { expectNoForbiddenNulls(item, path: path + "[]") }
        default: break
        }
    }

    func expectTimestamp(_ value: JSONValue?) {
        let text = value?.stringValue ?? ""
        #expect(
            text.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$"#, options: .regularExpression) != nil,
            "timestamp \(text)"
        )
    }

    @Test func systemIsOpenAndJobsNeedAToken() async throws {
        try await withLab { client in
            let hostname = try await call(client, .get, "system/hostname/", headers: [:])
            #expect(hostname["data"]?.stringValue?.isEmpty == false)
            expectTimestamp(hostname["timestamp"])
            let denied = try await call(client, .get, "jobs/", headers: [:], status: .unauthorized)
            #expect(denied["error"]?.stringValue?.hasPrefix("insufficient privileges") == true)
            expectTimestamp(denied["timestamp"])
            #expect(denied["data"] == nil)
            try await call(client, .get, "jobs/", headers: bearer("pt_wrong_token_000000000"), status: .unauthorized)
            try await call(client, .get, "nothing/here/", status: .notFound)
        }
    }

    @Test func launchListPageAndTheNullRules() async throws {
        try await withLab { client in
            let packages = try await call(client, .get, "packages/?sort=name&filter=tags%40%3E%7Bcdrouter%7D")
            #expect(packages["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["dhcp", "nat"])
            let dhcp = packages["data"]?.cdrElement(0)?["id"]?.stringValue ?? ""
            let nat = packages["data"]?.cdrElement(1)?["id"]?.stringValue ?? ""
            let device =
                try await call(client, .get, "devices/?filter=name=dut")["data"]?.cdrElement(0)?["id"]?.stringValue
                ?? ""

            // What cdrouter.py sends for Job(package_id=…): explicit nulls meaning "not given".
            let launched = try await call(
                client,
                .post,
                "jobs/",
                #"{"options": null, "package_id": "\#(dhcp)", "config_id": null, "device_id": null, "run_at": null}"#
            )
            expectTimestamp(launched["timestamp"])
            let job = launched["data"] ?? .null
            #expect(job["status"] == .string("pending"))
            #expect(job["active"] == .bool(false))
            #expect(job["id"]?.stringValue.flatMap { Int($0) } != nil)
            #expect(job["package_id"] == .string(dhcp))
            #expect(job["device_id"] == .string("0"))
            #expect(job["device_name"] == .string(""))
            #expect(job["result_id"] == nil)
            #expect(job["options"]?["begin_at"] == .string(""))
            expectNoForbiddenNulls(launched)
            // A job's options are its documented data; anything else (a command, an interpreter) is refused.
            let refused = try await call(
                client,
                .post,
                "jobs/",
                #"{"package_id": "\#(dhcp)", "options": {"command": "id", "tags": ["x"]}}"#,
                status: .badRequest
            )
            #expect(refused["error"]?.stringValue?.hasPrefix("options.command is not a job option") == true)

            let second =
                try await call(
                    client,
                    .post,
                    "jobs/",
                    #"{"package_id": \#(nat), "device_id": "\#(device)", "options": {"tags": ["a", "b"], "skip_tests": ["t1"], "begin_at": "x", "end_at": "", "extra_cli_args": "-v", "testvars": [{"group": "main", "name": "lanIp", "value": "1.2.3.4", "default": null}]}}"#
                )["data"] ?? .null
            #expect(second["device_name"] == .string("dut"))
            #expect(second["interface_names"] == .array([.string("eth1"), .string("wifi0")]))
            #expect(second["uses_ics"] == .bool(true))
            #expect(second["ics_interface_name"] == .string("wifi0"))
            #expect(second["options"]?["skip_tests"] == .array([.string("t1")]))
            #expect(second["options"]?["testvars"]?.cdrElement(0)?["default"] == nil)
            try await call(client, .post, "jobs/", #"{"package_id": "\#(nat)"}"#)

            // Paging: 1-based pages, complete links, null next on the last page.
            let first = try await call(client, .get, "jobs/?limit=2&page=1&detailed=False")
            #expect(
                first["links"]
                    == .object([
                        "first": .number(1), "last": .number(2), "current": .number(1), "total": .number(3),
                        "limit": .number(2),
                        "next": .number(2), "prev": .null,
                    ])
            )
            #expect(first["data"]?.cdrElement(0)?["options"] == nil, "summary representation")
            let last = try await call(client, .get, "jobs/?limit=2&page=2&detailed=True")
            #expect(last["links"]?["next"] == .null)
            #expect(last["links"]?["prev"] == .number(1))
            #expect(last["data"]?.arrayValue?.count == 1)
            #expect(last["data"]?.cdrElement(0)?["options"] != nil)
            expectNoForbiddenNulls(last)
            let beyond = try await call(client, .get, "jobs/?page=9")
            #expect(beyond["data"] == .array([]))
            #expect(try await call(client, .get, "jobs/")["links"]?["limit"] == .number(25))
            #expect(try await call(client, .get, "jobs/?limit=none")["links"]?["limit"] == .number(1000))

            // Filters, union and intersection, sorts.
            func ids(_ query: String) async throws -> [String] {
                try await call(client, .get, "jobs/?" + query)["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
                    ?? []
            }
            let all = try await ids("sort=id")
            #expect(all.count == 3)
            #expect(try await ids("filter=tags%40%3E%7Ba%7D") == [all[1]])
            #expect(try await ids("filter=package_name~*%5EDH") == [all[0]])
            #expect(try await ids("filter=package_name!~dhcp&sort=-id") == [all[2], all[1]])
            #expect(try await ids("filter=id%3D%7B\(all[0]),\(all[2])%7D") == [all[0], all[2]])
            #expect(try await ids("filter=id=\(all[0])&filter=id=\(all[2])&type=union") == [all[0], all[2]])
            #expect(try await ids("filter=id=\(all[0])&filter=id=\(all[2])&type=inter") == [])
            #expect(try await ids("filter=status=pending&filter=active=false&filter=automatic=false") == all)
            #expect(try await ids("filter=status=completed") == [])
            #expect(try await ids("filter=device_name=dut") == [all[1]])
            #expect(try await ids("filter=package_id=\(nat)&sort=-package_name,-id") == [all[2], all[1]])
            #expect(try await ids("filter=id>=\(all[1])&filter=id<\(all[2])") == [all[1]])
            let bad = try await call(client, .get, "jobs/?filter=bogus=1", status: .badRequest)
            #expect(bad["error"]?.stringValue?.contains("bogus") == true)
            try await call(client, .get, "jobs/?filter=tags@>a", status: .badRequest)
            try await call(client, .get, "jobs/?sort=bogus", status: .badRequest)
            try await call(client, .get, "jobs/?type=maybe", status: .badRequest)
            try await call(client, .get, "jobs/?limit=0", status: .badRequest)
            try await call(client, .get, "jobs/?page=x", status: .badRequest)
        }
    }

    @Test func getEditDeleteBulkAndTenancy() async throws {
        try await withLab { client in
            let dhcp =
                try await call(client, .get, "packages/?filter=name=dhcp")["data"]?.cdrElement(0)?["id"]?.stringValue
                ?? ""
            let nat =
                try await call(client, .get, "packages/?filter=name=nat")["data"]?.cdrElement(0)?["id"]?.stringValue
                ?? ""
            let id =
                try await call(client, .post, "jobs/", #"{"package_id": "\#(dhcp)"}"#)["data"]?["id"]?.stringValue ?? ""

            let missing = try await call(client, .get, "jobs/999999/", status: .notFound)
            #expect(missing["error"] == .string("no such job"))
            expectTimestamp(missing["timestamp"])
            try await call(client, .get, "jobs/abc/", status: .notFound)
            try await call(client, .post, "jobs/", #"{"package_id": "999999"}"#, status: .notFound)
            try await call(client, .post, "jobs/", #"{"device_id": "1"}"#, status: .badRequest)
            try await call(client, .post, "jobs/", #"{"package_id": "x1"}"#, status: .badRequest)
            try await call(
                client,
                .post,
                "jobs/",
                #"{"package_id": "\#(dhcp)", "options": {"tags": "a"}}"#,
                status: .badRequest
            )
            try await call(client, .post, "jobs/", "not json", status: .badRequest)
            // A definition that is neither of the cdrouter harness nor tagged cdrouter is no package; the site
            // admin sees every group's packages.
            let other = try await call(client, .get, "packages/?limit=none")["links"]?["total"]
            #expect(other == .number(3))

            // PATCH: nulls are "not given"; a pending job can move to another package.
            let same = try await call(
                client,
                .patch,
                "jobs/\(id)/",
                #"{"package_id": null, "config_id": null, "device_id": null}"#
            )
            #expect(same["data"]?["package_id"] == .string(dhcp))
            let moved = try await call(
                client,
                .patch,
                "jobs/\(id)/",
                #"{"package_id": "\#(nat)", "config_id": null, "device_id": null}"#
            )
            #expect(moved["data"]?["package_name"] == .string("nat"))
            try await call(client, .patch, "jobs/\(id)/", #"{"device_id": "424242"}"#, status: .notFound)

            let interfaces = try await call(
                client,
                .post,
                "jobs/?process=interfaces",
                #"{"package_id": "\#(dhcp)", "device_id": "1"}"#
            )
            #expect(interfaces["data"]?.arrayValue?.compactMap { $0["value"]?.stringValue } == ["eth1", "wifi0"])

            // Tenancy: another group's caller sees neither the job nor the packages.
            try await call(client, .get, "jobs/\(id)/", headers: Self.eve, status: .notFound)
            try await call(client, .delete, "jobs/\(id)/", headers: Self.eve, status: .notFound)
            #expect(try await call(client, .get, "jobs/", headers: Self.eve)["links"]?["total"] == .number(0))
            #expect(
                try await call(client, .get, "packages/", headers: Self.eve)["data"]?.cdrElement(0)?["name"]
                    == .string("theirs")
            )
            try await call(client, .post, "jobs/", #"{"package_id": "\#(dhcp)"}"#, headers: Self.eve, status: .notFound)

            try await call(client, .delete, "jobs/\(id)/", status: .noContent)
            try await call(client, .get, "jobs/\(id)/", status: .notFound)
            try await call(client, .delete, "jobs/\(id)/", status: .notFound)

            // Bulk launch by jobs, by package filter, all; bulk delete by ids, by filter, all.
            let byJobs = try await call(
                client,
                .post,
                "jobs/?bulk=launch&all=False",
                #"{"jobs": [{"package_id": "\#(dhcp)", "id": null}, {"package_id": "\#(nat)"}]}"#
            )
            #expect(byJobs["data"]?.arrayValue?.count == 2)
            let byFilter = try await call(
                client,
                .post,
                "jobs/?bulk=launch&filter=tags%40%3E%7Bnightly%7D&type=inter&all=False",
                #"{"fields": {"options": {"tags": ["monday"]}, "package_id": null, "config_id": null, "device_id": "1", "run_at": null}}"#
            )
            #expect(byFilter["data"]?.arrayValue?.compactMap { $0["package_name"]?.stringValue } == ["dhcp"])
            #expect(byFilter["data"]?.cdrElement(0)?["options"]?["tags"] == .array([.string("monday")]))
            let everything = try await call(client, .post, "jobs/?bulk=launch&all=True", #"{"fields": {}}"#)
            #expect(everything["data"]?.arrayValue?.count == 3)
            try await call(client, .post, "jobs/?bulk=launch&all=False", "{}", status: .badRequest)
            try await call(client, .post, "jobs/?bulk=copy", status: .badRequest)

            let listed =
                try await call(client, .get, "jobs/?sort=id")["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
                ?? []
            #expect(listed.count == 6)
            try await call(
                client,
                .post,
                "jobs/?bulk=delete&all=False",
                #"{"jobs": [{"id": "\#(listed[0])"}, {"id": "999999"}]}"#,
                status: .noContent
            )
            #expect(try await call(client, .get, "jobs/")["links"]?["total"] == .number(5))
            try await client.execute(
                uri: "/cdrouter/api/v1/jobs/?bulk=delete&filter=package_name%3Dnat&all=False",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)"]
            ) { response in
                #expect(response.status == .noContent)
            }
            #expect(try await call(client, .get, "jobs/?filter=package_name=nat")["links"]?["total"] == .number(0))
            try await call(client, .post, "jobs/?bulk=delete&all=False", status: .badRequest)
            try await call(client, .post, "jobs/?bulk=delete&all=True", status: .noContent)
            #expect(try await call(client, .get, "jobs/")["links"]?["total"] == .number(0))
        }
    }

    /// The ids of the packages named, in order.
    func packageIDs(_ client: any TestClientProtocol, _ names: String...) async throws -> [String] {
        let packages = try await call(client, .get, "packages/?limit=100")["data"]?.arrayValue ?? []
        return names.map { name in
            packages.first { $0["name"] == .string(name) }?["id"]?.stringValue ?? "missing \(name)"
        }
    }

    @Test func aRefusedBulkLaunchLaunchesNothing() async throws {
        try await withLab { client in
            let ids = try await packageIDs(client, "dhcp", "nat")
            let refused = try await call(
                client,
                .post,
                "jobs/?bulk=launch",
                #"{"jobs": [{"package_id": "\#(ids[0])"}, {"package_id": "987654"}]}"#,
                status: .notFound
            )
            #expect(refused["error"] == .string("no such package"))
            // A bad option in the last job refuses the whole batch as well.
            try await call(
                client,
                .post,
                "jobs/?bulk=launch",
                #"{"jobs": [{"package_id": "\#(ids[0])"}, {"package_id": "\#(ids[1])", "options": {"command": "x"}}]}"#,
                status: .badRequest
            )
            #expect(try await call(client, .get, "jobs/")["links"]?["total"] == .number(0))
            let runs = try await client.execute(uri: "/api/v1/runs?count=true", method: .get, headers: Self.headers) {
                try json($0)
            }
            #expect(runs["total"] == .number(0), "\(runs)")

            let launched = try await call(
                client,
                .post,
                "jobs/?bulk=launch",
                #"{"jobs": [{"package_id": "\#(ids[0])"}, {"package_id": "\#(ids[1])", "config_id": "1"}]}"#
            )
            #expect(launched["data"]?.arrayValue?.compactMap { $0["package_name"]?.stringValue } == ["dhcp", "nat"])
            #expect(launched["data"]?.cdrElement(1)?["config_name"] == .string("cfg"))
            #expect(try await call(client, .get, "jobs/")["links"]?["total"] == .number(2))
        }
    }

    /// `?process=interfaces` and a job's `interfaces` follow the job's `lanInterface` testvar, as the API docs'
    /// example (`"extra_cli_args": "-testvar lanInterface=eth2"` answers eth2) shows.
    @Test func interfacesHonourTheLaunchTestvars() async throws {
        try await withLab { client in
            let dhcp = try await packageIDs(client, "dhcp")[0]
            func values(_ body: String) async throws -> [String] {
                let answer = try await call(client, .post, "jobs/?process=interfaces", body)
                return answer["data"]?.arrayValue?.compactMap { $0["value"]?.stringValue } ?? []
            }
            let device = #""device_id": "1""#
            #expect(try await values(#"{"package_id": "\#(dhcp)", \#(device)}"#) == ["eth1", "wifi0"])
            #expect(
                try await values(
                    #"{"package_id": "\#(dhcp)", \#(device), "options": {"extra_cli_args": "-testvar lanInterface=eth2"}}"#
                ) == ["eth2", "wifi0"]
            )
            #expect(
                try await values(
                    #"{"package_id": "\#(dhcp)", \#(device), "options": {"testvars": [{"group": "default", "name": "lanInterface", "value": "eth3"}]}}"#
                ) == ["eth3", "wifi0"]
            )
            // A later source wins: extra_cli_args over testvars; another group's lanInterface is not the main LAN.
            #expect(
                try await values(
                    #"{"package_id": "\#(dhcp)", \#(device), "options": {"testvars": [{"name": "lanInterface", "value": "eth3"}, {"group": "lan-2", "name": "lanInterface", "value": "eth9"}], "extra_cli_args": "-testvar lanInterface=eth4"}}"#
                ) == ["eth4", "wifi0"]
            )
            // The config's own testvar counts; a config edit is reflected.
            try await call(
                client,
                .patch,
                "configs/1/",
                #"{"contents": "testvar lanInterface eth7\ntestvar_group lan-2 {\n  testvar lanInterface eth8\n}"}"#
            )
            #expect(
                try await values(#"{"package_id": "\#(dhcp)", \#(device), "config_id": "1"}"#) == ["eth7", "wifi0"]
            )
            try await call(
                client,
                .post,
                "jobs/?process=interfaces",
                #"{"package_id": "\#(dhcp)", "options": {"extra_cli_args": "-testvar 'lanInterface=eth2"}}"#,
                status: .badRequest
            )

            let job = try await call(
                client,
                .post,
                "jobs/",
                #"{"package_id": "\#(dhcp)", \#(device), "options": {"extra_cli_args": "-testvar lanInterface=eth2"}}"#
            )
            #expect(job["data"]?["interface_names"] == .array([.string("eth2"), .string("wifi0")]))
            let id = job["data"]?["id"]?.stringValue ?? ""
            #expect(
                try await call(client, .get, "jobs/\(id)/")["data"]?["interfaces"]?.cdrElement(0)?["value"]
                    == .string("eth2")
            )
        }
    }

    @Test func listArgumentsThatSayNothingAre400() async throws {
        try await withLab { client in
            for query in ["sort=-", "sort=,", "sort=id,", "sort=-,id", "detailed=maybe"] {
                let answer = try await call(client, .get, "jobs/?\(query)", status: .badRequest)
                #expect(answer["error"]?.stringValue?.isEmpty == false, "\(query)")
            }
            for query in [
                "sort=", "sort=%20", "sort=-id", "sort=id,-created", "detailed=True", "detailed=false", "detailed=",
            ] {
                try await call(client, .get, "jobs/?\(query)")
            }
            try await call(client, .get, "packages/?detailed=sometimes", status: .badRequest)
            try await call(client, .get, "results/?detailed=2", status: .badRequest)
            try await call(client, .post, "jobs/?bulk=launch&all=perhaps", "{}", status: .badRequest)
        }
    }

    @Test func packagesDevicesConfigsAndUsers() async throws {
        try await withLab { client in
            let config =
                try await call(
                    client,
                    .post,
                    "configs/",
                    #"{"name": "new-cfg", "description": "d", "contents": "testvar x 1", "tags": ["t"], "id": null}"#
                )["data"] ?? .null
            let configID = config["id"]?.stringValue ?? ""
            #expect(config["contents"] == .string("testvar x 1"))
            try await call(client, .post, "configs/", #"{"name": "new-cfg"}"#, status: .conflict)
            try await call(client, .post, "configs/", #"{"description": "no name"}"#, status: .badRequest)
            let edited =
                try await call(client, .patch, "configs/\(configID)/", #"{"description": "e", "contents": null}"#)[
                    "data"
                ] ?? .null
            #expect(edited["description"] == .string("e"))
            #expect(edited["contents"] == .string("testvar x 1"))

            let device =
                try await call(
                    client,
                    .post,
                    "devices/",
                    #"{"name": "dut-2", "manufacturer": "ACME", "tags": ["lab"]}"#
                )["data"] ?? .null
            #expect(device["manufacturer"] == .string("ACME"))
            #expect(device["model_name"] == .string(""))
            let deviceID = device["id"]?.stringValue ?? ""

            let package =
                try await call(
                    client,
                    .post,
                    "packages/",
                    #"{"name": "pkg", "testlist": ["cdrouter_basic_1", "cdrouter_nat_1"], "device_id": "\#(deviceID)", "config_id": "\#(configID)", "options": null}"#
                )["data"] ?? .null
            #expect(package["test_count"] == .string("2"))
            #expect(package["device_id"] == .string(deviceID))
            #expect(package["config_id"] == .string(configID))
            expectNoForbiddenNulls(package)
            let packageID = package["id"]?.stringValue ?? ""
            // A job of the package takes its device and config.
            let job = try await call(client, .post, "jobs/", #"{"package_id": "\#(packageID)"}"#)["data"] ?? .null
            #expect(job["device_name"] == .string("dut-2"))
            #expect(job["config_name"] == .string("new-cfg"))
            #expect(try await call(client, .get, "packages/?filter=name~%5Epk")["links"]?["total"] == .number(1))

            try await call(client, .delete, "configs/\(configID)/", status: .noContent)
            try await call(client, .get, "configs/\(configID)/", status: .notFound)
            try await call(client, .delete, "devices/\(deviceID)/", status: .noContent)
            try await call(client, .delete, "packages/\(packageID)/", status: .noContent)
            try await call(client, .get, "packages/\(packageID)/", status: .notFound)
            try await call(client, .get, "configs/\(configID)/", headers: Self.eve, status: .notFound)

            let me = try await call(client, .get, "users/1/")["data"] ?? .null
            #expect(me["name"] == .string("admin"))
            #expect(me["id"] == .string("1"))
            #expect(me["token"] == nil)
            let token = try await call(client, .post, "users/1/token/")["data"]?["token"]?.stringValue ?? ""
            #expect(
                try await call(client, .get, "users/1/", headers: bearer(token))["data"]?["name"] == .string("admin")
            )
            try await call(client, .get, "users/1/", headers: Self.eve, status: .notFound)

            try await client.execute(uri: "/cdrouter/authenticate?username=eve&password=eve-password-1", method: .post)
            { response in
                #expect(response.status == .ok)
                let login = try json(response)
                #expect(login["data"]?["name"] == .string("eve"))
                #expect(login["data"]?["token"]?.stringValue?.isEmpty == false)
            }
            try await client.execute(
                uri: "/cdrouter/authenticate",
                method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "username=eve&password=wrong")
            ) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    /// Polls a job until it is completed or error (at most a minute); its last state.
    func jobAtEnd(_ client: any TestClientProtocol, _ id: String) async throws -> JSONValue {
        var job: JSONValue = .null
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            job = try await call(client, .get, "jobs/\(id)/")["data"] ?? .null
            if job["status"] == .string("completed") || job["status"] == .string("error") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return job
    }

    @Test func aLaunchedJobRunsAndItsResultHasTheCounts() async throws {
        try await withLab(live: true) { client in
            let dhcp =
                try await call(client, .get, "packages/?filter=name=dhcp")["data"]?.cdrElement(0)?["id"]?.stringValue
                ?? ""
            let id =
                try await call(client, .post, "jobs/", #"{"package_id": "\#(dhcp)", "options": {"tags": ["one"]}}"#)[
                    "data"
                ]?["id"]?.stringValue ?? ""
            let job = try await jobAtEnd(client, id)
            #expect(job["status"] == .string("completed"))
            #expect(job["result_id"] == .string(id))
            let result = try await call(client, .get, "results/\(id)/")["data"] ?? .null
            #expect(result["status"] == .string("completed"))
            #expect(result["tests"] == .number(2))
            #expect(result["pass"] == .number(1))
            #expect(result["fail"] == .number(1))
            #expect(result["tags"] == .array([.string("one")]))
            expectNoForbiddenNulls(result)
            let tests = try await call(client, .get, "results/\(id)/tests/?sort=name")
            #expect(tests["data"]?.arrayValue?.compactMap { $0["result"]?.stringValue } == ["pass", "fail"])
            #expect(tests["links"]?["total"] == .number(2))
            let failed = try await call(client, .get, "results/\(id)/tests/?filter=result=fail")
            #expect(failed["data"]?.cdrElement(0)?["log"] == .string("no route"))
            #expect(try await call(client, .get, "results/?filter=status=completed")["links"]?["total"] == .number(1))
            try await call(client, .get, "results/999999/", status: .notFound)

            // The same job is a run of the native API, with its events and test results.
            let runs = try await client.execute(
                uri: "/api/v1/runs?filter=seq=\(id)",
                method: .get,
                headers: Self.headers
            ) { try json($0) }
            let run = runs["items"]?.cdrElement(0) ?? .null
            #expect(run["status"] == .string("failure"))
            #expect(run["tests_total"] == .number(2))
            let runID = run["id"]?.stringValue ?? ""
            try await client.execute(uri: "/api/v1/runs/\(runID)/events", method: .get, headers: Self.headers) {
                response in
                let statuses = try json(response)["items"]?.arrayValue?.compactMap { $0["status"]?.stringValue }
                #expect(statuses?.first == "new")
                #expect(statuses?.last == "failure")
            }
            try await client.execute(uri: "/api/v1/runs/\(runID)/log", method: .get, headers: Self.headers) {
                response in
                #expect(response.status == .ok)
            }
            // A finished job can no longer be edited.
            try await call(client, .patch, "jobs/\(id)/", #"{"package_id": "\#(dhcp)"}"#, status: .conflict)
        }
    }
}

extension JSONValue {
    /// The n-th element of an array (nil otherwise), for reading responses in these tests.
    fileprivate func cdrElement(_ index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }
}

extension CDRouterTests {
    /// Issue #6 item 4: a package of the `cdrouter` harness runs `cdrouter-cli` (here the stand-in) with the
    /// package, device, config and every job option mapped to flags, and its JUnit results become the job's result.
    @Test func aCDRouterHarnessJobRunsCdrouterCliWithEveryOptionMapped() async throws {
        try await withLab(live: true) { client in
            let device =
                try await call(client, .get, "devices/?filter=name=dut")["data"]?.cdrElement(0)?["id"]?.stringValue
                ?? ""
            let config =
                try await call(client, .get, "configs/?filter=name=cfg")["data"]?.cdrElement(0)?["id"]?.stringValue
                ?? ""
            let package =
                try await call(
                    client,
                    .post,
                    "packages/",
                    #"{"name": "cli pkg", "testlist": ["cdrouter_basic_1", "cdrouter_dhcp_2", "cdrouter_nat_1"], "extra_cli_args": "-pkg-flag 'a b'", "device_id": "\#(device)", "config_id": "\#(config)"}"#
                )["data"]?["id"]?.stringValue ?? ""
            let options = #"""
                {"tags": ["nightly", "wan"], "skip_tests": ["cdrouter_dhcp_2"], "begin_at": "cdrouter_basic_1", "end_at": "cdrouter_nat_1",
                 "extra_cli_args": "-verbose -testvar \"wanMode=static ip\"",
                 "testvars": [{"group": "default", "name": "lanIp", "value": "192.168.1.1"}, {"group": "wan", "name": "mtu", "value": "1500"}]}
                """#
            let id =
                try await call(client, .post, "jobs/", #"{"package_id": "\#(package)", "options": \#(options)}"#)[
                    "data"
                ]?["id"]?.stringValue ?? ""
            let job = try await jobAtEnd(client, id)
            #expect(job["status"] == .string("completed"))
            #expect(job["result_id"] == .string(id))

            let runs = try await client.execute(
                uri: "/api/v1/runs?filter=seq=\(id)",
                method: .get,
                headers: Self.headers
            ) { try json($0) }
            let run = runs["items"]?.cdrElement(0) ?? .null
            let runID = run["id"]?.stringValue ?? ""
            #expect(run["harness"] == .string("cdrouter"))
            // The stand-in echoes each argument it was given to the run's console.
            let log = try await client.execute(uri: "/api/v1/runs/\(runID)/log", method: .get, headers: Self.headers) {
                String(buffer: $0.body)
            }
            let prefix = "cdrouter-cli arg: "
            var argv = log.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map {
                String($0.dropFirst(prefix.count))
            }
            let junit = argv.firstIndex(of: "-junit").map { argv.index(after: $0) } ?? 0
            #expect(argv.indices.contains(junit) && argv[junit].hasSuffix("/\(runID)/cdrouter-junit.xml"), "\(log)")
            if argv.indices.contains(junit) { argv[junit] = "JUNIT" }
            #expect(
                argv == [
                    "-package", "cli pkg", "-device", "dut", "-config", "cfg",
                    "-testlist", "cdrouter_basic_1,cdrouter_dhcp_2,cdrouter_nat_1", "-tags", "nightly,wan",
                    "-skip-tests", "cdrouter_dhcp_2",
                    "-start", "cdrouter_basic_1", "-end", "cdrouter_nat_1",
                    "-testvar", "lanIp=192.168.1.1", "-testvar", "wan.mtu=1500",
                    "-junit", "JUNIT", "-pkg-flag", "a b", "-verbose", "-testvar", "wanMode=static ip",
                ]
            )

            // The job's result and tests, in the CDRouter dialect ...
            let result = try await call(client, .get, "results/\(id)/")["data"] ?? .null
            #expect(result["status"] == .string("completed"))
            #expect(result["tests"] == .number(3))
            #expect(result["pass"] == .number(2))
            #expect(result["fail"] == .number(1))
            let tests = try await call(client, .get, "results/\(id)/tests/?sort=name")
            #expect(
                tests["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [
                    "cdrouter_basic_1", "cdrouter_dhcp_2", "cdrouter_nat_1",
                ]
            )
            #expect(tests["data"]?.arrayValue?.compactMap { $0["result"]?.stringValue } == ["pass", "pass", "fail"])
            // ... and in the native API: a run with its events and test results.
            #expect(run["status"] == .string("failure"))
            #expect(run["tests_total"] == .number(3))
            #expect(run["tests_failed"] == .number(1))
            try await client.execute(uri: "/api/v1/runs/\(runID)/events", method: .get, headers: Self.headers) {
                response in
                let statuses = try json(response)["items"]?.arrayValue?.compactMap { $0["status"]?.stringValue }
                #expect(statuses?.contains("running") == true)
                #expect(statuses?.last == "failure")
            }
        }
    }
}
