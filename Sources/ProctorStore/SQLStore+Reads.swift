import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import ProctorCore
import SQLKit
import SQLiteKit
import Synchronization

/// Reads: one row, the first match, pages, counts and distinct values.
extension SQLStore {
    // MARK: Reads

    public func get(_ kind: ResourceKind, id: String, scope: Scope) async throws -> Record? {
        // Inside a transaction the pinned session must answer: it sees the transaction's own writes.
        if pinned == nil, let pointReader {
            switch pointReader.get(kind, id: id, scope: scope) {
            case .found(let record): return record
            case .missing: return nil
            case .undecided: break
            }
        }
        return try await read { db in try await fetch(db, kind, id: id, scope: scope) }
    }

    public func getJSON(_ kind: ResourceKind, id: String, scope: Scope) async throws -> (json: [UInt8], etag: String)? {
        if pinned == nil, let pointReader, let rowJSON {
            switch pointReader.json(kind, id: id, scope: scope, cache: rowJSON) {
            case .found(let row): return row
            case .missing: return nil
            case .undecided: break
            }
        }
        return try await get(kind, id: id, scope: scope).map { ($0.publicJSONBytes(), $0.etag) }
    }

    func fetch(_ db: any SQLDatabase, _ kind: ResourceKind, id: String, scope: Scope) async throws -> Record? {
        try await first(db, kind, matching: ["id": .string(id)], scope: scope)
    }

    public func first(_ kind: ResourceKind, matching: [String: Value], scope: Scope) async throws -> Record? {
        try await read { db in try await first(db, kind, matching: matching, scope: scope) }
    }

    func first(
        _ db: any SQLDatabase,
        _ kind: ResourceKind,
        matching: [String: Value],
        scope: Scope
    ) async throws -> Record? {
        let schema = kind.schema
        let codec = RowCodec(flavor: flavor, schema: schema)
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        var statement: SQLQueryString = "\(unsafeRaw: KindSQL.of(kind).selectAll) WHERE 1 = 1"
        for (name, value) in matching.sorted(by: { $0.key < $1.key }) {
            guard schema.field(name) != nil else {
                throw ProctorError.unknownField(name, valid: schema.fields.map(\.name))
            }
            if value.isNull {
                statement += " AND \(unsafeRaw: quoted(name)) IS NULL"
            } else {
                statement += " AND \(unsafeRaw: quoted(name)) = \(bind: try compiler.encodable(value))"
            }
        }
        if let scopeClause = try compiler.whereClause(Query(), scope: scope) { statement += " AND " + scopeClause }
        return try await records(db, statement + " LIMIT 1", kind: kind, fields: schema.fields, codec: codec).first
    }

    /// The rows of a SELECT of exactly `fields`, decoded: by position on SQLite, by name through SQLKit on PostgreSQL.
    func records(
        _ db: any SQLDatabase,
        _ statement: SQLQueryString,
        kind: ResourceKind,
        fields: [FieldSpec],
        codec: RowCodec
    ) async throws -> [Record] {
        if let session = db as? SQLiteSession {
            return try await session.records(statement, kind: kind, fields: fields)
        }
        return try await db.raw(statement).all().map { try codec.decode($0, fields: fields) }
    }

