import Foundation
import ProctorCore
import ProctorStore

/// `proctor-bench --deep-pages`: the first page of a filtered listing against the page 100,000 rows deep asked
/// by offset, as the doors ask it (DCI's `offset`, KernelCI's `skip`, XPRESSO's `page`), and by keyset cursor.
enum DeepPageBench {
    static func measure(_ store: SQLStore, seeded: Seeder.Result, repeats: Int) async throws {
        let filter = Filter.and([
            .equal("group_id", seeded.bigGroup), .equal("status", "success"), .equal("labels.branch", "main"),
        ])
        let scope = Scope.groups([seeded.bigGroup])
        let first = Query(filter: filter, sort: [SortKey("created_at", descending: true)], limit: 50)
        var deep = first
        deep.offset = 100_000
        var before = first
        before.offset = 100_000 - 50
        let matching = try await store.count(.runs, query: Query(filter: filter), scope: scope)
        print("matching runs: \(matching) (group + status + label, newest first, pages of 50)")
        guard matching > 100_050 else {
            print("fewer than 100,050 runs match: seed more (--runs 400000 or more)")
            return
        }
        let cursor = try await store.list(
            .runs,
            query: Query(filter: filter, sort: first.sort, limit: 1, offset: 99_999),
            scope: scope
        ).nextCursor
        var keyset = first
        keyset.cursor = cursor
        let expected = try await store.list(.runs, query: keyset, scope: scope).items.map(\.id)
        let cold = max(5, repeats / 20)
        try await ProctorBench.time("first page", times: repeats) {
            try await store.list(.runs, query: first, scope: scope).items.count
        }
        try await ProctorBench.time("offset 100,000, no anchor (as before #19)", times: cold) {
            store.forgetPageAnchors()
            return try await check(store.list(.runs, query: deep, scope: scope), expected)
        }
        // A client walking the pages: the page before was read just before; only the deep page is timed.
        var walking: [Double] = []
        for _ in 0..<cold {
            store.forgetPageAnchors()
            _ = try await store.list(.runs, query: before, scope: scope)
            let start = ContinuousClock.now
            _ = try await check(store.list(.runs, query: deep, scope: scope), expected)
            walking.append(ProctorBench.milliseconds(ContinuousClock.now - start))
        }
        walking.sort()
        print(
            String(
                format: "%-52@ p50 %7.2f ms  p99 %7.2f ms  (50 rows, %d runs)",
                "offset 100,000 after offset 99,950 was read" as NSString,
                walking[walking.count / 2],
                walking[min(walking.count - 1, Int(Double(walking.count) * 0.99))],
                cold
            )
        )
        try await ProctorBench.time("offset 100,000 again (anchored)", times: repeats) {
            try await check(store.list(.runs, query: deep, scope: scope), expected)
        }
        try await ProctorBench.time("keyset cursor 100,000 deep", times: repeats) {
            try await check(store.list(.runs, query: keyset, scope: scope), expected)
        }
    }

    /// The page's row count, after checking it holds the expected rows.
    static func check(_ page: Page, _ expected: [String]) throws -> Int {
        guard page.items.map(\.id) == expected else {
            throw ProctorError(.internal, "the deep page differs from the keyset page")
        }
        return page.items.count
    }
}
