import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import ProctorCore
import SQLKit
import SQLiteKit
import Synchronization

/// Schema migrations, planner statistics and health.
extension SQLStore {
    // MARK: Migrations

    public func migrate() async throws -> [Int] {
        let applied = try await inTransaction { db -> [Int] in
            if flavor == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(7152024)").run()
            }
            return try await applyMigrations(db, upTo: Catalog.version)
        }
        try await refreshStatistics()
        return applied
    }

    /// Applies the migrations up to `version` only (tests of a later version's migration).
    func migrate(upTo version: Int) async throws {
        _ = try await inTransaction { db in try await applyMigrations(db, upTo: version) }
    }

    func applyMigrations(_ db: any SQLDatabase, upTo target: Int) async throws -> [Int] {
        try await db.raw(
            "CREATE TABLE IF NOT EXISTS proctor_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        ).run()
        let current = try await currentVersion(db)
        guard current < target else { return [] }
        var applied: [Int] = []
        for version in (current + 1)...target {
            for statement in Migrations.statements(for: version, flavor: flavor) {
                try await db.raw(SQLQueryString(statement)).run()
            }
            try await db.raw(
                "INSERT INTO proctor_migrations (version, applied_at) VALUES (\(bind: version), \(bind: Timestamp.now()))"
            ).run()
            applied.append(version)
        }
        return applied
    }

    /// Gives SQLite's planner fresh statistics: `PRAGMA optimize=0x10002` runs ANALYZE (bounded by
    /// `analysis_limit`) on the tables whose statistics are missing or stale. Without them the planner prefers
    /// an index that serves the sort (`run_events (group_id, created_at)` for a run's events newest first) to
    /// the selective one (`run_id`). Done after migrations, and at most hourly after writes, since a new
    /// store's tables start empty. PostgreSQL's autovacuum keeps its own statistics: nothing to do there.
    /// (The writer session runs the ANALYZE itself, so it sees the statistics at once.)
    public func refreshStatistics() async throws {
        guard flavor == .sqlite else { return }
        try await mapErrors {
            try await writers.withSession { db in
                try await db.raw("PRAGMA analysis_limit = 1000").run()
                try await db.raw("PRAGMA optimize = 0x10002").run()
            }
        }
        // Open connections keep the statistics they loaded: readers are reopened to see the new ones.
        await readers.renew()
    }

    /// Refreshes the statistics in the background when an hour has passed since the last time.
    func refreshStatisticsWhenDue() {
        guard flavor == .sqlite, statistics.claim() else { return }
        Task { [self] in
            do { try await refreshStatistics() } catch { logger.warning("refreshing SQLite statistics: \(error)") }
        }
    }

    func currentVersion(_ db: any SQLDatabase) async throws -> Int {
        let row = try await db.raw("SELECT MAX(version) AS v FROM proctor_migrations").first()
        guard let row, !(try row.decodeNil(column: "v")) else { return 0 }
        return try row.decode(column: "v", as: Int.self)
    }

    public func health() async -> StoreHealth {
        do {
            let version = try await read { db in
                try await db.raw("SELECT 1 AS one").run()
                return try await currentVersion(db)
            }
            return StoreHealth(
                ok: version == Catalog.version,
                backend: flavor.rawValue,
                schemaVersion: version,
                message: nil
            )
        } catch {
            return StoreHealth(ok: false, backend: flavor.rawValue, schemaVersion: 0, message: describe(error))
        }
    }
}
