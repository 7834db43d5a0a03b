import Foundation
import Logging
import ProctorCore
import ProctorTestSupport
import SQLKit
import Testing

@testable import ProctorStore

/// A private PostgreSQL schema (`SQLStore.postgres(schema:)`, what tests and benchmarks share a server by) can be
/// dropped with everything in it once its store is shut down.
@Suite struct PostgresSchemaTests {
    @Test func aDroppedSchemaIsGoneWithItsTables() async throws {
        guard TestBackend.available.contains(.postgres) else { return }
        let url = try #require(ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"])
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let schema = TestBackend.newPostgresSchema()
        let dropped = try await TestBackend.postgres.makeStore(postgresSchema: schema)
        _ = try await dropped.insert(Record(.groups, ["name": .string("kept until dropped")]))
        await dropped.shutdown()
        let observer = try await TestBackend.postgres.makeStore()
        func exists(_ name: String) async throws -> Bool {
            let statement: SQLQueryString = "SELECT COUNT(*) AS n FROM pg_namespace WHERE nspname = \(bind: name)"
            return try await observer.read { db in
                try await db.raw(statement).first()?.decode(column: "n", as: Int.self)
            }
                == 1
        }
        #expect(try await exists(schema))

        try await SQLStore.dropPostgresSchema(schema, url: url, logger: quiet)
        #expect(try await exists(schema) == false)
        // Dropping it again is not an error; a name that is not a schema name is refused before any statement.
        try await SQLStore.dropPostgresSchema(schema, url: url, logger: quiet)
        await #expect(throws: ProctorError.self) {
            try await SQLStore.dropPostgresSchema("public; DROP TABLE x", url: url, logger: quiet)
        }
        await observer.shutdown()
    }
}
