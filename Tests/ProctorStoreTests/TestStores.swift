import Foundation
import Logging
import ProctorCore
import ProctorStore
import ProctorStoreWriting
import ProctorTestSupport
import Testing

/// The stores every contract test runs against (shared with the API tests).
typealias Backend = TestBackend

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
