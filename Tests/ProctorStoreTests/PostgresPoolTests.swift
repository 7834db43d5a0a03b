import Foundation
import ProctorCore
import ProctorStoreWriting
import ProctorTestSupport
import Testing

@testable import ProctorStore

/// PostgreSQL through PostgresNIO's pool: its connection limit holds, and a request that cannot get a connection
/// in time is refused as unavailable (503) instead of waiting on.
@Suite struct PostgresPoolTests {
    @Test func aRequestThatCannotGetAConnectionInTimeIsUnavailable() async throws {
        guard TestBackend.available.contains(.postgres) else { return }
        // The schema is migrated by a store that may wait as long as it needs (on a loaded machine opening a
        // connection can take longer than a second); the store under test opens on it already migrated.
        let schema = TestBackend.newPostgresSchema()
        try await TestBackend.postgres.makeStore(postgresSchema: schema).shutdown()
        let store = try await TestBackend.postgres.makeStore(
            migrated: false,
            postgresConnections: 1,
            postgresWait: .seconds(1),
            postgresSchema: schema
        )
        // The one connection is open and idle before it is held: on a busy machine, opening it can itself take
        // longer than the wait, so the first requests may be refused until it is open.
        var opened = false
        for _ in 0..<30 where !opened {
            do {
                _ = try await store.count(.groups, query: Query(), scope: .everything)
                opened = true
            } catch let error as ProctorError where error.code == .unavailable {}
        }
        try #require(opened, "the pool's one connection never opened")
        let (holding, isHolding) = AsyncStream<Void>.makeStream()
        let held = Task {
            try await store.transaction { transaction in
                _ = try await transaction.insert(Record(.groups, ["name": .string("held")]))
                isHolding.yield()
                try await Task.sleep(for: .seconds(3))
            }
        }
        for await _ in holding { break }
        let started = ContinuousClock.now
        await #expect(throws: ProctorError.self) {
            do {
                _ = try await store.count(.groups, query: Query(), scope: .everything)
            } catch let error as ProctorError {
                #expect(error.code == .unavailable, "\(error)")
                #expect(error.message.contains("no PostgreSQL connection could be had in time"), "\(error.message)")
                throw error
            }
        }
        // It waited its second, not until the connection came back (it would then have been served).
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(900), "waited \(waited)")
        try await held.value
        // Once the connection is back, requests are served again, the held write included.
        #expect(try await store.count(.groups, query: Query(filter: .equal("name", "held")), scope: .everything) == 1)
        await store.shutdown()
    }
}