    public func list(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Page {
        let plan = try listPlan(kind, query: query, scope: scope)
        let codec = RowCodec(flavor: flavor, schema: kind.schema)
        return try await read { db in
            let rows = try await records(db, plan.statement, kind: kind, fields: plan.columns, codec: codec)
            var cut = PageCut(plan)
            var items: [Record] = []
            for row in rows {
                guard let place = cut.next() else { continue }
                if place == .item { items.append(row) }
                if cut.needsKeys(place) { cut.keep(place, plan.keys.map { row[$0.field] }) }
            }
            let next = cut.finish(plan, query: query, kind: kind, anchors: anchors)
            if let fields = query.fields, !fields.isEmpty {
                let keep = Set(fields + ["id"])
                items = items.map { $0.keeping(keep) }
            }
            let total = query.includeTotal ? try await count(db, kind, query: query, scope: scope) : nil
            return Page(items: items, total: total, nextCursor: next, limit: plan.limit)
        }
    }

    public func listJSON(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> JSONPage {
        if let rowJSON, query.fields?.isEmpty ?? true, query.excludedFields.isEmpty {
            return try await cachedListJSON(kind, query: query, scope: scope, cache: rowJSON)
        }
        return try await read { db in try await writtenListJSON(db, kind, query: query, scope: scope) }
    }

    /// A page written row by row as its statement reads them.
    func writtenListJSON(_ db: any SQLDatabase, _ kind: ResourceKind, query: Query, scope: Scope) async throws
        -> JSONPage
    {
        let plan = try listPlan(kind, query: query, scope: scope)
        let layout = PublicJSONLayout(
            kind,
            columns: plan.columns,
            keeping: query.fields.flatMap { $0.isEmpty ? nil : Set($0 + ["id"]) }
        )
        let limit = plan.limit
        var (cut, out) = try await scanPage(db, kind, plan: plan, into: [UInt8(ascii: "[")]) { out, row, index in
            if index > 0 { out.append(UInt8(ascii: ",")) }
            layout.write(row, into: &out)
            // Room for the page, guessed from its first row, so that it is not copied as it grows.
            if index == 0 { out.reserveCapacity(out.count * (limit + 1)) }
        }
        out.append(UInt8(ascii: "]"))
        return try await finishedPage(db, kind, query: query, scope: scope, plan: plan, cut: cut, items: out)
    }

    /// A page of every public field, its rows' JSON taken from ``RowJSONCache`` where a row is as it was when
    /// written: its statement reads only each row's id, etag and sort values, and the rows missing from the cache
    /// (or changed since) are read in full, by id, in one statement, written and kept. Should one of those have
    /// changed or gone between the two statements, the page is read again in one (``writtenListJSON``).
    func cachedListJSON(_ kind: ResourceKind, query: Query, scope: Scope, cache: RowJSONCache) async throws
        -> JSONPage
    {
        let plan = try listPlan(kind, query: query, scope: scope, readingOnlyKeys: true)
        struct Found: Sendable {
            /// Each item's JSON; empty for a miss until it is written.
            var items: [[UInt8]] = []
            var misses: [(index: Int, id: String, etag: String)] = []
        }
        return try await read { db in
            var (cut, found) = try await scanPage(db, kind, plan: plan, into: Found()) { found, row, index in
                // Columns 0 and 1 are the id and the etag (``listPlan``'s `readingOnlyKeys`).
                let id = row.string(0) ?? ""
                if let entry = cache.entry(kind, id: id), row.textEquals(1, entry.etag) {
                    found.items.append(entry.json)
                } else {
                    found.misses.append((index, id, row.string(1) ?? ""))
                    found.items.append([])
                }
            }
            if !found.misses.isEmpty {
                let wanted = found.misses.map { (id: $0.id, etag: $0.etag) }
                guard let written = try await writtenRows(db, kind, wanted) else {
                    return try await writtenListJSON(db, kind, query: query, scope: scope)
                }
                for (miss, json) in zip(found.misses, written) { found.items[miss.index] = json }
                cache.keep(kind, zip(wanted, written).map { (id: $0.id, etag: $0.etag, json: $1) })
            }
            var out: [UInt8] = []
            out.reserveCapacity(found.items.reduce(2) { $0 + $1.count + 1 })
            out.append(UInt8(ascii: "["))
            for (index, item) in found.items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: item)
            }
            out.append(UInt8(ascii: "]"))
            return try await finishedPage(db, kind, query: query, scope: scope, plan: plan, cut: cut, items: out)
        }
    }

    /// The public JSON of these rows, read by id in one statement; nil when one of them is gone or no longer has
    /// the etag asked for.
    private func writtenRows(_ db: any SQLDatabase, _ kind: ResourceKind, _ rows: [(id: String, etag: String)])
        async throws -> [[UInt8]]?
    {
        let schema = kind.schema
        let sql = KindSQL.of(kind)
        // Every column in schema order, as the point reader reads a row: the kind's layout made once serves both.
        let idColumn = 0  // `id` is every schema's first field
        let etagColumn = schema.etagPosition
        // As many parameters as the next power of two (the last id repeated), so that a few statements serve every
        // count of misses and stay prepared.
        var ids = rows.map(\.id)
        var width = 1
        while width < ids.count { width *= 2 }
        ids += Array(repeating: ids[ids.count - 1], count: width - ids.count)
        var statement: SQLQueryString = "\(unsafeRaw: sql.selectAll) WHERE id IN ("
        for (index, id) in ids.enumerated() { statement += index == 0 ? "\(bind: id)" : ", \(bind: id)" }
        statement += ")"
        let read = try await scanRows(
            db,
            statement,
            kind: kind,
            columns: schema.fields,
            codec: RowCodec(flavor: flavor, schema: schema),
            into: [String: (etag: String, json: [UInt8])]()
        ) { read, row in
            var json: [UInt8] = []
            json.reserveCapacity(2048)
            sql.wholeRowLayout.write(row, into: &json)
            read[row.string(idColumn) ?? ""] = (row.string(etagColumn) ?? "", json)
        }
        var written: [[UInt8]] = []
        for row in rows {
            guard let found = read[row.id], found.etag == row.etag else { return nil }
            written.append(found.json)
        }
        return written
    }

