import Foundation
import ProctorCore
import ProctorTestSupport
import Testing

@testable import ProctorStore

/// SQLite picks its indexes from statistics: without them a run's events, newest first, are read through
/// `(group_id, created_at)` (which serves the sort) instead of the selective `run_id` index.
@Suite struct StatisticsTests {
    @Test func aRunsEventsUseTheRunIndexOnceStatisticsAreRefreshed() async throws {
        try await withStore(.sqlite) { store in
            let group = try await makeGroup(store)
            var runIDs: [String] = []
            for _ in 0..<200 {
                let run = try await store.insert(Record(.runs, ["group_id": .string(group.id)]))
                runIDs.append(run.id)
                try await store.insertMany(
                    ["new", "running", "success", "failure", "error"].map {
                        Record(
                            .runEvents,
                            ["group_id": .string(group.id), "run_id": .string(run.id), "status": .string($0)]
                        )
                    }
                )
            }
            let query = Query(
                filter: .equal("run_id", runIDs[10]),
                sort: [SortKey("created_at", descending: true)],
                limit: 20
            )
            let before = try await store.queryPlan(.runEvents, query: query, scope: .groups([group.id]))
            #expect(before.contains { $0.contains("ix_run_events_group_id_created_at") })
            try await store.refreshStatistics()
            let after = try await store.queryPlan(.runEvents, query: query, scope: .groups([group.id]))
            #expect(after.contains { $0.contains("ix_run_events_run_id_seq") }, "\(after)")
        }
    }
}
