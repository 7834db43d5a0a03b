import Foundation
import Logging
import ProctorCore
import ProctorStoreWriting
import ProctorTestSupport
import SQLKit
import Testing

@testable import ProctorStore

/// PostgreSQL through PostgresNIO's pool: its connection limit holds, and a request that cannot get a connection
/// in time is refused as unavailable (503) instead of waiting on, also when the connection it would have had
/// closed and the database cannot be reached again.
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
        let waited = await expectRefusedAsUnavailable(store)
        // It waited its second, not until the connection came back (it would then have been served).
        #expect(waited >= .milliseconds(900), "waited \(waited)")
        try await held.value
        // Once the connection is back, requests are served again, the held write included.
        #expect(try await store.count(.groups, query: Query(filter: .equal("name", "held")), scope: .everything) == 1)
        await store.shutdown()
    }

    /// A lease is served without a timer only while an open connection is known to be idle: once the connection
    /// closed (here its backend is terminated and its role may no longer log in, as when the database goes away),
    /// the next request is refused within its wait instead of queueing until the pool's circuit breaker trips a
    /// minute later, and is served again once the database can be reached.
    @Test func aRequestAfterTheConnectionClosedIsRefusedInTimeWhenTheDatabaseIsGone() async throws {
        guard TestBackend.available.contains(.postgres) else { return }
        let url = try #require(ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"])
        var asRole = try #require(URLComponents(string: url))
        let schema = TestBackend.newPostgresSchema()
        let admin = try await TestBackend.postgres.makeStore(postgresSchema: schema)
        let role = "r_" + schema
        func asAdmin(_ statement: SQLQueryString) async throws {
            try await admin.read { db in try await db.raw(statement).run() }
        }
        try await asAdmin("CREATE ROLE \(unsafeRaw: role) LOGIN SUPERUSER PASSWORD 'gone'")
        asRole.user = role
        asRole.password = "gone"
        let store = try await SQLStore.postgres(
            url: try #require(asRole.string),
            connections: 1,
            leaseTimeout: .seconds(1),
            schema: schema,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let sessions = try #require(store.readers as? PostgresSessions)
        var served = false
        for _ in 0..<30 where !served {
            served = (try? await store.count(.groups, query: Query(), scope: .everything)) != nil
        }
        try #require(served, "the pool's one connection never opened")
        #expect(sessions.openConnections == 1)

        try await asAdmin("ALTER ROLE \(unsafeRaw: role) NOLOGIN")
        try await asAdmin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = \(bind: role)"
        )
        for _ in 0..<100 where sessions.openConnections > 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(sessions.openConnections == 0, "the terminated connection is still counted as open")
        let waited = await expectRefusedAsUnavailable(store)
        #expect(waited < .seconds(30), "waited \(waited) for a connection the database refuses")

        try await asAdmin("ALTER ROLE \(unsafeRaw: role) LOGIN")
        served = false
        for _ in 0..<60 where !served {
            served = (try? await store.count(.groups, query: Query(), scope: .everything)) != nil
            if !served { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(served, "requests were not served again once the database could be reached")
        await store.shutdown()
        try await asAdmin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = \(bind: role)"
        )
        try await asAdmin("DROP ROLE IF EXISTS \(unsafeRaw: role)")
        await admin.shutdown()
    }

    /// Reads from `store`, expecting the refusal of a request that got no connection in time; how long it took.
    func expectRefusedAsUnavailable(
        _ store: SQLStore,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> Duration {
        let started = ContinuousClock.now
        do {
            _ = try await store.count(.groups, query: Query(), scope: .everything)
            Issue.record("the request was served", sourceLocation: sourceLocation)
        } catch let error as ProctorError {
            #expect(error.code == .unavailable, "\(error)", sourceLocation: sourceLocation)
            #expect(
                error.message.contains("no PostgreSQL connection could be had in time"),
                "\(error.message)",
                sourceLocation: sourceLocation
            )
        } catch {
            Issue.record(error, sourceLocation: sourceLocation)
        }
        return ContinuousClock.now - started
    }
}