    /// Reads a page's statement, giving each of its items to `item` with its index on the page, and returns where
    /// the rows fell (the sort values the page keeps included) with what `item` folded into `state`.
    private func scanPage<State: Sendable>(
        _ db: any SQLDatabase,
        _ kind: ResourceKind,
        plan: ListPlan,
        into state: State,
        _ item: @escaping @Sendable (inout State, any ScannedRow, Int) throws -> Void
    ) async throws -> (PageCut, State) {
        // Where each sort key sits among the columns read (a page always reads its sort keys).
        let keyColumns = try plan.keys.map { key in
            guard let column = plan.columns.firstIndex(where: { $0.name == key.field }) else {
                throw ProctorError(.internal, "a page of \(kind.rawValue) did not read its sort key \(key.field)")
            }
            return (column: column, type: plan.columns[column].type)
        }
        let scanned = try await scanRows(
            db,
            plan.statement,
            kind: kind,
            columns: plan.columns,
            codec: RowCodec(flavor: flavor, schema: kind.schema),
            into: PageScan(cut: PageCut(plan), state: state)
        ) { scan, row in
            guard let place = scan.cut.next() else { return }
            if place == .item { try item(&scan.state, row, scan.cut.items - 1) }
            if scan.cut.needsKeys(place) {
                scan.cut.keep(place, keyColumns.map { row.value($0.column, type: $0.type) })
            }
        }
        return (scanned.cut, scanned.state)
    }

    /// What ``scanPage(_:_:plan:into:_:)`` folds as it reads.
    private struct PageScan<State: Sendable>: Sendable {
        var cut: PageCut
        var state: State
    }

    /// The page around its items: its next cursor and anchors from the cut, and the total when asked.
    private func finishedPage(
        _ db: any SQLDatabase,
        _ kind: ResourceKind,
        query: Query,
        scope: Scope,
        plan: ListPlan,
        cut: PageCut,
        items: [UInt8]
    ) async throws -> JSONPage {
        let next = cut.finish(plan, query: query, kind: kind, anchors: anchors)
        let total = query.includeTotal ? try await count(db, kind, query: query, scope: scope) : nil
        return JSONPage(items: items, count: cut.items, total: total, nextCursor: next, limit: plan.limit)
    }

    /// Where each row of a page's statement goes (``ListPlan``): the row before the page (read to leave an anchor
    /// there), the page's items, or the row after them (which says there is a next page); and what the page leaves
    /// behind, its next cursor and anchors, from the sort values of the rows that need them.
    struct PageCut: Sendable {
        enum Place { case leading, item }
        private let leadingRow: Bool
        private let limit: Int
        private var rows = 0
        private(set) var items = 0
        private var hasMore = false
        private var leadingKeys: [Value]?
        private var lastKeys: [Value]?

        init(_ plan: ListPlan) {
            leadingRow = plan.leadingRow
            limit = plan.limit
        }

        /// The place of the statement's next row; nil past the page's items.
        mutating func next() -> Place? {
            rows += 1
            if leadingRow, rows == 1 { return .leading }
            guard items < limit else {
                hasMore = true
                return nil
            }
            items += 1
            return .item
        }

        /// Whether the row just placed is one whose sort values the page keeps: the leading row, and the item that
        /// is the last one when the page is full.
        func needsKeys(_ place: Place) -> Bool { place == .leading || items == limit }

        mutating func keep(_ place: Place, _ keys: [Value]) {
            if place == .leading { leadingKeys = keys } else { lastKeys = keys }
        }

