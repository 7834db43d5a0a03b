import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ProctorCore
import ProctorStore
import ProctorTestSupport
import Testing

@testable import ProctorHTTP
@testable import ProctorHTTPKit
@testable import ProctorKernelCI

/// A Proctor with the bootstrap admin over one backend, and helpers to seed KernelCI jobs and call the API.
struct KernelCILab: Sendable {
    static let token = "pt_test_admin_token_0000000000"
    static let day: Int64 = 86_400_000_000
    static let minute: Int64 = 60_000_000

    let store: SQLStore
    let configuration: AppConfiguration
    let services: RunServices
    let groupID: String
    let client: any TestClientProtocol

    /// Runs `body` against the application `buildApplication` assembles, or, with `options`, against a router
    /// holding only the KernelCI routes with those limits.
    static func run(
        _ backend: TestBackend,
        options: KernelCIAPI.Options? = nil,
        _ body: @Sendable (KernelCILab) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "proctor-kernelci-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = AppConfiguration(
            host: "127.0.0.1",
            port: 0,
            dataDirectory: directory.path,
            adminToken: token
        )
        let store = try await backend.makeStore(directory: directory, logger: logger)
        do {
            _ = try await Bootstrap.run(store: store, adminToken: token)
            guard let group = try await store.first(.groups, matching: ["name": .string(Bootstrap.defaultGroup)]) else {
                throw ProctorError(.internal, "no default group")
            }
            let services = configuration.runServices(store: store)
            if let options {
                let router = Router(context: AppRequestContext.self)
                KernelCIAPI(services: services, configuration: configuration, options: options).addRoutes(to: router)
                let app = Application(
                    router: router,
                    configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                    logger: logger
                )
                try await app.test(.router) { client in
                    try await body(
                        KernelCILab(
                            store: store,
                            configuration: configuration,
                            services: services,
                            groupID: group.id,
                            client: client
                        )
                    )
                }
            } else {
                let app = try await buildApplication(configuration: configuration, store: store, logger: logger)
                try await app.test(.router) { client in
                    try await body(
                        KernelCILab(
                            store: store,
                            configuration: configuration,
                            services: services,
                            groupID: group.id,
                            client: client
                        )
                    )
                }
            }
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    // MARK: Seeding

    /// A KernelCI job stored as the dialect stores it, created `age` microseconds ago (or at `createdAt`).
    @discardableResult
    func seed(
        job: String,
        kernel: String,
        branch: String = "master",
        status: KernelCIStatus = .pass,
        age: Int64 = 0,
        createdAt: Int64? = nil,
        labels extra: [String: String] = [:],
        groupID: String? = nil
    ) async throws -> Record {
        var labels: [String: JSONValue] = [
            "job": .string(job), "kernel": .string(kernel), "git_branch": .string(branch), "private": .string("false"),
        ]
        for (key, value) in extra { labels[key] = .string(value) }
        return try await services.lifecycle.createReported(
            Run([
                .name: .string("\(job)-\(kernel)"), .harness: .string(KernelCIJob.harness),
                .status: .string(status.runStatus.rawValue), .labels: .json(.object(labels)),
                .createdAt: .timestamp(createdAt ?? (Timestamp.now() - age)),
            ]),
            groupID: groupID ?? self.groupID
        ).record
    }

    /// A user in a new group with a role there and a token with the given scopes.
    func user(_ name: String, role: Role = .member, scopes: [String] = [], inGroup: String? = nil) async throws -> (
        token: String, groupID: String
    ) {
        let groupID: String
        if let inGroup {
            groupID = inGroup
        } else {
            groupID = try await store.insert(Record(.groups, ["name": .string("group-\(name)")])).id
        }
        let user = try await store.insert(Record(.users, ["name": .string(name), "is_site_admin": .bool(false)]))
        _ = try await store.insert(
            Record(
                .memberships,
                ["group_id": .string(groupID), "user_id": .string(user.id), "role": .string(role.rawValue)]
            )
        )
        let token = "pt_test_\(name)_" + String(repeating: "0", count: 16)
        _ = try await Authenticator(store: store).issueToken(
            userID: user.id,
            name: "test",
            value: token,
            scopes: scopes
        )
        return (token, groupID)
    }

    // MARK: Requests

    /// Sends a request with the raw token KernelCI clients send (`Authorization: <token>`).
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String? = KernelCILab.token,
        body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = token }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: body.map { ByteBuffer(string: $0) }
        )
    }

    /// GET and decode, expecting `status`.
    func get(
        _ uri: String,
        token: String? = KernelCILab.token,
        expect status: HTTPResponse.Status = .ok,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let response = try await call(.get, uri, token: token)
        #expect(
            response.status == status,
            "GET \(uri): \(String(buffer: response.body))",
            sourceLocation: sourceLocation
        )
        return try json(response)
    }

    /// The `result` of a listing.
    func results(_ uri: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [JSONValue] {
        try await get(uri, sourceLocation: sourceLocation)["result"]?.arrayValue ?? []
    }

    /// One field of every document of a listing.
    func values(_ uri: String, _ field: String, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> [String]
    {
        try await results(uri, sourceLocation: sourceLocation).map { $0[field]?.stringValue ?? "<none>" }
    }

    /// A build report in kernelci-core's `bmeta` shape.
    static func build(
        tree: String,
        describe: String,
        branch: String = "master",
        arch: String = "arm64",
        defconfig: String = "defconfig",
        status: String = "PASS",
        environment: String = "gcc-10",
        log: String? = nil
    ) -> String {
        var object: [String: JSONValue] = [
            "bmeta": .object([
                "build": .object(["status": .string(status), "duration": .number(12.5)]),
                "environment": .object([
                    "arch": .string(arch), "name": .string(environment), "compiler": .string("gcc"),
                    "compiler_version": .string("10"), "compiler_version_full": .string("gcc (Debian 10.2.1-6) 10.2.1"),
                    "cross_compile": .string("aarch64-linux-gnu-"),
                ]),
                "kernel": .object([
                    "defconfig": .string(defconfig), "defconfig_full": .string(defconfig),
                    "publish_path": .string("\(tree)/\(branch)/\(describe)/\(arch)/\(defconfig)/\(environment)"),
                ]),
                "revision": .object([
                    "branch": .string(branch), "commit": .string(String(repeating: "a1b2c3d4", count: 5)),
                    "describe": .string(describe), "describe_verbose": .string(describe + "-verbose"),
                    "tree": .string(tree), "url": .string("https://git.kernel.org/\(tree).git"),
                ]),
            ]),
            "steps": .array([.object(["name": .string("kernel"), "status": .string(status)])]),
            "artifacts": .object([
                "kernel": .array([
                    .object(["type": .string("file"), "path": .string("kernel/Image"), "key": .string("image")])
                ])
            ]),
        ]
        if let log { object["log"] = .string(log) }
        return JSONValue.object(object).encodedString()
    }
}

func oid(_ record: Record) -> String { KernelCIFormat.oidString(record.seq) }

/// Every example request and response of the KernelCI seed, each query parameter alone and combined, the token
/// rights, the errors, builds, gzip; on SQLite and (when available) PostgreSQL.
@Suite struct KernelCITests {
    // MARK: The seed's examples

    /// `GET /job/<id>/` with `Authorization: token`: one job, still in a list.
    @Test(arguments: TestBackend.available) func seedGetOneJobById(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let job = try await lab.seed(job: "arm-soc", kernel: "arm-soc-v3.16", status: .pass)
            let response = try await lab.call(.get, "/kernelci/job/\(oid(job))/")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json; charset=UTF-8")
            #expect(response.headers[.vary] == "Accept-Encoding")
            let body = try json(response)
            #expect(body["code"] == .number(200))
            #expect(body["count"] == .number(1))
            let result = body["result"]?.arrayValue ?? []
            #expect(result.count == 1)
            #expect(result.first?["status"] == .string("PASS"))
            #expect(result.first?["job"] == .string("arm-soc"))
            #expect(result.first?["_id"] == .object(["$oid": .string(oid(job))]))
            #expect(result.first?["created_on"]?["$date"] == .number(Double((job.int("created_at") ?? 0) / 1000)))
            #expect(result.first?["private"] == .bool(false))
            #expect(result.first?["version"] == .string("1.1"))
        }
    }

    /// `GET /job?date_range=12&job=arm-soc&field=status&field=kernel`: the matches of the last 12 days, only
    /// the requested fields (and `_id`), newest first, `count` the number of matches and `limit` 0.
    @Test(arguments: TestBackend.available) func seedListJobsOfATreeWithFields(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let day = KernelCILab.day
            try await lab.seed(job: "arm-soc", kernel: "v3.16-rc6-1009-g709032a", age: 1 * day)
            try await lab.seed(job: "arm-soc", kernel: "v3.16-rc6-1014-g716519f", age: 2 * day)
            try await lab.seed(job: "arm-soc", kernel: "v3.16-rc6-1020-gaaaaaaa", status: .fail, age: 5 * day)
            try await lab.seed(job: "arm-soc", kernel: "v3.16-rc6-1030-gbbbbbbb", status: .build, age: 11 * day)
            try await lab.seed(job: "arm-soc", kernel: "v3.16-rc5", age: 14 * day)
            try await lab.seed(job: "next", kernel: "next-20140731", age: 1 * day)
            let body = try await lab.get("/kernelci/job?date_range=12&job=arm-soc&field=status&field=kernel")
            #expect(body["code"] == .number(200))
            #expect(body["count"] == .number(4))
            #expect(body["limit"] == .number(0))
            let result = body["result"]?.arrayValue ?? []
            #expect(
                result.compactMap { $0["kernel"]?.stringValue } == [
                    "v3.16-rc6-1009-g709032a", "v3.16-rc6-1014-g716519f", "v3.16-rc6-1020-gaaaaaaa",
                    "v3.16-rc6-1030-gbbbbbbb",
                ]
            )
            #expect(result.compactMap { $0["status"]?.stringValue } == ["PASS", "PASS", "FAIL", "BUILD"])
            for document in result {
                #expect(Set(document.objectValue?.keys.map { $0 } ?? []) == ["_id", "status", "kernel"])
            }
        }
    }

    /// `GET /job/distinct/job`: the unique tree names, `count` their number.
    @Test(arguments: TestBackend.available) func seedDistinctJobs(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            for (job, kernel) in [("next", "next-1"), ("next", "next-2"), ("mainline", "v4.1"), ("omap", "omap-1")] {
                try await lab.seed(job: job, kernel: kernel)
            }
            let body = try await lab.get("/kernelci/job/distinct/job")
            #expect(body["code"] == .number(200))
            #expect(body["count"] == .number(3))
            #expect(body["result"] == .array(["omap", "next", "mainline"].map(JSONValue.string)))
            #expect(body["limit"] == nil)
        }
    }

    /// `GET /job/distinct/kernel?job=next&date_range=5`: the filters apply first.
    @Test(arguments: TestBackend.available) func seedDistinctKernelsOfATree(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let day = KernelCILab.day
            try await lab.seed(job: "next", kernel: "next-20150824", age: 3 * day)
            try await lab.seed(job: "next", kernel: "next-20150825", age: 2 * day)
            try await lab.seed(job: "next", kernel: "next-20150826", age: 1 * day)
            try await lab.seed(job: "next", kernel: "next-20150826", branch: "pending", age: 1 * day)
            try await lab.seed(job: "next", kernel: "next-20150801", age: 9 * day)
            try await lab.seed(job: "mainline", kernel: "v4.2-rc8", age: 1 * day)
            let body = try await lab.get("/kernelci/job/distinct/kernel?job=next&date_range=5")
            #expect(body["code"] == .number(200))
            #expect(body["count"] == .number(3))
            #expect(
                body["result"] == .array(["next-20150826", "next-20150825", "next-20150824"].map(JSONValue.string))
            )
            // sort_order=1 ascends; skip and limit apply to the values.
            let ascending = try await lab.get(
                "/kernelci/job/distinct/kernel?job=next&date_range=5&sort_order=1&skip=1&limit=1"
            )
            #expect(ascending["result"] == .array([.string("next-20150825")]))
            #expect(ascending["count"] == .number(1))
        }
    }

    /// `GET /job/<id>/logs`: errors and warnings with their counts, computed from the job's console.
    @Test(arguments: TestBackend.available) func seedJobLogsSummary(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let log = "make -j8\nAn error string\n" + String(repeating: "A warning string\n", count: 10) + "done\n"
            let response = try await lab.call(
                .post,
                "/kernelci/build",
                body: KernelCILab.build(tree: "next", describe: "next-20150921", log: log)
            )
            #expect(response.status == .accepted)
            let id = try json(response)["result"]?.arrayValue?.first?["job_id"]?["$oid"]?.stringValue ?? ""
            let body = try await lab.get("/kernelci/job/\(id)/logs")
            #expect(body["code"] == .number(200))
            let summary = body["result"]?.arrayValue?.first
            #expect(summary?["_id"] == .object(["$oid": .string(id)]))
            #expect(summary?["job_id"] == .object(["$oid": .string(id)]))
            #expect(summary?["job"] == .string("next"))
            #expect(summary?["kernel"] == .string("next-20150921"))
            #expect(summary?["errors"] == .array([.array([.number(1), .string("An error string")])]))
            #expect(summary?["warnings"] == .array([.array([.number(10), .string("A warning string")])]))

            // The same summary by job and kernel, and nothing for another kernel.
            let listed = try await lab.get("/kernelci/job/logs?job=next&kernel=next-20150921")
            #expect(listed["count"] == .number(1))
            #expect(listed["result"]?.arrayValue?.first?["errors"] == summary?["errors"])
            #expect(try await lab.get("/kernelci/job/logs?job=next&kernel=next-20150922")["count"] == .number(0))
            #expect(
                try await lab.get("/kernelci/job/logs?job_id=\(id)&field=warnings")["result"]?.arrayValue?.first
                    == .object([
                        "_id": .object(["$oid": .string(id)]),
                        "warnings": .array([.array([.number(10), .string("A warning string")])]),
                    ])
            )
            _ = try await lab.get("/kernelci/job/abc/logs", expect: .badRequest)
            _ = try await lab.get("/kernelci/job/\(String(repeating: "0", count: 23))9/logs", expect: .notFound)
        }
    }

    /// `POST /job {job, kernel, git_branch, status}`: the job's status changes; the default is PASS.
    @Test(arguments: TestBackend.available) func seedPostJobStatus(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let job = try await lab.seed(job: "next", kernel: "next-20140801", status: .build)
            let response = try await lab.call(
                .post,
                "/kernelci/job",
                body: #"{"job": "next", "kernel": "next-20140801", "git_branch": "master", "status": "FAIL"}"#
            )
            #expect(response.status == .ok)
            #expect(
                try json(response)
                    == .object([
                        "code": .number(200),
                        "reason": .string("Job 'next-next-20140801' (branch master) marked as 'FAIL'"),
                    ])
            )
            #expect(try await lab.values("/kernelci/job/\(oid(job))", "status") == ["FAIL"])
            #expect(try await lab.store.get(.runs, id: job.id)?.string("status") == "failure")

            // Without a status: PASS. Unknown keys are reported, not refused.
            let defaulted = try await lab.call(
                .post,
                "/kernelci/jobs/",
                body: #"{"job": "next", "kernel": "next-20140801", "git_branch": "master", "extra": 1}"#
            )
            #expect(defaulted.status == .ok)
            #expect(
                try json(defaulted)["errors"]
                    == .array([.string("Found non recognizable keys, they will not be considered: extra")])
            )
            #expect(try await lab.values("/kernelci/job/\(oid(job))", "status") == ["PASS"])
            // Every status change is a run event.
            let events = try await lab.store.list(
                .runEvents,
                query: Query(filter: .equal("run_id", job.id)),
                scope: .everything
            )
            #expect(events.items.count == 3)
        }
    }

    /// `DELETE /job/<id>`: 200 and the job and its builds are gone; 404 for an id no job has; 400 for a
    /// malformed one.
    @Test(arguments: TestBackend.available) func seedDeleteJob(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let missing = try await lab.call(
                .delete,
                "/kernelci/job/01234567890123456789ABCD",
                headers: [.contentType: "application/json"]
            )
            #expect(missing.status == .notFound)
            #expect(try json(missing) == .object(["code": .number(404), "reason": .string("Resource not found")]))

            let created = try await lab.call(
                .post,
                "/kernelci/build",
                body: KernelCILab.build(tree: "next", describe: "next-20140801", log: "error: x\n")
            )
            let id = try json(created)["result"]?.arrayValue?.first?["job_id"]?["$oid"]?.stringValue ?? ""
            guard let seq = KernelCIFormat.seq(fromOID: id),
                let run = try await lab.store.first(.runs, matching: ["seq": .int(seq)])
            else {
                Issue.record("the build created no job")
                return
            }
            #expect(
                try await lab.store.count(
                    .testResults,
                    query: Query(filter: .equal("run_id", run.id)),
                    scope: .everything
                ) == 1
            )

            let deleted = try await lab.call(.delete, "/kernelci/job/\(id)")
            #expect(deleted.status == .ok)
            #expect(
                try json(deleted) == .object(["code": .number(200), "reason": .string("Resource '\(id)' deleted")])
            )
            _ = try await lab.get("/kernelci/job/\(id)", expect: .notFound)
            #expect(try await lab.store.get(.runs, id: run.id) == nil)
            #expect(
                try await lab.store.count(
                    .testResults,
                    query: Query(filter: .equal("run_id", run.id)),
                    scope: .everything
                ) == 0
            )
            #expect(
                try await lab.store.count(
                    .logChunks,
                    query: Query(filter: .equal("run_id", run.id)),
                    scope: .everything
                ) == 0
            )

            let malformed = try await lab.call(.delete, "/kernelci/job/not-an-id")
            #expect(malformed.status == .badRequest)
            #expect(try json(malformed)["reason"] == .string("Wrong ID specified"))
            let noID = try await lab.call(.delete, "/kernelci/job")
            #expect(noID.status == .badRequest)
            #expect(try json(noID)["reason"] == .string("No ID value specified"))
        }
    }

    // MARK: Each query parameter alone

    @Test(arguments: TestBackend.available) func limitAndSkip(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            for index in 1...5 {
                try await lab.seed(job: "next", kernel: "next-\(index)", age: Int64(10 - index) * KernelCILab.minute)
            }
            #expect(
                try await lab.values("/kernelci/job", "kernel") == ["next-5", "next-4", "next-3", "next-2", "next-1"]
            )
            let limited = try await lab.get("/kernelci/job?limit=2")
            #expect(limited["count"] == .number(5))
            #expect(limited["limit"] == .number(2))
            #expect(limited["result"]?.arrayValue?.compactMap { $0["kernel"]?.stringValue } == ["next-5", "next-4"])
            let skipped = try await lab.get("/kernelci/job?skip=3")
            #expect(skipped["skip"] == .number(3))
            #expect(skipped["count"] == .number(5))
            #expect(skipped["result"]?.arrayValue?.compactMap { $0["kernel"]?.stringValue } == ["next-2", "next-1"])
            // The last value wins; bad numbers fall back to the defaults.
            #expect(try await lab.values("/kernelci/job?limit=4&limit=1", "kernel") == ["next-5"])
            #expect(try await lab.results("/kernelci/job?limit=abc&skip=xyz").count == 5)
            #expect(try await lab.values("/kernelci/job?limit=-1", "kernel") == ["next-5"])
            #expect(try await lab.results("/kernelci/job?skip=9").isEmpty)
        }
    }

    /// `limit=0` means every match, up to the configured maximum; the envelope reports the limit applied.
    @Test(arguments: TestBackend.available) func limitZeroIsCappedAndReported(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend, options: .init(maxLimit: 3)) { lab in
            for index in 1...5 {
                try await lab.seed(job: "next", kernel: "next-\(index)", age: Int64(10 - index) * KernelCILab.minute)
            }
            try await lab.seed(job: "omap", kernel: "omap-1")
            let all = try await lab.get("/kernelci/job?job=next")
            #expect(all["count"] == .number(5))
            #expect(all["limit"] == .number(3))
            #expect(all["result"]?.arrayValue?.count == 3)
            #expect(try await lab.get("/kernelci/job?job=next&limit=10")["limit"] == .number(3))
            #expect(try await lab.get("/kernelci/job?job=next&limit=2")["limit"] == .number(2))
            // Everything fits: nothing was cut, so the limit is still KernelCI's 0.
            let fits = try await lab.get("/kernelci/job?job=next&skip=2")
            #expect(fits["limit"] == .number(0))
            #expect(fits["result"]?.arrayValue?.count == 3)
            #expect(try await lab.get("/kernelci/job?job=omap")["limit"] == .number(0))
        }
    }

    /// The store pages at most 1000 rows at a time; a larger cap reads on with its cursor.
    @Test func limitAboveTheStorePageSize() async throws {
        try await KernelCILab.run(.sqlite, options: .init(maxLimit: 1500)) { lab in
            let now = Timestamp.now()
            let rows = (0..<1200).map { index in
                Record(
                    .runs,
                    [
                        "group_id": .string(lab.groupID), "harness": .string(KernelCIJob.harness),
                        "executor": .string("client"),
                        "status": .string("success"), "created_at": .timestamp(now - Int64(index) * 1000),
                        "labels": .json(.object(["job": .string("bulk"), "kernel": .string("k-\(index)")])),
                    ]
                )
            }
            try await lab.store.insertMany(rows)
            let body = try await lab.get("/kernelci/job?field=kernel")
            #expect(body["count"] == .number(1200))
            #expect(body["limit"] == .number(0))
            let kernels = body["result"]?.arrayValue?.compactMap { $0["kernel"]?.stringValue } ?? []
            #expect(kernels.count == 1200)
            #expect(Set(kernels).count == 1200)
            #expect(kernels.first == "k-0")
            #expect(kernels.last == "k-1199")
            let skipped = try await lab.get("/kernelci/job?field=kernel&skip=1100&limit=0")
            #expect(skipped["result"]?.arrayValue?.count == 100)
        }
    }

    @Test(arguments: TestBackend.available) func sortAndSortOrder(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let minute = KernelCILab.minute
            let a = try await lab.seed(job: "b-tree", kernel: "k-2", status: .pass, age: 3 * minute)
            let b = try await lab.seed(job: "a-tree", kernel: "k-3", status: .fail, age: 2 * minute)
            let c = try await lab.seed(job: "c-tree", kernel: "k-1", status: .build, age: 1 * minute)
            // sort_order defaults to -1 and applies to every key.
            #expect(try await lab.values("/kernelci/job?sort=created_on", "kernel") == ["k-1", "k-3", "k-2"])
            #expect(
                try await lab.values("/kernelci/job?sort=created_on&sort_order=1", "kernel") == ["k-2", "k-3", "k-1"]
            )
            #expect(
                try await lab.results("/kernelci/job?sort=_id&sort_order=1").compactMap {
                    $0["_id"]?["$oid"]?.stringValue
                } == [
                    oid(a), oid(b), oid(c),
                ]
            )
            // Labelled fields sort too.
            #expect(
                try await lab.values("/kernelci/job?sort=job&sort_order=1", "job") == ["a-tree", "b-tree", "c-tree"]
            )
            #expect(try await lab.values("/kernelci/job?sort=kernel", "kernel") == ["k-3", "k-2", "k-1"])
            #expect(try await lab.values("/kernelci/job?sort=status&sort=kernel&sort_order=1", "kernel").count == 3)
            // A bad sort_order means -1; an unknown sort field changes nothing.
            #expect(
                try await lab.values("/kernelci/job?sort=created_on&sort_order=7", "kernel") == ["k-1", "k-3", "k-2"]
            )
            #expect(try await lab.values("/kernelci/job?sort=nonsense", "kernel") == ["k-1", "k-3", "k-2"])
        }
    }

    /// Sorting on a label reads every match; beyond the configured maximum the query must be narrowed.
    @Test(arguments: TestBackend.available) func labelSortIsBounded(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend, options: .init(maxSortScan: 2)) { lab in
            try await lab.seed(job: "next", kernel: "k-1")
            try await lab.seed(job: "next", kernel: "k-2")
            try await lab.seed(job: "omap", kernel: "k-3")
            let refused = try await lab.call(.get, "/kernelci/job?sort=kernel")
            #expect(refused.status == .badRequest)
            #expect(try json(refused)["reason"]?.stringValue?.contains("sort on created_on") == true)
            #expect(
                try await lab.values("/kernelci/job?sort=kernel&job=next&sort_order=1", "kernel") == ["k-1", "k-2"]
            )
            // distinct answers broad questions with the store's DISTINCT, narrow ones from the matching jobs.
            #expect(
                try await lab.get("/kernelci/job/distinct/kernel")["result"]
                    == .array(["k-3", "k-2", "k-1"].map(JSONValue.string))
            )
            #expect(
                try await lab.get("/kernelci/job/distinct/kernel?job=next")["result"]
                    == .array(["k-2", "k-1"].map(JSONValue.string))
            )
            #expect(try await lab.get("/kernelci/job/distinct/job?limit=1")["result"] == .array([.string("omap")]))
        }
    }

    @Test(arguments: TestBackend.available) func dateRange(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let day = KernelCILab.day
            try await lab.seed(job: "next", kernel: "today")
            try await lab.seed(job: "next", kernel: "three-days", age: 3 * day)
            try await lab.seed(job: "next", kernel: "ten-days", age: 10 * day)
            try await lab.seed(job: "next", kernel: "future", age: -3 * day)
            #expect(try await lab.values("/kernelci/job?date_range=5", "kernel") == ["today", "three-days"])
            #expect(
                try await lab.values("/kernelci/job?date_range=12", "kernel") == ["today", "three-days", "ten-days"]
            )
            // A bad number means 5 days; the sign is dropped.
            #expect(try await lab.values("/kernelci/job?date_range=abc", "kernel") == ["today", "three-days"])
            #expect(try await lab.values("/kernelci/job?date_range=-5", "kernel") == ["today", "three-days"])
            #expect(try await lab.results("/kernelci/job").count == 4)
        }
    }

    @Test(arguments: TestBackend.available) func timeRangeIsClampedAndBeatsDateRange(_ backend: TestBackend)
        async throws
    {
        try await KernelCILab.run(backend) { lab in
            let minute = KernelCILab.minute
            try await lab.seed(job: "next", kernel: "5-minutes", age: 5 * minute)
            try await lab.seed(job: "next", kernel: "30-minutes", age: 30 * minute)
            try await lab.seed(job: "next", kernel: "3-hours", age: 180 * minute)
            try await lab.seed(job: "next", kernel: "2-days", age: 2 * KernelCILab.day)
            #expect(try await lab.values("/kernelci/job?time_range=60", "kernel") == ["5-minutes", "30-minutes"])
            // Below 10 minutes means 10; above a day means a day; a bad value means 60.
            #expect(try await lab.values("/kernelci/job?time_range=1", "kernel") == ["5-minutes"])
            #expect(
                try await lab.values("/kernelci/job?time_range=100000", "kernel") == [
                    "5-minutes", "30-minutes", "3-hours",
                ]
            )
            #expect(try await lab.values("/kernelci/job?time_range=x", "kernel") == ["5-minutes", "30-minutes"])
            // It overrides date_range.
            #expect(try await lab.values("/kernelci/job?date_range=5&time_range=20", "kernel") == ["5-minutes"])
        }
    }

    @Test(arguments: TestBackend.available) func createdOnInBothFormats(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let march5 = try #require(Timestamp.parse("2024-03-05T10:00:00Z"))
            try await lab.seed(
                job: "next",
                kernel: "early",
                createdAt: try #require(Timestamp.parse("2024-03-05T00:00:00Z"))
            )
            try await lab.seed(job: "next", kernel: "noon", createdAt: march5)
            try await lab.seed(
                job: "next",
                kernel: "late",
                createdAt: try #require(Timestamp.parse("2024-03-05T23:59:59Z"))
            )
            try await lab.seed(
                job: "next",
                kernel: "next-day",
                createdAt: try #require(Timestamp.parse("2024-03-06T00:00:00Z"))
            )
            try await lab.seed(
                job: "next",
                kernel: "before",
                createdAt: try #require(Timestamp.parse("2024-03-02T12:00:00Z"))
            )
            #expect(try await lab.values("/kernelci/job?created_on=2024-03-05", "kernel") == ["late", "noon", "early"])
            #expect(try await lab.values("/kernelci/job?created_on=20240305", "kernel") == ["late", "noon", "early"])
            // With date_range, the range ends with that day.
            #expect(
                try await lab.values("/kernelci/job?created_on=2024-03-05&date_range=3", "kernel") == [
                    "late", "noon", "early", "before",
                ]
            )
            // An invalid date is ignored.
            #expect(try await lab.results("/kernelci/job?created_on=2024-02-30").count == 5)
            let document = try await lab.results(
                "/kernelci/job?created_on=2024-03-05&field=created_on&sort=created_on&sort_order=1"
            ).first
            #expect(document?["created_on"] == .object(["$date": .number(Double(1_709_596_800_000))]))
        }
    }

    @Test(arguments: TestBackend.available) func fieldAndNfield(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            try await lab.seed(job: "next", kernel: "next-1", labels: ["git_commit": "abc"])
            let keys = { (uri: String) async throws -> Set<String> in
                Set(try await lab.results(uri).first?.objectValue?.keys.map { $0 } ?? [])
            }
            #expect(try await keys("/kernelci/job?field=status") == ["_id", "status"])
            #expect(
                try await keys("/kernelci/job?field=job&field=git_commit&field=created_on") == [
                    "_id", "job", "git_commit", "created_on",
                ]
            )
            #expect(try await keys("/kernelci/job?field=status&nfield=_id") == ["status"])
            #expect(try await keys("/kernelci/job?field=unknown") == ["_id"])
            let all = try await keys("/kernelci/job")
            #expect(
                all.isSuperset(of: [
                    "_id", "job", "kernel", "git_branch", "status", "created_on", "private", "version", "git_url",
                ])
            )
            #expect(try await keys("/kernelci/job?nfield=kernel&nfield=_id") == all.subtracting(["kernel", "_id"]))
            #expect(try await lab.results("/kernelci/job?field=git_commit").first?["git_commit"] == .string("abc"))
        }
    }

    /// Each filter of `JOB_VALID_KEYS["GET"]`; a repeated value is any of them, `null` is null.
    @Test(arguments: TestBackend.available) func filters(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let minute = KernelCILab.minute
            let one = try await lab.seed(
                job: "next",
                kernel: "next-1",
                branch: "master",
                status: .pass,
                age: 3 * minute,
                labels: ["git_commit": "c1", "git_describe": "next-1", "kernel_version": "4.1.0"]
            )
            try await lab.seed(
                job: "next",
                kernel: "next-2",
                branch: "pending",
                status: .fail,
                age: 2 * minute,
                labels: ["git_commit": "c2", "git_describe": "next-2", "kernel_version": "4.2.0", "private": "true"]
            )
            try await lab.seed(job: "omap", kernel: "omap-1", branch: "master", status: .build, age: 1 * minute)
            try await lab.seed(job: "arm", kernel: "arm-1", status: .unknown)
            #expect(try await lab.values("/kernelci/job?job=next", "kernel") == ["next-2", "next-1"])
            #expect(try await lab.values("/kernelci/job?kernel=omap-1", "kernel") == ["omap-1"])
            #expect(try await lab.values("/kernelci/job?status=FAIL", "kernel") == ["next-2"])
            #expect(try await lab.values("/kernelci/job?status=BUILD", "kernel") == ["omap-1"])
            #expect(try await lab.values("/kernelci/job?status=UNKNOWN", "kernel") == ["arm-1"])
            #expect(try await lab.results("/kernelci/job?status=pass").isEmpty)
            #expect(try await lab.values("/kernelci/job?_id=\(oid(one))", "kernel") == ["next-1"])
            #expect(try await lab.results("/kernelci/job?_id=nonsense").isEmpty)
            #expect(try await lab.values("/kernelci/job?git_branch=pending", "kernel") == ["next-2"])
            #expect(try await lab.values("/kernelci/job?git_commit=c1", "kernel") == ["next-1"])
            #expect(try await lab.values("/kernelci/job?git_describe=next-2", "kernel") == ["next-2"])
            #expect(try await lab.values("/kernelci/job?kernel_version=4.1.0", "kernel") == ["next-1"])
            #expect(try await lab.values("/kernelci/job?private=true", "kernel") == ["next-2"])
            #expect(try await lab.values("/kernelci/job?private=false", "kernel") == ["arm-1", "omap-1", "next-1"])
            // Repeated: any of them.
            #expect(
                try await lab.values("/kernelci/job?kernel=next-1&kernel=omap-1", "kernel") == ["omap-1", "next-1"]
            )
            #expect(try await lab.values("/kernelci/job?status=PASS&status=FAIL", "kernel") == ["next-2", "next-1"])
            // null: the field is not set.
            #expect(try await lab.values("/kernelci/job?git_commit=null", "kernel") == ["arm-1", "omap-1"])
            // Unknown parameters are ignored; empty values are dropped.
            #expect(try await lab.results("/kernelci/job?foo=bar&arch=arm64&job=").count == 4)
            // Values are decoded as Tornado decodes them.
            try await lab.seed(job: "a tree", kernel: "k+1")
            #expect(try await lab.values("/kernelci/job?job=a+tree", "kernel") == ["k+1"])
            #expect(try await lab.values("/kernelci/job?kernel=k%2B1", "job") == ["a tree"])
        }
    }

    /// Every parameter together.
    @Test(arguments: TestBackend.available) func parametersCombined(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let day = KernelCILab.day
            for index in 0..<6 {
                try await lab.seed(
                    job: "next",
                    kernel: "next-\(index)",
                    branch: index % 2 == 0 ? "master" : "pending",
                    status: index % 3 == 0 ? .fail : .pass,
                    age: Int64(index) * day / 2
                )
            }
            try await lab.seed(job: "next", kernel: "next-old", age: 30 * day)
            try await lab.seed(job: "omap", kernel: "omap-0")
            let body = try await lab.get(
                "/kernelci/job?job=next&status=PASS&status=FAIL&date_range=7&git_branch=master&sort=created_on&sort_order=1"
                    + "&skip=1&limit=1&field=kernel&field=status&nfield=_id&unknown=1"
            )
            #expect(body["count"] == .number(3))
            #expect(body["limit"] == .number(1))
            #expect(body["skip"] == .number(1))
            #expect(body["result"] == .array([.object(["kernel": .string("next-2"), "status": .string("PASS")])]))
            let windowed = try await lab.get("/kernelci/job?job=next&time_range=30&status=FAIL&field=kernel")
            #expect(
                windowed["result"]
                    == .array([
                        .object([
                            "_id": windowed["result"]?.arrayValue?.first?["_id"] ?? .null, "kernel": .string("next-0"),
                        ])
                    ])
            )
            let distinct = try await lab.get("/kernelci/job/distinct/git_branch?job=next&date_range=7&status=FAIL")
            #expect(distinct["result"] == .array([.string("pending"), .string("master")]))
        }
    }

    // MARK: Status mapping and the native API

    /// A KernelCI job is a run: visible and filterable in the native API, its status mapped both ways.
    @Test(arguments: TestBackend.available) func jobsAreRunsInTheNativeAPI(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let created = try await lab.call(
                .post,
                "/kernelci/build",
                body: KernelCILab.build(tree: "next", describe: "next-20240101")
            )
            let id = try json(created)["result"]?.arrayValue?.first?["job_id"]?["$oid"]?.stringValue ?? ""
            let native = try await lab.client.execute(
                uri: "/api/v1/runs?filter=labels.kernel=next-20240101",
                method: .get,
                headers: bearer(KernelCILab.token)
            ) { try json($0) }
            let run = native["items"]?.arrayValue?.first
            #expect(native["items"]?.arrayValue?.count == 1)
            #expect(run?["executor"] == .string("client"))
            #expect(run?["harness"] == .string("kernelci"))
            #expect(run?["status"] == .string("running"))
            #expect(run?["labels"]?["job"] == .string("next"))
            #expect(run?["labels"]?["git_branch"] == .string("master"))
            #expect(run?["seq"] == .number(Double(KernelCIFormat.seq(fromOID: id) ?? -1)))
            let runID = run?["id"]?.stringValue ?? ""

            // A status set natively reads back in KernelCI's words.
            for (status, expected) in [
                ("success", "PASS"), ("failure", "FAIL"), ("killed", "UNKNOWN"), ("error", "UNKNOWN"),
                ("running", "BUILD"),
            ] {
                try await lab.client.execute(
                    uri: "/api/v1/runs/\(runID)/status",
                    method: .post,
                    headers: bearer(KernelCILab.token),
                    body: ByteBuffer(string: #"{"status": "\#(status)"}"#)
                ) { #expect($0.status == .created) }
                #expect(try await lab.values("/kernelci/job/\(id)", "status") == [expected])
            }
            // Other runs are not KernelCI jobs.
            try await lab.client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(KernelCILab.token),
                body: ByteBuffer(string: #"{"name": "plain", "labels": {"job": "next"}}"#)
            ) { #expect($0.status == .created) }
            #expect(try await lab.results("/kernelci/job?job=next").count == 1)
        }
    }

    // MARK: Builds

    /// `POST /build`: 202; the first build of a (tree, describe, branch) creates the job in BUILD with the git
    /// and compiler facts; later builds add results to the same job.
    @Test(arguments: TestBackend.available) func buildReportsCreateAndFeedTheJob(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let first = try await lab.call(
                .post,
                "/kernelci/build/",
                body: KernelCILab.build(tree: "mainline", describe: "v6.1")
            )
            #expect(first.status == .accepted)
            let body = try json(first)
            #expect(body["code"] == .number(202))
            #expect(body["reason"] == .string("Request accepted and being imported"))
            let id = body["result"]?.arrayValue?.first?["job_id"]?["$oid"]?.stringValue ?? ""
            let job = try await lab.results("/kernelci/job/\(id)").first
            #expect(job?["status"] == .string("BUILD"))
            #expect(job?["job"] == .string("mainline"))
            #expect(job?["kernel"] == .string("v6.1"))
            #expect(job?["git_branch"] == .string("master"))
            #expect(job?["git_describe"] == .string("v6.1"))
            #expect(job?["git_describe_v"] == .string("v6.1-verbose"))
            #expect(job?["git_url"] == .string("https://git.kernel.org/mainline.git"))
            #expect(job?["git_commit"] == .string(String(repeating: "a1b2c3d4", count: 5)))
            #expect(job?["compiler"] == .string("gcc"))
            #expect(job?["compiler_version_full"] == .string("gcc (Debian 10.2.1-6) 10.2.1"))
            #expect(job?["private"] == .bool(false))

            // More builds: same job; a failed one; a re-sent one replaces its earlier result.
            let more = [
                KernelCILab.build(tree: "mainline", describe: "v6.1", arch: "x86_64", defconfig: "x86_64_defconfig"),
                KernelCILab.build(
                    tree: "mainline",
                    describe: "v6.1",
                    arch: "arm",
                    defconfig: "multi_v7_defconfig",
                    status: "FAIL"
                ),
                KernelCILab.build(tree: "mainline", describe: "v6.1"),
            ]
            for report in more {
                let response = try await lab.call(.post, "/kernelci/builds", body: report)
                #expect(response.status == .accepted)
                #expect(try json(response)["result"]?.arrayValue?.first?["job_id"]?["$oid"] == .string(id))
            }
            #expect(try await lab.get("/kernelci/job?job=mainline")["count"] == .number(1))
            let run = try #require(
                try await lab.store.first(.runs, matching: ["seq": .int(KernelCIFormat.seq(fromOID: id) ?? -1)])
            )
            #expect(run.int("tests_total") == 3)
            #expect(run.int("tests_failed") == 1)
            let failed = try await lab.store.list(
                .testResults,
                query: Query(filter: .equal("run_id", run.id) && .equal("status", "failed")),
                scope: .everything
            ).items
            #expect(failed.first?.string("classname") == "arm")
            #expect(failed.first?.string("name") == "multi_v7_defconfig (gcc-10)")
            #expect(failed.first?.string("message") == "failed steps: kernel")

            // Another branch is another job; the CI loop then marks the job.
            _ = try await lab.call(
                .post,
                "/kernelci/build",
                body: KernelCILab.build(tree: "mainline", describe: "v6.1", branch: "stable")
            )
            #expect(try await lab.get("/kernelci/job?job=mainline")["count"] == .number(2))
            let marked = try await lab.call(
                .post,
                "/kernelci/job",
                body: #"{"job": "mainline", "kernel": "v6.1", "git_branch": "master"}"#
            )
            #expect(marked.status == .ok)
            #expect(try await lab.values("/kernelci/job/\(id)", "status") == ["PASS"])
        }
    }

    /// Builds of one job imported in parallel create exactly one job.
    @Test(arguments: TestBackend.available) func parallelFirstBuildsCreateOneJob(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await lab.call(
                            .post,
                            "/kernelci/build",
                            body: KernelCILab.build(
                                tree: "next",
                                describe: "next-20240202",
                                defconfig: "config-\(index)"
                            )
                        ).status
                    }
                }
                for try await status in group { #expect(status == .accepted) }
            }
            let body = try await lab.get("/kernelci/job?kernel=next-20240202")
            #expect(body["count"] == .number(1))
            let run = try #require(try await lab.store.first(.runs, matching: ["harness": .string("kernelci")]))
            #expect(run.int("tests_total") == 8)
        }
    }

    @Test(arguments: TestBackend.available) func invalidBuildReports(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let cases: [(String, String)] = [
                (#"{"steps": [], "artifacts": {}}"#, "'bmeta' is a required property"),
                (
                    KernelCILab.build(tree: "t", describe: "d").replacingOccurrences(
                        of: #""status":"PASS""#,
                        with: #""status":"MAYBE""#
                    ),
                    "'MAYBE' is not one of ['PASS', 'FAIL']"
                ),
                (
                    KernelCILab.build(tree: "t", describe: "d").replacingOccurrences(of: "a1b2c3d4", with: "zzzz"),
                    "does not match"
                ),
            ]
            for (body, message) in cases {
                let response = try await lab.call(.post, "/kernelci/build", body: body)
                #expect(response.status == .badRequest)
                let decoded = try json(response)
                #expect(decoded["reason"] == .string("Provided JSON is not valid"))
                #expect(decoded["errors"]?.arrayValue?.first?.stringValue?.contains(message) == true, "\(decoded)")
            }
            #expect(try await lab.get("/kernelci/job")["count"] == .number(0))
            #expect(try await lab.call(.get, "/kernelci/build").status == .notImplemented)
        }
    }

    // MARK: Errors

    @Test(arguments: TestBackend.available) func postErrorsInKernelCIWords(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            try await lab.seed(job: "next", kernel: "next-1", status: .build)
            func post(_ body: String, type: String = "application/json") async throws -> (
                HTTPResponse.Status, JSONValue
            ) {
                let response = try await lab.call(.post, "/kernelci/job", body: body, headers: [.contentType: type])
                return (response.status, try json(response))
            }
            let wrongType = try await post("{}", type: "text/plain")
            #expect(wrongType.0 == .unsupportedMediaType)
            #expect(
                wrongType.1["reason"] == .string("Wrong content type defined: Use application/json as the content type")
            )
            let notJSON = try await post("{job")
            #expect(notJSON.0 == .unprocessableContent)
            #expect(
                notJSON.1
                    == .object(["code": .number(422), "reason": .string("No JSON data found in the POST request")])
            )
            let notObject = try await post("[1]")
            #expect(notObject.0 == .badRequest)
            #expect(notObject.1["errors"] == .array([.string("Provided data is not JSON")]))
            let missing = try await post(#"{"job": "next"}"#)
            #expect(missing.0 == .badRequest)
            #expect(missing.1["reason"] == .string("Provided JSON is not valid"))
            #expect(
                missing.1["errors"]
                    == .array([.string("One or more mandatory keys are missing: ['git_branch', 'kernel']")])
            )
            let badStatus = try await post(
                #"{"job": "next", "kernel": "next-1", "git_branch": "master", "status": "DONE"}"#
            )
            #expect(badStatus.0 == .badRequest)
            #expect(
                badStatus.1["reason"]
                    == .string(
                        "Status value 'DONE' is not valid, should be one of: ['BUILD', 'FAIL', 'PASS', 'UNKNOWN']"
                    )
            )
            let unknown = try await post(#"{"job": "next", "kernel": "next-2", "git_branch": "master"}"#)
            #expect(unknown.0 == .notFound)
            #expect(unknown.1["reason"] == .string("Job 'next-next-2 (branch master)' not found"))
            // The job is untouched by all of these.
            #expect(try await lab.values("/kernelci/job", "status") == ["BUILD"])
        }
    }

    @Test(arguments: TestBackend.available) func readErrorsAndUnknownRoutes(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let malformed = try await lab.get("/kernelci/job/12345", expect: .badRequest)
            #expect(malformed == .object(["code": .number(400), "reason": .string("Wrong ID value provided")]))
            let absent = try await lab.get("/kernelci/job/00000000000000000000abcd", expect: .notFound)
            #expect(absent["reason"] == .string("Resource '00000000000000000000abcd' not found"))
            let distinct = try await lab.get("/kernelci/job/distinct/status", expect: .badRequest)
            #expect(distinct["reason"] == .string("No field specified or field not valid"))
            let route = try await lab.get("/kernelci/nothing-here", expect: .notFound)
            #expect(route == .object(["code": .number(404), "reason": .string("Resource not found")]))
            #expect(try await lab.call(.put, "/kernelci/job", body: "{}").status == .notImplemented)
            #expect(try await lab.call(.post, "/kernelci/job/distinct/job", body: "{}").status == .notImplemented)
            #expect(try await lab.call(.delete, "/kernelci/job/logs").status == .notImplemented)
            #expect(try await lab.call(.patch, "/kernelci/job").status == .methodNotAllowed)
            let preflight = try await lab.call(
                .options,
                "/kernelci/job",
                token: nil,
                headers: [.origin: "https://dashboard"]
            )
            #expect(preflight.status == .ok)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://dashboard")
            #expect(preflight.headers[.accessControlAllowHeaders] == "authorization")
        }
    }

    // MARK: Tokens

    @Test(arguments: TestBackend.available) func tokensAndScopes(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let job = try await lab.seed(job: "next", kernel: "next-1", status: .build)
            let forbidden = JSONValue.object([
                "code": .number(403), "reason": .string("Operation not permitted: provided token is not authorized"),
            ])
            #expect(try await lab.get("/kernelci/job", token: nil, expect: .forbidden) == forbidden)
            #expect(try await lab.get("/kernelci/job", token: "not-a-token-at-all", expect: .forbidden) == forbidden)
            // A bad token is a 403 before anything else, even for a malformed id.
            #expect(try await lab.get("/kernelci/job/xyz", token: "nope-nope-nope", expect: .forbidden) == forbidden)
            #expect(try await lab.get("/kernelci/job", token: "Bearer \(KernelCILab.token)")["count"] == .number(1))

            let status = #"{"job": "next", "kernel": "next-1", "git_branch": "master", "status": "PASS"}"#
            let reader = try await lab.user("reader", role: .member, scopes: ["get"], inGroup: lab.groupID)
            #expect(try await lab.get("/kernelci/job", token: reader.token)["count"] == .number(1))
            #expect(try await lab.call(.post, "/kernelci/job", token: reader.token, body: status).status == .forbidden)
            #expect(try await lab.call(.delete, "/kernelci/job/\(oid(job))", token: reader.token).status == .forbidden)

            let poster = try await lab.user("poster", role: .member, scopes: ["kernelci:post"], inGroup: lab.groupID)
            #expect(try await lab.call(.get, "/kernelci/job", token: poster.token).status == .forbidden)
            #expect(try await lab.call(.post, "/kernelci/job", token: poster.token, body: status).status == .ok)
            #expect(try await lab.call(.delete, "/kernelci/job/\(oid(job))", token: poster.token).status == .forbidden)

            // A viewer's token without scopes reads, but may not change the group's jobs.
            let viewer = try await lab.user("viewer", role: .viewer, inGroup: lab.groupID)
            #expect(try await lab.get("/kernelci/job", token: viewer.token)["count"] == .number(1))
            #expect(try await lab.call(.post, "/kernelci/job", token: viewer.token, body: status).status == .forbidden)
            #expect(
                try await lab.call(
                    .post,
                    "/kernelci/build",
                    token: viewer.token,
                    body: KernelCILab.build(tree: "x", describe: "y")
                ).status == .forbidden
            )

            // Another group sees none of these jobs; its builds create jobs in its own group.
            let outsider = try await lab.user("outsider", role: .member, scopes: ["admin"])
            #expect(try await lab.get("/kernelci/job", token: outsider.token)["count"] == .number(0))
            _ = try await lab.get("/kernelci/job/\(oid(job))", token: outsider.token, expect: .notFound)
            #expect(try await lab.call(.post, "/kernelci/job", token: outsider.token, body: status).status == .notFound)
            #expect(try await lab.call(.delete, "/kernelci/job/\(oid(job))", token: outsider.token).status == .notFound)
            let own = try await lab.call(
                .post,
                "/kernelci/build",
                token: outsider.token,
                body: KernelCILab.build(tree: "next", describe: "next-1")
            )
            #expect(own.status == .accepted)
            #expect(try await lab.get("/kernelci/job", token: outsider.token)["count"] == .number(1))
            #expect(try await lab.get("/kernelci/job")["count"] == .number(2))

            let deleter = try await lab.user("deleter", role: .member, scopes: ["delete"], inGroup: lab.groupID)
            #expect(try await lab.call(.delete, "/kernelci/job/\(oid(job))", token: deleter.token).status == .ok)
        }
    }

    // MARK: Transport

    /// `Accept-Encoding: gzip` gets a gzip body, smaller than the identity body, that decodes to exactly its
    /// bytes; a body under 1,024 bytes (an error, a short list) is sent as it is, as Tornado does.
    @Test(arguments: TestBackend.available) func gzipWhenAccepted(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            for index in 0..<20 { try await lab.seed(job: "next", kernel: "next-\(index)") }
            let plain = try await lab.call(.get, "/kernelci/job")
            #expect(plain.headers[.contentEncoding] == nil)
            #expect(plain.headers[.vary] == "Accept-Encoding")
            let identity = Array(plain.body.readableBytesView)
            #expect(identity.count >= KernelCIGzip.minimumLength)
            let zipped = try await lab.call(.get, "/kernelci/job", headers: [.acceptEncoding: "deflate, gzip;q=0.8"])
            #expect(zipped.status == .ok)
            #expect(zipped.headers[.contentEncoding] == "gzip")
            #expect(zipped.headers[.vary] == "Accept-Encoding")
            let bytes = Array(zipped.body.readableBytesView)
            #expect(bytes.prefix(3) == [0x1f, 0x8b, 8])
            // Twenty near-identical jobs: deflate must shrink them several times over, not merely wrap them.
            #expect(bytes.count * 4 < identity.count, "\(bytes.count) gzipped of \(identity.count)")
            #expect(try gunzip(bytes) == identity)
            #expect(try inflate(bytes) == identity)
            // A short body is not compressed; q=0 refuses it.
            let error = try await lab.call(.get, "/kernelci/job", token: nil, headers: [.acceptEncoding: "gzip"])
            #expect(error.headers[.contentEncoding] == nil)
            #expect(error.body.readableBytes < KernelCIGzip.minimumLength)
            #expect(try json(error)["code"] == .number(403))
            let short = try await lab.call(
                .get,
                "/kernelci/job?limit=1&field=kernel",
                headers: [.acceptEncoding: "gzip"]
            )
            #expect(short.headers[.contentEncoding] == nil)
            #expect(try json(short)["result"]?.arrayValue?.count == 1)
            let refused = try await lab.call(.get, "/kernelci/job", headers: [.acceptEncoding: "gzip;q=0"])
            #expect(refused.headers[.contentEncoding] == nil)
            #expect(Array(refused.body.readableBytesView) == identity)
        }
    }

    @Test func gzipEncoderCompresses() throws {
        // Repetitive JSON as KernelCI's lists are, and bytes that do not compress.
        let json = Array(
            String(repeating: #"{"job":"next","kernel":"next-20240101","status":"PASS"},"#, count: 5_000).utf8
        )
        let noise = (0..<200_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        for input in [json, noise, Array(json.prefix(KernelCIGzip.minimumLength)), []] {
            let zipped = try #require(KernelCIGzip.compress(input))
            #expect(try gunzip(zipped) == input)
            #expect(try inflate(zipped) == input)
        }
        let zipped = try #require(KernelCIGzip.compress(json))
        #expect(zipped.count * 50 < json.count, "\(zipped.count) of \(json.count)")
    }

    /// `/job` and `/jobs`, with or without a trailing slash.
    @Test(arguments: TestBackend.available) func pluralAndTrailingSlash(_ backend: TestBackend) async throws {
        try await KernelCILab.run(backend) { lab in
            let job = try await lab.seed(job: "next", kernel: "next-1")
            for path in ["/kernelci/job", "/kernelci/job/", "/kernelci/jobs", "/kernelci/jobs/"] {
                #expect(try await lab.get(path)["count"] == .number(1), "\(path)")
            }
            for path in ["/kernelci/jobs/\(oid(job))", "/kernelci/jobs/\(oid(job))/", "/kernelci/jobs/distinct/job/"] {
                #expect(try await lab.get(path)["result"]?.arrayValue?.count == 1, "\(path)")
            }
        }
    }

    @Test func objectIDsAreStableAndReversible() {
        #expect(KernelCIFormat.oidString(1) == "000000000000000000000001")
        #expect(KernelCIFormat.oidString(0xabc) == "000000000000000000000abc")
        #expect(KernelCIFormat.seq(fromOID: "000000000000000000000abc") == 0xabc)
        #expect(KernelCIFormat.seq(fromOID: "000000000000000000000ABC") == 0xabc)
        #expect(KernelCIFormat.seq(fromOID: "01234567890123456789ABCD") == nil)
        #expect(KernelCIFormat.isObjectID("01234567890123456789ABCD"))
        #expect(!KernelCIFormat.isObjectID("0123456789001234567890123"))
        #expect(!KernelCIFormat.isObjectID("g00000000000000000000000"))
        for seq: Int64 in [0, 1, 42, 1 << 40, Int64.max] {
            #expect(KernelCIFormat.seq(fromOID: KernelCIFormat.oidString(seq)) == seq)
        }
    }

    @Test func statusMapping() {
        for status in KernelCIStatus.allCases {
            #expect(KernelCIStatus(run: status.runStatus.rawValue) == status)
            #expect(status.runStatuses.contains(status.runStatus))
        }
        #expect(Set(KernelCIStatus.allCases.flatMap(\.runStatuses)) == Set(RunStatus.allCases))
        #expect(KernelCIStatus.pythonList == "['BUILD', 'FAIL', 'PASS', 'UNKNOWN']")
    }
}

/// Decodes gzip with zlib's inflate (compress-nio).
func inflate(_ bytes: [UInt8]) throws -> [UInt8] {
    var buffer = ByteBuffer(bytes: bytes)
    return Array(try buffer.decompress(with: .gzip()).readableBytesView)
}

/// Decodes gzip with the system's gzip, independently of the encoder under test.
func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("kernelci-\(UUID().uuidString).gz")
    try Data(bytes).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = ["-dc", input.path]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ProctorError(.badRequest, "gzip could not decode the stream") }
    return Array(data)
}
