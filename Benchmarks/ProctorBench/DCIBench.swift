import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ProctorCore
import ProctorDCI
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore

#if canImport(Glibc)
    import Glibc
#endif

/// `proctor-bench --dci N`: the DCI door's CPU per request over N seeded DCI jobs on SQLite, through the whole
/// application in-process (routing, authentication, query, embeds, JSON; no sockets): a job by id, a page of 50
/// with and without all seven embeds, a jobstate posted, and a job seeded the way a remote CI reports one (issue
/// #19's seeding: the job, two jobstates and a JUnit file, each request HMAC-signed). Issue #18 asks the embedded
/// list to cost at most twice the plain one.
///
/// CPU time (user + system, `getrusage`) is the figure that holds on a shared machine; wall-clock p50 and p99
/// are printed beside it. `DCI_ONLY=<suffix>` in the environment measures only the requests whose label ends
/// with it (`DCI_ONLY="all seven"` for the embedded list alone, `DCI_ONLY=embed=files` for one embed), for
/// profiling one path.
enum DCIBench {
    static let token = "pt_bench_dci_admin_token_00000000"

    static func measure(jobs: Int, repeats: Int) async throws {
        let bench = try await BenchStore.open("dci", token: token)
        defer { bench.remove() }
        let store = bench.store
        let logger = bench.logger
        let seeded = try await seed(store, jobs: jobs)
        let ids = seeded.jobIDs
        let configuration = bench.configuration
        let app = try await buildApplication(configuration: configuration, store: store, logger: logger)
        let all = "topic,remoteci,team,components,results,jobstates,files"
        try await app.test(.router) { client in
            var perRequest: [String: Double] = [:]
            for (label, uri) in [
                ("GET /jobs/{id}", "/dci/api/v1/jobs/\(ids[ids.count / 2])"),
                ("GET /jobs?limit=50", "/dci/api/v1/jobs?limit=50&sort=-created_at"),
                ("GET /jobs?limit=50&embed=all seven", "/dci/api/v1/jobs?limit=50&sort=-created_at&embed=\(all)"),
            ] where ProcessInfo.processInfo.environment["DCI_ONLY"].map({ label.hasSuffix($0) }) ?? true {
                perRequest[label] = try await cpu(label, times: repeats) {
                    try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"]) {
                        guard $0.status == .ok else {
                            throw ProctorError(.internal, "\(uri) answered \($0.status.code)")
                        }
                        return $0.body.readableBytes
                    }
                }
            }
            // Each embed alone, to show where an embedded page's time goes.
            for embed in all.split(separator: ",")
            where ProcessInfo.processInfo.environment["DCI_ONLY"].map({ "embed=\(embed)".hasSuffix($0) }) ?? true {
                let uri = "/dci/api/v1/jobs?limit=50&sort=-created_at&embed=\(embed)"
                _ = try await cpu("  embed=\(embed)", times: max(repeats / 4, 10)) {
                    try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"]) {
                        guard $0.status == .ok else {
                            throw ProctorError(.internal, "\(uri) answered \($0.status.code)")
                        }
                        return $0.body.readableBytes
                    }
                }
            }
            // A jobstate posted (issue #19: at most 2 ms of CPU), each to the next job, alternating statuses (DCI lets
            // any status follow any): a write through the core lifecycle, answered once committed.
            if ProcessInfo.processInfo.environment["DCI_ONLY"].map({ "POST /jobstates".hasSuffix($0) }) ?? true {
                var posted = 0
                _ = try await cpu("POST /jobstates", times: repeats) {
                    posted += 1
                    let body =
                        #"{"job_id": "\#(ids[posted % ids.count])", "status": "\#(posted % 2 == 0 ? "running" : "success")", "comment": "bench \#(posted)"}"#
                    return try await client.execute(
                        uri: "/dci/api/v1/jobstates",
                        method: .post,
                        headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: ByteBuffer(string: body)
                    ) {
                        guard $0.status == .created else {
                            throw ProctorError(.internal, "POST /jobstates answered \($0.status.code)")
                        }
                        return $0.body.readableBytes
                    }
                }
            }
            if ProcessInfo.processInfo.environment["DCI_ONLY"].map({ seedLabel.hasSuffix($0) }) ?? true {
                try await seedOverHTTP(client, seeded, times: max(repeats / 4, 10))
            }
            if let plain = perRequest["GET /jobs?limit=50"],
                let embedded = perRequest["GET /jobs?limit=50&embed=all seven"]
            {
                print(
                    String(format: "== DCI: the embedded list costs %.2f× the plain one (goal ≤ 2×)", embedded / plain)
                )
            }
        }
        await store.shutdown()
    }

    /// What ``seed(_:jobs:)`` stored.
    struct Seeded {
        var jobIDs: [String] = []
        var topicID = ""
        var componentIDs: [String] = []
        var remoteciID = ""
        static let remoteciSecret = "secret"
    }

    /// A topic with three components, a remote CI, and `jobs` finished DCI jobs, each with three jobstates and a
    /// JUnit file row.
    static func seed(_ store: SQLStore, jobs: Int) async throws -> Seeded {
        guard let team = try await store.first(.groups, matching: ["name": .string(Bootstrap.defaultGroup)]) else {
            throw ProctorError(.internal, "no default group")
        }
        let topic = try await store.insert(
            Record(
                .topics,
                [
                    "group_id": .string(team.id), "name": .string("RHEL-9.4"), "component_types": .strings(["Compose"]),
                    "export_control": .bool(true), "data": .json(.object([:])),
                ]
            )
        )
        var components: [String] = []
        for name in ["RHEL-9.4-20240601", "kernel-5.14", "podman-4.9"] {
            let component = try await store.insert(
                Record(
                    .components,
                    [
                        "group_id": .string(team.id), "name": .string(name), "topic_id": .string(topic.id),
                        "type": .string("Compose"), "data": .json(.object([:])), "tags": .strings([]),
                    ]
                )
            )
            components.append(component.id)
        }
        let remoteci = try await store.insert(
            Record(
                .remotecis,
                [
                    "group_id": .string(team.id), "name": .string("bench-ci"),
                    "api_secret": .string(Seeded.remoteciSecret),
                    "public": .bool(false), "data": .json(.object([:])),
                ]
            )
        )
        let start = ContinuousClock.now
        var ids: [String] = []
        for chunk in stride(from: 0, to: jobs, by: 1000) {
            let runs = (chunk..<min(jobs, chunk + 1000)).map { index in
                Record(
                    .runs,
                    [
                        "group_id": .string(team.id), "name": .string("bench-\(index % 10)"),
                        "status": .string(index % 4 == 0 ? "failure" : "success"), "executor": .string("client"),
                        "topic_id": .string(topic.id), "remoteci_id": .string(remoteci.id),
                        "components": .strings(components),
                    ]
                )
            }
            try await store.insertMany(runs)
            let page = try await store.list(
                .runs,
                query: Query(sort: [SortKey("seq", descending: true)], limit: runs.count, fields: ["id"]),
                scope: .everything
            )
            let chunkIDs = page.items.map(\.id)
            ids += chunkIDs
            var events: [Record] = []
            var files: [Record] = []
            for id in chunkIDs {
                for (previous, status) in [(nil, "new"), ("new", "running"), ("running", "success")] {
                    events.append(
                        Record(
                            .runEvents,
                            [
                                "group_id": .string(team.id), "run_id": .string(id), "status": .string(status),
                                "previous_status": previous.map(Value.string) ?? .null,
                            ]
                        )
                    )
                }
                files.append(
                    Record(
                        .files,
                        [
                            "group_id": .string(team.id), "run_id": .string(id), "name": .string("junit.xml"),
                            "mime": .string("application/junit"), "size": .int(2048),
                        ]
                    )
                )
            }
            try await store.insertMany(events)
            try await store.insertMany(files)
        }
        let seconds = ProctorBench.milliseconds(ContinuousClock.now - start) / 1000
        print(String(format: "== DCI: seeded %d jobs (3 jobstates and a file each) in %.1f s", jobs, seconds))
        return Seeded(jobIDs: ids, topicID: topic.id, componentIDs: components, remoteciID: remoteci.id)
    }

    static let seedLabel = "seed a job + 2 jobstates + JUnit file"

    /// A JUnit file of 20 test cases (2 failures), about 2 KB: what a remote CI uploads after a job.
    static let junit: String = {
        var cases = ""
        for index in 0..<20 {
            let failure = index % 10 == 9 ? #"<failure message="assert failed">trace</failure>"# : ""
            cases +=
                #"<testcase classname="tests.bench" name="test_\#(index)" time="0.\#(index)">\#(failure)</testcase>"#
        }
        return #"<?xml version="1.0"?><testsuite name="bench" tests="20" failures="2">\#(cases)</testsuite>"#
    }()

    /// Seeds jobs as a remote CI does, through the door: `POST /jobs`, `POST /jobstates` running then success, and
    /// `POST /files` with a JUnit file, each signed with the remote CI's secret. The CPU per job includes the
    /// client's signing (SHA-256 of each body and the HMAC chain), done in this same process.
    static func seedOverHTTP(_ client: some TestClientProtocol, _ seeded: Seeded, times: Int) async throws {
        func signed(
            _ method: HTTPRequest.Method,
            _ uri: String,
            body: String,
            extra: HTTPFields = [:],
            expect: HTTPResponse.Status
        ) async throws -> JSONValue {
            let request = DCISignature.Request(
                method: method.rawValue,
                path: uri,
                query: nil,
                headers: ["host": "localhost"],
                body: Array(body.utf8)
            )
            var headers: HTTPFields = [.contentType: "application/json", .userAgent: "python-dciclient_4.2.0"]
            let signature = DCISignature.sign(request, clientID: seeded.remoteciID, secret: Seeded.remoteciSecret)
            for (name, value) in signature { headers[HTTPField.Name(name)!] = value }
            headers.append(contentsOf: extra)
            return try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(string: body))
            {
                guard $0.status == expect else {
                    throw ProctorError(.internal, "\(method) \(uri) answered \($0.status.code)")
                }
                return try JSONValue.decode(String(buffer: $0.body)) ?? .null
            }
        }
        let components = seeded.componentIDs.map { #""\#($0)""# }.joined(separator: ", ")
        let job = #"{"topic_id": "\#(seeded.topicID)", "components": [\#(components)], "name": "seeded"}"#
        _ = try await cpu(seedLabel, times: times) {
            let created = try await signed(.post, "/dci/api/v1/jobs", body: job, expect: .created)
            guard let jobID = created["job"]?["id"]?.stringValue else {
                throw ProctorError(.internal, "POST /jobs answered no job id")
            }
            for status in ["running", "success"] {
                _ = try await signed(
                    .post,
                    "/dci/api/v1/jobstates",
                    body: #"{"job_id": "\#(jobID)", "status": "\#(status)"}"#,
                    expect: .created
                )
            }
            var file: HTTPFields = [:]
            file[HTTPField.Name("DCI-JOB-ID")!] = jobID
            file[HTTPField.Name("DCI-NAME")!] = "junit.xml"
            file[HTTPField.Name("DCI-MIME")!] = "application/junit"
            _ = try await signed(.post, "/dci/api/v1/files", body: junit, extra: file, expect: .created)
            return junit.utf8.count
        }
    }

    /// Runs `body` `times` times after a warm-up; prints and returns the CPU milliseconds per call.
    static func cpu(_ label: String, times: Int, _ body: () async throws -> Int) async throws -> Double {
        var bytes = 0
        for _ in 0..<min(times, 20) { bytes = try await body() }
        var wall: [Double] = []
        wall.reserveCapacity(times)
        let before = processCPUSeconds()
        for _ in 0..<times {
            let start = ContinuousClock.now
            _ = try await body()
            wall.append(ProctorBench.milliseconds(ContinuousClock.now - start))
        }
        let perCall = (processCPUSeconds() - before) * 1000 / Double(times)
        wall.sort()
        print(
            String(
                format: "%@ CPU %.3f ms/req   wall p50 %.3f ms  p99 %.3f ms  %7d bytes  (%d requests)",
                label.padding(toLength: 40, withPad: " ", startingAt: 0) as NSString,
                perCall,
                wall[wall.count / 2],
                wall[min(wall.count - 1, wall.count * 99 / 100)],
                bytes,
                times
            )
        )
        return perCall
    }

    /// User plus system CPU time of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