        /// Leaves the page's anchors and returns its next cursor.
        func finish(_ plan: ListPlan, query: Query, kind: ResourceKind, anchors: PageAnchors) -> String? {
            let next = hasMore ? lastKeys.map { Cursor.encode(values: $0) } : nil
            if let anchoring = plan.anchoring {
                var found: [(position: Int, values: [Value])] = []
                if let leadingKeys { found.append((query.offset - 1, leadingKeys)) }
                // The page's last row, where the next page starts (when there is one).
                if hasMore, let lastKeys { found.append((query.offset + items - 1, lastKeys)) }
                anchors.record(anchoring.signature, kind: kind, generation: anchoring.generation, found)
            }
            return next
        }
    }

    /// How a page is read: the SELECT (one row more than the limit, to know whether there is a next page), and
    /// for a page asked by offset, how it uses and leaves keyset anchors (``PageAnchors``).
    struct ListPlan {
        var statement: SQLQueryString
        var columns: [FieldSpec]
        var keys: [SortKey]
        var limit: Int
        /// The statement's first row is the one before the page (at `offset - 1`): read to leave an anchor there.
        var leadingRow = false
        /// Where the page's anchors go, and the generation they were read in.
        var anchoring: (signature: String, generation: UInt64)?
        /// The position of the anchor the page starts after, when it has one.
        var anchoredAt: Int?
    }

    /// The SELECT of a page (one row more than the limit, to know whether there is a next page).
    func listStatement(_ kind: ResourceKind, query: Query, scope: Scope) throws
        -> (statement: SQLQueryString, columns: [FieldSpec], keys: [SortKey], limit: Int)
    {
        let plan = try listPlan(kind, query: query, scope: scope, anchored: false)
        return (plan.statement, plan.columns, plan.keys, plan.limit)
    }

    /// The plan of a page. A page asked by offset, outside a transaction, starts from the nearest anchor at or
    /// before it when there is one (a keyset condition, then an offset of what lies between), and reads the row
    /// before the page too, so that the same page asked again, and the page after it, start from an anchor.
    ///
    /// With `readingOnlyKeys`, the statement reads each row's id, its etag and its sort values, in that order
    /// (``cachedListJSON(_:query:scope:cache:)``).
    func listPlan(
        _ kind: ResourceKind,
        query: Query,
        scope: Scope,
        anchored: Bool = true,
        readingOnlyKeys: Bool = false
    ) throws -> ListPlan {
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let keys = try compiler.sortKeys(query)
        var columns = try compiler.columns(for: query, sortKeys: keys)
        if readingOnlyKeys {
            let names = ["id", "etag"] + keys.map(\.field).filter { $0 != "id" && $0 != "etag" }
            columns = try names.map { name in
                guard let field = schema.field(name) else {
                    throw ProctorError(.internal, "\(kind.rawValue) has no field \(name) to read")
                }
                return field
            }
        }
        let limit = min(max(query.limit ?? defaultPageSize, 0), maxPageSize)
        var conditions: [SQLQueryString] = []
        if let clause = try compiler.whereClause(query, scope: scope) { conditions.append(clause) }
        var plan = ListPlan(statement: "", columns: columns, keys: keys, limit: limit)
        var skip = 0
        var rows = limit + 1
        if let cursor = query.cursor {
            let values = try Cursor.decode(cursor, keys: keys, schema: schema)
            conditions.append(try compiler.keysetCondition(keys, after: values))
        } else if anchored, pinned == nil {
            let signature = PageAnchors.signature(kind, query: query, keys: keys, scope: scope)
            plan.anchoring = (signature, anchors.generation(kind))
            if query.offset > 0 {
                var start = 0
                if let anchor = anchors.anchor(signature, kind: kind, atOrBefore: query.offset - 1) {
                    conditions.append(try compiler.keysetCondition(keys, after: anchor.values))
                    start = anchor.position + 1
                    plan.anchoredAt = anchor.position
                }
                // Rows from `start` on; the page begins at `offset`, the row before it at `offset - 1`.
                if start < query.offset {
                    plan.leadingRow = true
                    rows += 1
                    skip = query.offset - 1 - start
                }
            }
        } else {
            skip = query.offset
        }
        var statement: SQLQueryString =
            "SELECT \(unsafeRaw: columns.map { quoted($0.name) }.joined(separator: ", ")) FROM \(unsafeRaw: quoted(schema.table))"
        if !conditions.isEmpty {
            statement += " WHERE " + conjunction(conditions)
        }
        statement += " ORDER BY " + compiler.orderBy(keys)
        statement += .limit(rows)
        if skip > 0 { statement += " OFFSET \(bind: skip)" }
        plan.statement = statement
        return plan
    }

