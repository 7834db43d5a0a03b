import ProctorCore
import ProctorStore
import ProctorTestSupport
import Testing

/// What a DCI job page embeds: the rows a page of parents owns, read in one query and grouped by parent.
@Suite struct RelatedRowsTests {
    @Test(arguments: TestBackend.available)
    func childrenAreGroupedByParentInOrderAndCutAtTheLimit(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let (runs, events) = try await makeRunsWithEvents(store, counts: [3, 1, 0])
            let related = RelatedRows(store: store)
            let groups = try await related.children(
                .runEvents,
                field: "run_id",
                parents: runs.map(\.id) + [runs[0].id],
                sort: [SortKey("seq")],
                perParent: 2
            )
            #expect(groups[runs[0].id]?.map(\.id) == Array(events[runs[0].id]!.prefix(2)))
            #expect(groups[runs[1].id]?.map(\.id) == events[runs[1].id])
            #expect(groups[runs[2].id] == nil)
            // A field the kind does not have is the caller's error, as in any query: 400, not a crash.
            await #expect(throws: ProctorError.self) {
                _ = try await related.children(.runEvents, field: "job", parents: [runs[0].id], sort: [], perParent: 1)
            }
        }
    }
}
