import Foundation
import Logging
import ProctorStore

/// The stores the store and API tests run on: SQLite always, PostgreSQL when the test command started one.
///
/// `scripts/test` always sets `PROCTOR_TEST_POSTGRES_URL` and `PROCTOR_TEST_REQUIRE_POSTGRES=1`, so in CI the
/// PostgreSQL cases never silently skip: without a URL they fail.
public enum TestBackend: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    case postgres

    public var description: String { rawValue }

    public static var available: [TestBackend] {
        let environment = ProcessInfo.processInfo.environment
        if environment["PROCTOR_TEST_POSTGRES_URL"] != nil || environment["PROCTOR_TEST_REQUIRE_POSTGRES"] == "1" {
            return [.sqlite, .postgres]
        }
        return [.sqlite]
    }

    public struct MissingPostgres: Error, CustomStringConvertible {
        public var description: String { "PROCTOR_TEST_REQUIRE_POSTGRES is set but PROCTOR_TEST_POSTGRES_URL is not" }
    }

    /// A fresh, migrated (unless `migrated` is false), empty store of this backend (SQLite in `directory`, or a
    /// new temporary one; PostgreSQL in a schema of its own).
    /// `postgresConnections` and `postgresWait` size PostgreSQL's pool; tests wait a minute for a connection (not
    /// `serve`'s 10 s) because the suite's parallel tests share one server on a busy machine.
    public func makeStore(
        directory: URL? = nil,
        logger: Logger? = nil,
        migrated: Bool = true,
        postgresConnections: Int = 4,
        postgresWait: Duration = .seconds(60),
        postgresSchema: String? = nil
    ) async throws -> SQLStore {
        let logger =
            logger
            ?? {
                var quiet = Logger(label: "test")
                quiet.logLevel = .critical
                return quiet
            }()
        let store: SQLStore
        switch self {
        case .sqlite:
            let directory =
                directory
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("proctor-test-\(UUID().uuidString)")
            store = try await SQLStore.sqlite(
                path: directory.appendingPathComponent("proctor.sqlite").path,
                logger: logger
            )
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"] else {
                throw MissingPostgres()
            }
            let schema = postgresSchema ?? Self.newPostgresSchema()
            store = try await SQLStore.postgres(
                url: url,
                connections: postgresConnections,
                leaseTimeout: postgresWait,
                schema: schema,
                logger: logger
            )
        }
        do {
            if migrated { _ = try await store.migrate() }
        } catch {
            await store.shutdown()
            throw error
        }
        return store
    }

    /// A fresh schema name for a PostgreSQL test store (`makeStore(postgresSchema:)` opens a second store on it).
    public static func newPostgresSchema() -> String {
        "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }
}
