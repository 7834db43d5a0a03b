import ProctorStoreWriting

/// Questions the store's SQL does not answer directly, planned once for every door: all rows of a query past the
/// store's page size, the distinct values of a label, and an order over labels (KernelCI's `sort=kernel`).
///
/// Each picks its plan by how many rows match: a narrow question (a tree over a few days) is answered from its
/// few rows, which the label and time indexes find at once; a broad one by the store's DISTINCT, or refused.
public struct RowScans: Sendable {
    public let store: any StoreReader

    public init(store: any StoreReader) {
        self.store = store
    }

    /// One key of an order computed in memory: a stored column, or a label (a missing label sorts first, as a
    /// null does in MongoDB).
    public enum SortKey: Equatable, Sendable {
        case column(ProctorCore.SortKey)
        case label(String, descending: Bool)
    }

    /// More rows match than an in-memory order may scan.
    public struct TooManyToSort: Error, Sendable {
        public let matches: Int
        public let limit: Int
    }

    /// Up to `maximum` rows of a query, following the store's keyset cursor past its page size; `onFirstPage`
    /// sees the first page (and its total, when the query asked for one).
    public func collect(
        _ kind: ResourceKind,
        _ query: Query,
        upTo maximum: Int,
        scope: Scope,
        onFirstPage: (Page) -> Void = { _ in }
    ) async throws -> [Record] {
        var query = query
        var items: [Record] = []
        var isFirst = true
        while items.count < maximum {
            query.limit = maximum - items.count
            let page = try await store.list(kind, query: query, scope: scope)
            if isFirst { onFirstPage(page) }
            isFirst = false
            query.includeTotal = false
            items += page.items
            guard let next = page.nextCursor, !page.items.isEmpty else { break }
            query.cursor = next
        }
        return items
    }

    /// The distinct values of label `name` among the rows of `query`: read from the matching rows when at most
    /// `scanAtMost` match, else by the store's DISTINCT over the label.
    public func distinctLabel(_ kind: ResourceKind, _ name: String, query: Query, scanAtMost: Int, scope: Scope)
        async throws -> Set<String>
    {
        let matches = try await store.count(kind, query: query, scope: scope)
        if matches <= scanAtMost {
            var narrow = query
            narrow.fields = ["labels"]
            let rows = try await collect(kind, narrow, upTo: matches, scope: scope)
            return Set(rows.compactMap { $0["labels"].jsonValue?[name]?.stringValue })
        }
        let values = try await store.distinct(kind, field: "labels.\(name)", query: query, scope: scope)
        return Set(values.compactMap(\.stringValue))
    }

    /// The rows of `query` in the order of `keys`, computed in memory, then `skip` and `limit` applied; with the
    /// number of rows that match. Throws ``TooManyToSort`` when more than `scanAtMost` match.
    public func sorted(
        _ kind: ResourceKind,
        _ query: Query,
        by keys: [SortKey],
        skip: Int,
        limit: Int,
        scanAtMost: Int,
        scope: Scope
    ) async throws -> (items: [Record], total: Int) {
        let total = try await store.count(kind, query: query, scope: scope)
        guard total <= scanAtMost else { throw TooManyToSort(matches: total, limit: scanAtMost) }
        let all = try await collect(kind, query, upTo: scanAtMost, scope: scope)
        let sorted = all.sorted { Self.ordered($0, $1, by: keys) }
        return (Array(sorted.dropFirst(skip).prefix(limit)), total)
    }

    /// The order of ``sorted(_:_:by:skip:limit:scanAtMost:scope:)``: a missing value before any value, ties
    /// broken by `seq` in the direction of the last key.
    public static func ordered(_ lhs: Record, _ rhs: Record, by keys: [SortKey]) -> Bool {
        for key in keys {
            let descending: Bool
            let comparison: Int
            switch key {
            case .label(let name, let desc):
                descending = desc
                comparison = compare(label(lhs, name), label(rhs, name))
            case .column(let column):
                descending = column.descending
                comparison = compare(lhs[column.field], rhs[column.field])
            }
            if comparison != 0 { return descending ? comparison > 0 : comparison < 0 }
        }
        let descending: Bool
        switch keys.last {
        case .label(_, let desc)?: descending = desc
        case .column(let column)?: descending = column.descending
        case nil: descending = true
        }
        return descending ? lhs.seq > rhs.seq : lhs.seq < rhs.seq
    }

    private static func label(_ record: Record, _ name: String) -> String? {
        record["labels"].jsonValue?[name]?.stringValue
    }

    private static func compare(_ lhs: String?, _ rhs: String?) -> Int {
        switch (lhs, rhs) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case (let l?, let r?): return l == r ? 0 : (l < r ? -1 : 1)
        }
    }

    private static func compare(_ lhs: Value, _ rhs: Value) -> Int {
        if let l = lhs.intValue, let r = rhs.intValue { return l == r ? 0 : (l < r ? -1 : 1) }
        return compare(lhs.stringValue, rhs.stringValue)
    }
}
