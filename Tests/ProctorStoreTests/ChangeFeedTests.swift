import Foundation
import Logging
import ProctorCore
import ProctorStore
import ProctorTestSupport
import Testing

/// Replicas on one PostgreSQL wake each other's followers through LISTEN/NOTIFY: a change published through one
/// store's event hub moves the generation of the other's, which a long-poll or log follower waits on.
@Suite struct ChangeFeedTests {
    @Test func aChangeThroughOneReplicaWakesTheOther() async throws {
        guard TestBackend.available.contains(.postgres),
            let url = ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"]
        else { return }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let first = try await SQLStore.postgres(url: url, connections: 2, schema: schema, logger: logger)
        let second = try await SQLStore.postgres(url: url, connections: 2, schema: schema, logger: logger)
        let other = try await SQLStore.postgres(url: url, connections: 2, schema: schema + "x", logger: logger)
        #expect(first.changeFeed != nil)
        let replicaA = EventHub(feed: first.changeFeed)
        let replicaB = EventHub(feed: second.changeFeed)
        let unrelated = EventHub(feed: other.changeFeed)
        // Each hub wakes once when its listener is up (a change may have been missed before): let that pass, however
        // long a busy machine takes to get there.
        for hub in [replicaA, replicaB, unrelated] where await hub.generation == 0 {
            await hub.wait(after: 0, timeout: .seconds(30))
        }
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
        for store in [first, second, other] { await store.shutdown() }
    }

    /// Another replica's log lines wake this replica's log followers, not its claimers; its run changes wake both.
    @Test func anotherReplicasLogLinesDoNotWakeClaimers() async throws {
        guard TestBackend.available.contains(.postgres),
            let url = ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"]
        else { return }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let first = try await SQLStore.postgres(url: url, connections: 2, schema: schema, logger: logger)
        let second = try await SQLStore.postgres(url: url, connections: 2, schema: schema, logger: logger)
        let replicaA = EventHub(feed: first.changeFeed)
        let replicaB = EventHub(feed: second.changeFeed)
        for hub in [replicaA, replicaB] where await hub.generation == 0 {
            await hub.wait(after: 0, timeout: .seconds(30))
        }
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
        for store in [first, second] { await store.shutdown() }
    }

    @Test func sqliteHasNoFeed() async throws {
        let store = try await TestBackend.sqlite.makeStore()
        #expect(store.changeFeed == nil)
        await store.shutdown()
    }
}
