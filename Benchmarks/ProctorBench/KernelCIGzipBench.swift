import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorKernelCI
import ProctorStore

/// `proctor-bench --kernelci-gzip N`: how much KernelCI's gzip saves. Loads N job documents with every field a
/// KernelCI job carries (tree, kernel, branch, commit, describe, URL, compiler, …; 200 trees, a kernel every few
/// hours), then asks `GET /kernelci/job?limit=0` for all of them at once (the original's unbounded listing; the
/// server's `maxLimit` is raised to N for it) and a short answer, each without and with `Accept-Encoding: gzip`.
/// Prints the bytes of each and the time of each request.
enum KernelCIGzipBench {
    static let token = "pt_bench_kernelci_gzip_admin_tok"

    static func measure(jobs: Int) async throws {
        let bench = try await BenchStore.open("gzip", token: token)
        defer { bench.remove() }
        let store = bench.store
        let logger = bench.logger
        let group = try await bench.defaultGroup()
        let trees =
            ["next", "mainline", "stable", "arm-soc", "linux-4.19.y", "linux-5.4.y"] + (6..<200).map { "tree-\($0)" }
        let now = Timestamp.now()
        let start = ContinuousClock.now
        for chunk in stride(from: 0, to: jobs, by: 20_000) {
            let rows = (chunk..<min(jobs, chunk + 20_000)).map { index -> Record in
                let tree = trees[index % trees.count]
                let build = index / trees.count
                let commit = String(
                    format: "%08x%08x%08x%08x%08x",
                    index &* 2_654_435_761 & 0xffff_ffff,
                    build,
                    index,
                    tree.count,
                    build &* 40_503
                )
                let describe = "v6.\(build / 70 % 12)-rc\(build % 8)-\(build % 400)-g\(commit.prefix(12))"
                let labels: [String: String] = [
                    "job": tree, "kernel": describe, "git_branch": build % 3 == 0 ? "master" : "for-next",
                    "git_commit": commit, "git_describe": describe, "git_describe_v": describe,
                    "git_url": "https://git.kernel.org/pub/scm/linux/kernel/git/\(tree)/linux.git",
                    "kernel_version": "6.\(build / 70 % 12).0", "compiler": "gcc", "compiler_version": "12.2.0",
                    "compiler_version_ext": "gcc 12.2.0", "compiler_version_full": "gcc (Debian 12.2.0-14) 12.2.0",
                    "cross_compile": index % 2 == 0 ? "aarch64-linux-gnu-" : "", "private": "false",
                ]
                return Record(
                    .runs,
                    [
                        "group_id": .string(group.id), "harness": .string(KernelCIJob.harness),
                        "executor": .string("client"),
                        "name": .string("\(tree)-\(describe)"),
                        "status": .string(index % 7 == 0 ? "failure" : "success"),
                        "created_at": .timestamp(now - Int64(jobs - index) * 60_000_000),
                        "labels": .json(.object(labels.mapValues(JSONValue.string))),
                    ]
                )
            }
            try await store.insertMany(rows)
        }
        print(
            String(
                format: "== KernelCI gzip: loaded %d jobs in %.1f s",
                jobs,
                ProctorBench.milliseconds(ContinuousClock.now - start) / 1000
            )
        )
        let configuration = bench.configuration
        let services = configuration.runServices(store: store)
        let router = Router(context: AppRequestContext.self)
        KernelCIAPI(services: services, configuration: configuration, options: .init(maxLimit: max(1, jobs))).addRoutes(
            to: router
        )
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        )
        try await app.test(.router) { client in
            for (uri, token) in [
                ("/kernelci/job?limit=0", token), ("/kernelci/job?limit=0", nil),
                ("/kernelci/job/distinct/job?job=next", token),
            ] {
                var sizes: [String] = []
                for encoding in ["identity", "gzip"] {
                    var headers: HTTPFields = [.acceptEncoding: encoding]
                    if let token { headers[.authorization] = token }
                    let begin = ContinuousClock.now
                    let (bytes, coding) = try await client.execute(uri: uri, method: .get, headers: headers) {
                        response in
                        (response.body.readableBytes, response.headers[.contentEncoding] ?? "identity")
                    }
                    let milliseconds = ProctorBench.milliseconds(ContinuousClock.now - begin)
                    sizes.append(String(format: "%@ %d bytes (%@, %.0f ms)", encoding, bytes, coding, milliseconds))
                }
                print("GET \(uri)\(token == nil ? " without a token" : ""): " + sizes.joined(separator: "; "))
            }
        }
        await store.shutdown()
    }
}
