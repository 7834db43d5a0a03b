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
    public func byID(_ kind: ResourceKind, _ ids: [String], scope: Scope = .everything) async throws
        -> [String: Record]
    {
        let unique = Self.unique(ids)
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

    /// The ids without the repeats that come one after another: a page's rows mostly name the same topic or team
    /// in a row, found again with a comparison instead of a hash.
    static func withoutRepeats(_ ids: [String]) -> [String] {
        var kept: [String] = []
        kept.reserveCapacity(ids.count)
        for id in ids where id != kept.last { kept.append(id) }
        return kept
    }

    /// The distinct ids (a few may be read one by one, none twice).
    static func unique(_ ids: [String]) -> [String] {
        Array(Set(withoutRepeats(ids)))
    }

    /// The conditions that read the rows whose `field` names one of `parents` (each parent once), ``idsPerQuery``
    /// parents to a query, with `filter`; a field the kind does not have is the query's 400.
    static func parentConditions(_ kind: ResourceKind, field: String, parents: [String], filter: Filter?) throws
        -> [Filter]
    {
        guard kind.schema.position(of: field) != nil else {
            throw ProctorError.unknownField(field, valid: kind.schema.filterableNames)
        }
        let unique = Self.unique(parents)
        return stride(from: 0, to: unique.count, by: idsPerQuery).map { start in
            let chunk = Array(unique[start..<min(unique.count, start + idsPerQuery)])
            let condition: Filter = .predicate(Condition(field, .in, chunk))
            return filter.map { condition && $0 } ?? condition
        }
    }
}

extension RelatedRows {
    /// The rows of `kind` whose `field` names one of `parents`, each parent's rows written as one JSON array, in
    /// `sort` order and cut at `perParent` rows; `filter` narrows them further. Every row is written by `write` from
    /// the stored row in place (``ScannedRow``, columns in the order of `fields`), so that no record is made per
    /// row. Parents without rows are absent.
    public func encodedChildren(
        _ kind: ResourceKind,
        field: String,
        parents: [String],
        filter: Filter? = nil,
        sort: [SortKey],
        perParent: Int,
        fields: [String],
        scope: Scope = .everything,
        write: @escaping @Sendable (any ScannedRow, inout [UInt8]) -> Void
    ) async throws -> [String: [UInt8]] {
        // The parent's column: one the writer reads, or one more after them.
        let parentColumn = fields.firstIndex(of: field) ?? fields.count
        let scanned = parentColumn < fields.count ? fields : fields + [field]
        var groups: [String: [UInt8]] = [:]
        for condition in try Self.parentConditions(kind, field: field, parents: parents, filter: filter) {
            // Sorted by parent first, so that each parent's rows come in one run.
            let grouped = try await store.scan(
                kind,
                fields: scanned,
                query: Query(filter: condition, sort: [SortKey(field)] + sort),
                scope: scope,
                into: ChildGroups(parents: min(parents.count, Self.idsPerQuery))
            ) { groups, row in
                groups.add(row, parentColumn: parentColumn, perParent: perParent, write: write)
            }
            if groups.isEmpty {
                groups = grouped.finished()
            } else {
                groups.merge(grouped.finished()) { first, _ in first }
            }
        }
        return groups
    }
}

/// The JSON arrays of ``RelatedRows/encodedChildren(_:field:parents:filter:sort:perParent:fields:scope:write:)``
/// as its scan builds them: the array of the parent whose rows are coming, and those already closed.
private struct ChildGroups: Sendable {
    var closed: [String: [UInt8]]
    var parent: String?
    var parentBytes: [UInt8] = []
    var array: [UInt8] = []
    var count = 0

    init(parents: Int) {
        closed = Dictionary(minimumCapacity: parents)
    }

    mutating func add(
        _ row: any ScannedRow,
        parentColumn: Int,
        perParent: Int,
        write: (any ScannedRow, inout [UInt8]) -> Void
    ) {
        if parent == nil || !row.textEquals(parentColumn, parentBytes) {
            close()
            guard let id = row.string(parentColumn) else { return }
            parent = id
            parentBytes = Array(id.utf8)
            array = [UInt8(ascii: "[")]
            array.reserveCapacity(1024)
            count = 0
        }
        guard count < perParent else { return }
        if count > 0 { array.append(UInt8(ascii: ",")) }
        write(row, &array)
        count += 1
    }

    private mutating func close() {
        guard let parent else { return }
        array.append(UInt8(ascii: "]"))
        closed[parent] = array
        self.parent = nil
    }

    func finished() -> [String: [UInt8]] {
        var groups = self
        groups.close()
        return groups.closed
    }
}