    public func count(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        try await read { db in try await count(db, kind, query: query, scope: scope) }
    }

    func count(_ db: any SQLDatabase, _ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        guard let row = try await db.raw(try countStatement(kind, query: query, scope: scope)).first() else { return 0 }
        return try row.decode(column: "n", as: Int.self)
    }

    public func count(_ kind: ResourceKind, by field: String, query: Query, scope: Scope) async throws -> [Value: Int] {
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let spec = try compiler.filterField(field)
        guard spec.sortable else {
            throw ProctorError.unknownField(field, valid: schema.sortableNames, role: "count field")
        }
        let column = quoted(spec.name)
        var statement: SQLQueryString =
            "SELECT \(unsafeRaw: column) AS v, COUNT(*) AS n FROM \(unsafeRaw: compiler.table)"
        if let clause = try compiler.whereClause(query, scope: scope) { statement += " WHERE " + clause }
        statement += " GROUP BY \(unsafeRaw: column)"
        let codec = RowCodec(flavor: flavor, schema: schema)
        return try await read { db in
            var counts: [Value: Int] = [:]
            for row in try await db.raw(statement).all() {
                counts[try codec.decodeValue(row, column: "v", type: spec.type)] = try row.decode(
                    column: "n",
                    as: Int.self
                )
            }
            return counts
        }
    }

    /// The count, from the labels rows alone when the query allows (``SQLCompiler/labelsCount(_:scope:)``).
    func countStatement(_ kind: ResourceKind, query: Query, scope: Scope) throws -> SQLQueryString {
        let compiler = SQLCompiler(flavor: flavor, schema: kind.schema)
        if let labelsCount = try compiler.labelsCount(query, scope: scope) { return labelsCount }
        var statement: SQLQueryString = "SELECT COUNT(*) AS n FROM \(unsafeRaw: compiler.table)"
        if let clause = try compiler.whereClause(query, scope: scope) { statement += " WHERE " + clause }
        return statement
    }

    public func distinct(_ kind: ResourceKind, field: String, query: Query, scope: Scope) async throws -> [Value] {
        try await distinct(kind, field: field, query: query, scope: scope, plan: nil)
    }

    /// How the distinct values of a label are read (see ``distinctLabel(_:_:key:query:scope:limit:plan:)``).
    enum LabelDistinctPlan: CaseIterable {
        /// No filter: a loose index scan of the label's values.
        case scan
        /// Each matching row's label, by primary key.
        case fromRows
        /// Each of the label's values, kept when a matching row has it.
        case walk
        /// Every row of the label, kept when its row matches.
        case whole
    }

    /// ``distinct(_:field:query:scope:)``; for a label, `plan` (tests) forces one plan instead of choosing.
    func distinct(
        _ kind: ResourceKind,
        field: String,
        query: Query,
        scope: Scope,
        plan: LabelDistinctPlan?
    ) async throws -> [Value] {
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let limit = min(max(query.limit ?? maxPageSize, 0), maxPageSize)
        let codec = RowCodec(flavor: flavor, schema: schema)
        if field.hasPrefix("labels."), schema.labelsField != nil {
            let key = String(field.dropFirst("labels.".count))
            guard limit > 0 else { return [] }
            return try await read { db in
                try await distinctLabel(db, compiler, key: key, query: query, scope: scope, limit: limit, plan: plan)
                    .map {
                        try codec.decodeValue($0, column: "v", type: .string)
                    }
            }
        }
        let clause = try compiler.whereClause(query, scope: scope)
        let spec = try compiler.filterField(field)
        guard spec.sortable else {
            throw ProctorError.unknownField(field, valid: schema.sortableNames, role: "distinct field")
        }
        var statement: SQLQueryString =
            "SELECT DISTINCT \(unsafeRaw: quoted(spec.name)) AS v FROM \(unsafeRaw: compiler.table)"
        if let clause { statement += " WHERE " + clause }
        statement += " ORDER BY v" + .limit(limit)
        return try await read { db in
            try await db.raw(statement).all().map { try codec.decodeValue($0, column: "v", type: spec.type) }
        }
    }

    /// Matching rows up to which a label's distinct values are read from those rows' labels.
    static let distinctFromRows = 10_000
    /// Distinct values up to which a label's values are walked one by one, each checked for a matching row.
    static let distinctWalk = 10_000

