import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Testing

/// A run's end must never be lost nor written twice: a worker whose lease expired (the run was requeued and
/// claimed again, even by the same executor under the same name) can neither extend the new claim's lease nor
/// write its status, and deleting a run removes its files' contents, not only their rows.
@Suite struct ClaimTests {
    @Test func aStaleClaimCanNeitherBeatNorReport() async throws {
        var app = try await TestApp.make()
        app.configuration.leaseSeconds = 0
        let services = app.configuration.runServices(store: app.store)
        let group = try #require(try await app.store.first(.groups, matching: ["name": .string("default")]))
        let run = try await services.lifecycle.createExecuted(
            Run([.name: .string("slow results"), .harness: .string("shell")]),
            groupID: group.id,
            comment: "launched"
        )
        let first = try #require(try await services.queue.claim(claimant: "local@host:1", executor: .local))
        let stale = RunQueue.Claim(of: first)
        try await Task.sleep(for: .milliseconds(5))  // the lease (0 s) must lie in the past
        #expect(try await services.queue.expireLeases().map(\.id) == [run.id])
        let second = try #require(try await services.queue.claim(claimant: "local@host:1", executor: .local))
        let current = RunQueue.Claim(of: second)
        #expect(stale.claimant == current.claimant && stale.attempt == 1 && current.attempt == 2)

        #expect(try await services.queue.heartbeat(runID: run.id, claim: stale) == .lost)
        #expect(try await services.queue.heartbeat(runID: run.id, claim: current) == .keep)
        await #expect(throws: ProctorError.self) {
            try await services.lifecycle.advance(runID: run.id, to: .running, claim: stale)
        }
        let running = try await services.lifecycle.advance(runID: run.id, to: .running, claim: current)
        #expect(running.status == .running)
        #expect(running.attempts == 2)
        await app.store.shutdown()
    }

    @Test func deletingARunRemovesItsFilesContents() async throws {
        let app = try await TestApp.make()
        let services = app.configuration.runServices(store: app.store)
        try await app.test { client in
            let id = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"name": "reported"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            var contents: [URL] = []
            for name in ["a.txt", "b.txt"] {
                let fileID = try await client.execute(
                    uri: "/api/v1/runs/\(id)/files?name=\(name)",
                    method: .post,
                    headers: bearer(TestApp.adminToken),
                    body: ByteBuffer(string: "content of \(name)")
                ) { response in
                    #expect(response.status == .created)
                    return try json(response)["file"]?["id"]?.stringValue ?? ""
                }
                let file = try #require(try await app.store.get(.files, id: fileID, scope: .everything))
                let key = try #require(StoredFile(file)?.storagePath)
                contents.append(services.files.root.appendingPathComponent(key))
            }
            #expect(contents.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
            try await client.execute(uri: "/api/v1/runs/\(id)", method: .delete, headers: bearer(TestApp.adminToken)) {
                #expect($0.status == .noContent)
            }
            for url in contents { #expect(!FileManager.default.fileExists(atPath: url.path), "\(url.path) is left") }
        }
    }
}
