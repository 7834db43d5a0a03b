import ProctorStoreWriting

/// The rows a page of rows refers to or owns, read with one query per relation instead of one per row: a DCI job
/// list with `embed=` asks for the topic, remote CI, team, components, jobstates and files of fifty jobs.
public struct RelatedRows: Sendable {
    public let store: any StoreReader

    public init(store: any StoreReader) {
        self.store = store
    }

    /// How many ids one `IN (…)` carries, well under SQLite's and PostgreSQL's limits on bound values.
    static let idsPerQuery = 500
    /// Up to this many ids are read one by one rather than with `IN (…)`.
    static let pointReadsAtMost = 4

    /// The rows of `kind` with these ids, by id; ids of no row are left out.
    public func byID(_ kind: ResourceKind, _ ids: some Sequence<String>, scope: Scope = .everything) async throws
        -> [String: Record]
    {
        let unique = Array(Set(ids))
        var rows: [String: Record] = [:]
        rows.reserveCapacity(unique.count)
        if unique.count <= Self.pointReadsAtMost {
            // A few ids (a page's one topic, one team) read faster one by one: SQLite reads a row by id inline.
            for id in unique { rows[id] = try await store.get(kind, id: id, scope: scope) }
            return rows
        }
        for start in stride(from: 0, to: unique.count, by: Self.idsPerQuery) {
            let chunk = Array(unique[start..<min(unique.count, start + Self.idsPerQuery)])
            let page = try await store.list(
                kind,
                query: Query(filter: .predicate(Condition("id", .in, chunk)), limit: chunk.count),
                scope: scope
            )
            for row in page.items { rows[row.id] = row }
        }
        return rows
    }

    /// The rows of `kind` whose `field` names one of `parents`, grouped by that parent, each group in `sort`
    /// order and cut at `perParent` rows; `filter` narrows them further. Pages through the store's keyset
    /// cursor, so a page's size limit never drops a parent's rows silently. `leaving` names fields the caller
    /// does not read, left out of the query (fewer columns decoded per row).
    public func children(
        _ kind: ResourceKind,
        field: String,
        parents: [String],
        filter: Filter? = nil,
        sort: [SortKey],
        perParent: Int,
        leaving excluded: [String] = [],
        scope: Scope = .everything
    ) async throws -> [String: [Record]] {
        let unique = Array(Set(parents))
        guard kind.schema.position(of: field) != nil else {
            throw ProctorError.unknownField(field, valid: kind.schema.filterableNames)
        }
        let parentSlot = FieldSlot(kind, field)
        var groups: [String: [Record]] = [:]
        for start in stride(from: 0, to: unique.count, by: Self.idsPerQuery) {
            let chunk = Array(unique[start..<min(unique.count, start + Self.idsPerQuery)])
            var condition: Filter = .predicate(Condition(field, .in, chunk))
            if let filter { condition = condition && filter }
            var cursor: String?
            repeat {
                let page = try await store.list(
                    kind,
                    query: Query(
                        filter: condition,
                        sort: [SortKey(field)] + sort,
                        limit: 1000,
                        cursor: cursor,
                        excludedFields: excluded
                    ),
                    scope: scope
                )
                for row in page.items {
                    guard let parent = row[parentSlot].stringValue else { continue }
                    groups[parent, default: []].appendUnlessFull(row, limit: perParent)
                }
                cursor = page.nextCursor
            } while cursor != nil
        }
        return groups
    }
}

extension Array {
    /// Appends `element` unless the array already holds `limit` elements.
    fileprivate mutating func appendUnlessFull(_ element: Element, limit: Int) {
        if count < limit { append(element) }
    }
}
