import Foundation
import Logging
import ProctorCore
import ProctorStore
import ProctorTestSupport
import Testing

/// Replicas on one PostgreSQL wake each other's followers through LISTEN/NOTIFY: a change published through one
/// store's event hub moves the generation of the other's, which a long-poll or log follower waits on.
@Suite struct ChangeFeedTests {
    /// Stores on PostgreSQL named by schema suffix (two with the same suffix are replicas of one database), each
    /// with an event hub whose listener is up; nothing when PostgreSQL is not available.
    private func withReplicas(
        _ suffixes: [String],
        _ body: ([SQLStore], [EventHub]) async throws -> Void
    ) async throws {
        guard TestBackend.available.contains(.postgres),
            let url = ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"]
        else { return }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var stores: [SQLStore] = []
        for suffix in suffixes {
            stores.append(
                try await SQLStore.postgres(url: url, connections: 2, schema: schema + suffix, logger: logger)
            )
        }
        let hubs = stores.map { EventHub(feed: $0.changeFeed) }
        // Each hub wakes once when its listener is up (a change may have been missed before): let that pass, however
        // long a busy machine takes to get there.
        for hub in hubs where await hub.generation == 0 {
            await hub.wait(after: 0, timeout: .seconds(30))
        }
        do {
            try await body(stores, hubs)
        } catch {
            for store in stores { await store.shutdown() }
            throw error
        }
        for store in stores { await store.shutdown() }
    }

    @Test func aChangeThroughOneReplicaWakesTheOther() async throws {
        try await withReplicas(["", "", "x"]) { stores, hubs in
            #expect(stores[0].changeFeed != nil)
            let (replicaA, replicaB, unrelated) = (hubs[0], hubs[1], hubs[2])
            var latencies: [Duration] = []
            for _ in 0..<20 {
                let seen = await replicaB.generation
                let elsewhere = await unrelated.generation
                let start = ContinuousClock.now
                await replicaA.publish()
                await replicaB.wait(after: seen, timeout: .seconds(10))
                latencies.append(ContinuousClock.now - start)
                #expect(await replicaB.generation != seen, "replica B did not hear of replica A's change")
                #expect(await unrelated.generation == elsewhere, "another database's store heard of it")
            }
            latencies.sort()
            print(
                "change feed: replica A → replica B p50 \(latencies[latencies.count / 2]), max \(latencies.last ?? .zero)"
            )
        }
    }

    /// Another replica's log lines wake this replica's log followers, not its claimers; its run changes wake both.
    @Test func anotherReplicasLogLinesDoNotWakeClaimers() async throws {
        try await withReplicas(["", ""]) { _, hubs in
            let (replicaA, replicaB) = (hubs[0], hubs[1])
            for _ in 0..<5 {
                let seen = await replicaB.generation
                let runsSeen = await replicaB.runGeneration
                await replicaA.publish(.logs)
                await replicaB.wait(after: seen, timeout: .seconds(10))
                #expect(await replicaB.generation != seen, "replica B's log followers did not hear of the log line")
                #expect(await replicaB.runGeneration == runsSeen, "replica B's claimers woke for a log line")
                await replicaA.publish(.runs)
                await replicaB.waitForRuns(after: runsSeen, timeout: .seconds(10))
                #expect(await replicaB.runGeneration != runsSeen, "replica B's claimers did not hear of the run change")
            }
        }
    }

    @Test func sqliteHasNoFeed() async throws {
        let store = try await TestBackend.sqlite.makeStore()
        #expect(store.changeFeed == nil)
        await store.shutdown()
    }
}
