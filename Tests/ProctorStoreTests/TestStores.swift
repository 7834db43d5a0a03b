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

/// Runs named a, b, c… in a new group, the i-th with `counts[i]` events (comment `"<name>" <index>`), for the tests of
/// what a page of parents owns: the runs, and each run's event ids in order.
func makeRunsWithEvents(_ store: SQLStore, counts: [Int]) async throws -> (runs: [Record], events: [String: [String]]) {
    let group = try await makeGroup(store)
    var runs: [Record] = []
    var events: [String: [String]] = [:]
    for (position, count) in counts.enumerated() {
        let name = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(position)))
        let run = try await store.insert(
            Record(.runs, ["group_id": .string(group.id), "name": .string(name), "executor": .string("client")])
        )
        runs.append(run)
        for index in 0..<count {
            let event = try await store.insert(
                Record(
                    .runEvents,
                    [
                        "group_id": .string(group.id), "run_id": .string(run.id), "status": .string("running"),
                        "comment": .string("\"\(name)\" \(index)"),
                    ]
                )
            )
            events[run.id, default: []].append(event.id)
        }
    }
    return (runs, events)
}
