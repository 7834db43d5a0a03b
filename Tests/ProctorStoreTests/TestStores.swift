import Foundation
import Logging
import ProctorCore
import ProctorStore
import Testing

/// The stores every contract test runs against: SQLite always, PostgreSQL when the test command started one.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// SQLite always; PostgreSQL when `PROCTOR_TEST_POSTGRES_URL` is set. `scripts/test` always sets it
    /// (and `PROCTOR_TEST_REQUIRE_POSTGRES=1`), so in CI the PostgreSQL cases never silently skip.
    static var available: [Backend] {
        let environment = ProcessInfo.processInfo.environment
        if environment["PROCTOR_TEST_POSTGRES_URL"] != nil || environment["PROCTOR_TEST_REQUIRE_POSTGRES"] == "1" {
            return [.sqlite, .postgres]
        }
        return [.sqlite]
    }

    /// A fresh, migrated, empty store of this backend.
    func makeStore() async throws -> SQLStore {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proctor-test-\(UUID().uuidString)")
            let store = try await SQLStore.sqlite(path: directory.appendingPathComponent("proctor.sqlite").path, logger: logger)
            _ = try await store.migrate()
            return store
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"] else {
                Issue.record("PROCTOR_TEST_REQUIRE_POSTGRES is set but PROCTOR_TEST_POSTGRES_URL is not")
                throw CancellationError()
            }
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let store = try await SQLStore.postgres(url: url, connections: 4, schema: schema, logger: logger)
            do {
                _ = try await store.migrate()
            } catch {
                await store.shutdown()
                throw error
            }
            return store
        }
    }
}

/// Runs `body` with a fresh store and shuts it down afterwards.
func withStore(_ backend: Backend, _ body: (SQLStore) async throws -> Void) async throws {
    let store = try await backend.makeStore()
    do {
        try await body(store)
    } catch {
        await store.shutdown()
        throw error
    }
    await store.shutdown()
}

/// A group to own test rows.
func makeGroup(_ store: some Store, _ name: String = "g") async throws -> Record {
    try await store.insert(Record(.groups, ["name": .string(name)]))
}