    /// The distinct values of a label among the matching rows, by the cheapest of the ``LabelDistinctPlan``s:
    /// no filter, a loose index scan of the label's values; few matching rows (at most ``distinctFromRows``),
    /// each row's label by primary key; else each of the label's values (at most ``distinctWalk`` of them) kept
    /// when one matching row has it, checked on what the labels rows carry where possible. A label with more
    /// values than that is read whole.
    func distinctLabel(
        _ db: any SQLDatabase,
        _ compiler: SQLCompiler,
        key: String,
        query: Query,
        scope: Scope,
        limit: Int,
        plan forced: LabelDistinctPlan?
    ) async throws -> [any SQLRow] {
        let clause = try compiler.whereClause(query, scope: scope)
        var plan = forced ?? .scan
        if forced == nil, let clause {
            let few: SQLQueryString =
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM \(unsafeRaw: compiler.table) WHERE " + clause
                + .limit(Self.distinctFromRows + 1) + ") AS m"
            if try await db.raw(few).first()?.decode(column: "n", as: Int.self) ?? 0 <= Self.distinctFromRows {
                plan = .fromRows
            } else {
                let values =
                    try await db.raw(compiler.labelValueCount(key, cap: Self.distinctWalk)).first()?
                    .decode(column: "n", as: Int.self) ?? 0
                plan = values <= Self.distinctWalk ? .walk : .whole
            }
        }
        let statement: SQLQueryString
        switch (plan, clause) {
        case (_, nil), (.scan, _):
            guard clause == nil else { throw ProctorError(.internal, "a label scan takes no filter") }
            statement = compiler.labelValues(key, matching: nil, limit: limit)
        case (.fromRows, let clause?):
            statement = compiler.labelValues(key, ofRowsMatching: clause, limit: limit)
        case (.walk, _):
            statement = compiler.labelValues(
                key,
                matching: try compiler.labelsRowCondition(query, scope: scope),
                limit: limit
            )
        case (.whole, let clause?):
            statement =
                "SELECT DISTINCT value AS v FROM \(unsafeRaw: compiler.labelsTable) WHERE key = \(bind: key)"
                + " AND row_seq IN (SELECT seq FROM \(unsafeRaw: compiler.table) WHERE " + clause
                + ") ORDER BY v" + .limit(limit)
        }
        return try await db.raw(statement).all()
    }
}

/// Scans: rows visited in place (``StoreReader/scan(_:fields:query:scope:into:_:)``).
extension SQLStore {
    public func scan<State: Sendable>(
        _ kind: ResourceKind,
        fields: [String],
        query: Query,
        scope: Scope,
        into state: State,
        _ body: @escaping @Sendable (inout State, any ScannedRow) throws -> Void
    ) async throws -> State {
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let columns = try fields.map { name in
            guard let field = schema.field(name) else {
                throw ProctorError.unknownField(name, valid: schema.fields.map(\.name))
            }
            return field
        }
        let keys = try compiler.sortKeys(query)
        var statement: SQLQueryString =
            "SELECT \(unsafeRaw: columns.map { quoted($0.name) }.joined(separator: ", ")) FROM \(unsafeRaw: quoted(schema.table))"
        if let clause = try compiler.whereClause(query, scope: scope) { statement += " WHERE " + clause }
        statement += " ORDER BY " + compiler.orderBy(keys)
        if let limit = query.limit { statement += .limit(max(limit, 0)) }
        let codec = RowCodec(flavor: flavor, schema: schema)
        return try await read { db in
            try await scanRows(db, statement, kind: kind, columns: columns, codec: codec, into: state, body)
        }
    }

    /// Folds the rows of a SELECT of exactly `columns` into `state`, each read in place on SQLite; PostgreSQL's
    /// rows are decoded by name through SQLKit, so there the records they make are scanned.
    func scanRows<State: Sendable>(
        _ db: any SQLDatabase,
        _ statement: SQLQueryString,
        kind: ResourceKind,
        columns: [FieldSpec],
        codec: RowCodec,
        into state: State,
        _ body: @escaping @Sendable (inout State, any ScannedRow) throws -> Void
    ) async throws -> State {
        if let session = db as? SQLiteSession { return try await session.scan(statement, into: state, body) }
        let slots = columns.map { FieldSlot(kind, $0.name) }
        var state = state
        for record in try await records(db, statement, kind: kind, fields: columns, codec: codec) {
            try body(&state, RecordScannedRow(record, slots: slots))
        }
        return state
    }
}
