import Foundation
import ProctorCore
import ProctorTestSupport
import Testing

@testable import ProctorStore

/// Pages asked by offset that start from a keyset anchor (``PageAnchors``) hold exactly the rows the offset
/// names: the same as slices of the whole listing, whatever the order, with ties in the sort key, NULLs, a filter
/// and a scope; and a write drops the anchors, so a page read after it is the new truth.
@Suite struct OffsetAnchorTests {
    /// 120 runs over 7 creation times (ties everywhere), statuses, some finished (a nullable sort key), in two
    /// groups, in an order unrelated to their seqs.
    static func tiedRuns() -> [Record] {
        let statuses = ["success", "failure", "error"]
        return (0..<120).map { index in
            var values: [String: Value] = [
                "id": .string(String(format: "tie-%03d", (index * 37) % 120)),
                "group_id": .string(index % 3 == 0 ? "grp-b" : "grp-a"),
                "status": .string(statuses[(index / 5) % 3]), "created_at": .timestamp(sampleTime((index * 11) % 7)),
                "labels": .json(.object(["branch": .string(index % 4 == 0 ? "stable" : "main")])),
            ]
            if index % 4 != 1 { values["finished_at"] = .timestamp(sampleTime(index % 5)) }
            return Record(.runs, values)
        }
    }

    static let queries: [(Query, Scope)] = [
        (Query(), .everything),
        (Query(sort: [SortKey("created_at")]), .everything),
        (Query(sort: [SortKey("status"), SortKey("created_at", descending: true)]), .everything),
        (Query(sort: [SortKey("finished_at", descending: true)]), .everything),
        (Query(sort: [SortKey("finished_at")]), .everything),
        (
            Query(
                filter: .and([.equal("status", "success"), .equal("labels.branch", "main")]),
                sort: [SortKey("created_at", descending: true)]
            ),
            .groups(["grp-a"])
        ),
    ]

    @Test(arguments: Backend.available)
    func anchoredPagesEqualTheOffsetPages(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            try await store.importRecords(.runs, Batches(Self.tiedRuns(), size: 50))
            for (base, scope) in Self.queries {
                let label = "\(base.sort) \(String(describing: base.filter))"
                var all = base
                all.limit = 1000
                let truth = try await store.list(.runs, query: all, scope: scope).items.map(\.id)
                #expect(truth.count > 10, "\(label)")
                #expect(Set(truth).count == truth.count, "\(label)")
                for size in [1, 7, 25] {
                    // A walk page by page: every page after the first starts from the anchor the one before left.
                    var walked: [String] = []
                    var offset = 0
                    while true {
                        var query = base
                        query.limit = size
                        query.offset = offset
                        // (The last full page leaves no anchor: there is no page after it.)
                        if offset > 0, offset < truth.count {
                            let plan = try store.listPlan(.runs, query: query, scope: scope)
                            #expect(plan.anchoredAt == offset - 1, "\(label), size \(size), offset \(offset)")
                        }
                        let page = try await store.list(.runs, query: query, scope: scope)
                        walked += page.items.map(\.id)
                        #expect(page.items.map(\.id) == Array(truth.dropFirst(offset).prefix(size)))
                        if page.items.count < size { break }
                        offset += size
                    }
                    #expect(walked == truth, "\(label), size \(size)")
                    // Jumps back and forth, each the offset's own slice; the same page twice starts from an anchor.
                    for jump in [truth.count / 2, 3, truth.count - 2, truth.count / 2, truth.count + 5, 1] {
                        var query = base
                        query.limit = size
                        query.offset = jump
                        let page = try await store.list(.runs, query: query, scope: scope)
                        #expect(
                            page.items.map(\.id) == Array(truth.dropFirst(jump).prefix(size)),
                            "\(label), size \(size), jump to \(jump)"
                        )
                    }
                }
            }
        }
    }

    @Test(arguments: Backend.available)
    func aWriteDropsTheAnchors(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            try await store.importRecords(.runs, Batches(Self.tiedRuns(), size: 50))
            let page = Query(limit: 10, offset: 40)
            _ = try await store.list(.runs, query: Query(limit: 10, offset: 30), scope: .everything)
            #expect(try store.listPlan(.runs, query: page, scope: .everything).anchoredAt == 39)
            // A run newer than all shifts every position by one.
            var newest = Self.tiedRuns()[0]
            newest["id"] = .string("newest")
            newest["created_at"] = .timestamp(sampleTime(100))
            _ = try await store.insert(newest)
            #expect(try store.listPlan(.runs, query: page, scope: .everything).anchoredAt == nil)
            let all = try await store.list(.runs, query: Query(limit: 1000), scope: .everything).items.map(\.id)
            #expect(all.first == "newest")
            let read = try await store.list(.runs, query: page, scope: .everything).items.map(\.id)
            #expect(read == Array(all[40..<50]))
            // An update of another kind keeps them; of runs (a status, say) drops them.
            _ = try await store.list(.runs, query: Query(limit: 10, offset: 30), scope: .everything)
            _ = try await store.insert(Record(.groups, ["name": .string("other")]))
            #expect(try store.listPlan(.runs, query: page, scope: .everything).anchoredAt == 39)
            _ = try await store.update(
                .runs,
                id: "newest",
                changes: ["status": .string("error")],
                ifMatch: nil,
                scope: .everything
            )
            #expect(try store.listPlan(.runs, query: page, scope: .everything).anchoredAt == nil)
            // Inside a transaction no anchor is used or left.
            try await store.transaction { tx in
                let pinned = try #require(tx as? SQLStore)
                _ = try await pinned.list(.runs, query: Query(limit: 10, offset: 30), scope: .everything)
                #expect(try pinned.listPlan(.runs, query: page, scope: .everything).anchoredAt == nil)
            }
            #expect(try store.listPlan(.runs, query: page, scope: .everything).anchoredAt == nil)
        }
    }
}
