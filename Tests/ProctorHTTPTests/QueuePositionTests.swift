import Foundation
import ProctorCore
import ProctorHTTP
import ProctorStore
import Testing

/// "Why does my run wait": a run only waiting its turn is told its place in the queue, counted as the claim takes
/// runs (higher priority first, then older), without the runs a cancel ended.
@Suite struct QueuePositionTests {
    @Test func aWaitingRunIsToldItsPlaceInTheQueue() async throws {
        let app = try await TestApp.make()
        let services = app.configuration.runServices(store: app.store)
        let group = try #require(try await app.store.first(Group.self, matching: [.name: .string("default")]))
        func queue(_ name: String, priority: Int64 = 4) async throws -> Run {
            try await services.lifecycle.createExecuted(
                Run([.name: .string(name), .harness: .string("shell"), .priority: .int(priority)]),
                groupID: group.id,
                comment: "launched"
            )
        }
        let first = try await queue("first")
        let second = try await queue("second")
        let third = try await queue("third")
        let waits = RunWaits(store: app.store, localExecutorSlots: 1)
        var why = try await waits.explain([first, second, third], scope: .everything)
        #expect(why[first.id]?.reason == .queued(ahead: 0))
        #expect(why[second.id]?.reason == .queued(ahead: 1))
        #expect(why[third.id]?.reason == .queued(ahead: 2))
        #expect(why[third.id]?.sentence == "It is number 3 in the queue: 2 waiting runs come first.")

        // A more urgent run queued later goes first; a canceled run leaves the queue.
        let urgent = try await queue("urgent", priority: 9)
        let admin = Principal(kind: .user, id: "admin", name: "admin", isSiteAdmin: true, memberships: [])
        _ = try await services.lifecycle.cancel(runID: first.id, principal: admin, scope: .everything)
        why = try await waits.explain(
            try await [first, second, third, urgent].asyncMap { try await app.store.require(Run.self, id: $0.id) },
            scope: .everything
        )
        #expect(why[urgent.id]?.reason == .queued(ahead: 0))
        #expect(why[second.id]?.reason == .queued(ahead: 1))
        #expect(why[third.id]?.reason == .queued(ahead: 2))
        #expect(why[first.id] == nil)  // canceled while queued: killed at once, no longer waiting
        await app.store.shutdown()
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
