import Foundation
import Logging
import ProctorCore
import ProctorHTTPKit
import ProctorStore

/// A throwaway SQLite store for the in-process benchmarks: a fresh temporary directory, migrated, bootstrapped with
/// an admin token, and the configuration of an application over it. ``remove()`` deletes the directory.
struct BenchStore {
    let directory: URL
    let store: SQLStore
    let token: String
    let logger: Logger

    static func open(_ name: String, token: String) async throws -> BenchStore {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "proctor-bench-\(name)-\(UUID().uuidString)"
        )
        let store = try await SQLStore.sqlite(
            path: directory.appendingPathComponent("bench.sqlite").path,
            logger: logger
        )
        _ = try await store.migrate()
        _ = try await Bootstrap.run(store: store, adminToken: token)
        return BenchStore(directory: directory, store: store, token: token, logger: logger)
    }

    /// The group the bootstrap made, which seeded rows belong to.
    func defaultGroup() async throws -> Record {
        guard let group = try await store.first(.groups, matching: ["name": .string(Bootstrap.defaultGroup)]) else {
            throw ProctorError(.internal, "no default group")
        }
        return group
    }

    /// An application configuration over this store's directory, with the bootstrap token as admin token.
    var configuration: AppConfiguration {
        AppConfiguration(host: "127.0.0.1", port: 0, dataDirectory: directory.path, adminToken: token)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
