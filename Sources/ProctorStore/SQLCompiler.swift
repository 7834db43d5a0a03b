import Foundation
import ProctorCore
import SQLKit
import SQLiteNIO

/// Compiles the core ``Query`` into SQL for one resource, with every client value bound, never spliced.
///
/// Field names are checked against the resource's whitelist before they reach SQL; an unknown field or an
/// operator that does not fit the field's type is a ``ProctorError`` naming it and listing what is valid.
struct SQLCompiler {
    let flavor: SQLFlavor
    let schema: ResourceSchema
    /// Set: conditions are about the row of the labels row of this alias, read from what that labels row
    /// carries (``ResourceSchema/labelsCarried``, `created_at`, its sibling labels) instead of the row itself.
    /// A condition on anything else throws ``NotOnLabelsRow``.
    var labelsRow: String? = nil

    var table: String { quoted(schema.table) }
    var labelsTable: String { quoted(schema.table + "_labels") }

    /// A query that a labels row cannot answer alone (see ``labelsRow``).
    struct NotOnLabelsRow: Error {}

    /// The column holding a field: the row's own, or on a labels row what it carries of the field.
    private func column(_ name: String) throws -> String {
        guard let labelsRow else { return quoted(name) }
        if name == "created_at" { return labelsRow + "." + quoted(name) }
        guard let carried = schema.labelsCarried.first(where: { $0.field == name && !$0.isGroup }) else {
            throw NotOnLabelsRow()
        }
        return labelsRow + "." + quoted(carried.column)
    }

    /// On a labels row, "the row's group is one of `ids`": the `seq`s it carries, each looked up once (scalar
    /// subqueries, so that each index entry is compared with integers, not probed in a list).
    private func groupIn(_ ids: [String]) throws -> SQLQueryString {
        let column = try groupSeqColumn()
        let seqs = ids.map { id -> SQLQueryString in
            "(SELECT seq FROM \(unsafeRaw: groupsTable) WHERE id = \(bind: id))"
        }
        if seqs.count == 1 { return column + " = " + seqs[0] }
        var list: SQLQueryString = ""
        for (index, seq) in seqs.enumerated() { list += (index == 0 ? "" : ", ") + seq }
        return column + " IN (" + list + ")"
    }

    /// On a labels row, "the row's group matches `condition`" (a condition on the groups' `id`).
    private func groupWhere(_ condition: SQLQueryString) throws -> SQLQueryString {
        try groupSeqColumn() + " IN (SELECT seq FROM \(unsafeRaw: groupsTable) WHERE " + condition + ")"
    }

    private func groupSeqColumn() throws -> SQLQueryString {
        guard let labelsRow, let carried = schema.labelsCarried.first(where: \.isGroup) else { throw NotOnLabelsRow() }
        return SQLQueryString(labelsRow + "." + quoted(carried.column))
    }

    private var groupsTable: String { quoted(ResourceKind.groups.schema.table) }

    // MARK: WHERE

    /// The WHERE clause (without the keyword) for a query, a tenancy scope and extra conditions.
    func whereClause(_ query: Query, scope: Scope) throws -> SQLQueryString? {
        var parts: [SQLQueryString] = []
        if let groups = scope.groupIDs, schema.grouped {
            if groups.isEmpty {
                parts.append("1 = 0")
            } else {
                parts.append(
                    labelsRow == nil ? "\(unsafeRaw: quoted("group_id")) IN (\(binds: groups))" : try groupIn(groups)
                )
            }
        }
        if let filter = query.filter {
            let terms = filter.termCount
            guard terms <= Filter.maxTerms else {
                throw ProctorError.badRequest(
                    "a filter holds at most \(Filter.maxTerms) terms; this one has \(terms)",
                    field: "filter"
                )
            }
            parts.append(try compile(filter, window: query.window))
        }
        if let window = query.window {
            let field = try filterField(window.field)
            guard field.type == .timestamp else {
                throw ProctorError.badRequest("'\(window.field)' is not a time field", field: window.field)
            }
            let column = try column(field.name)
            if let from = window.from { parts.append("\(unsafeRaw: column) >= \(bind: from)") }
            if let to = window.to { parts.append("\(unsafeRaw: column) < \(bind: to)") }
        }
        guard !parts.isEmpty else { return nil }
        return conjunction(parts)
    }

    func compile(_ filter: Filter, window: TimeWindow? = nil) throws -> SQLQueryString {
        switch filter {
        case .and(let parts):
            if parts.isEmpty { return "1 = 1" }
            return try group(parts.map { try compile($0, window: window) }, joiner: " AND ")
        case .or(let parts):
            if parts.isEmpty { return "1 = 0" }
            return try group(parts.map { try compile($0, window: window) }, joiner: " OR ")
        case .not(let inner):
            return "NOT (" + (try compile(inner, window: window)) + ")"
        case .predicate(let predicate):
            return try compile(predicate, window: window)
        case .related(let field, let kind, let inner):
            let other = SQLCompiler(flavor: flavor, schema: kind.schema)
            let reference: SQLQueryString = "\(unsafeRaw: try column(try filterField(field).name))"
            let rows: SQLQueryString = "SELECT \(unsafeRaw: quoted("id")) FROM \(unsafeRaw: other.table) WHERE "
            return reference + " IN (" + rows + (try other.compile(inner)) + ")"
        }
    }

    private func group(_ parts: [SQLQueryString], joiner: String) throws -> SQLQueryString {
        "(" + joined(parts, joiner) + ")"
    }

    func filterField(_ name: String) throws -> FieldSpec {
        guard let field = schema.field(name), field.filterable else {
            throw ProctorError.unknownField(name, valid: schema.filterableNames)
        }
        return field
    }

    private func compile(_ predicate: Condition, window: TimeWindow?) throws -> SQLQueryString {
        if predicate.field.hasPrefix("labels."), let labels = schema.labelsField {
            return try compileLabel(predicate, labels: labels, window: window)
        }
        let field = try filterField(predicate.field)
        if labelsRow != nil, field.name == "group_id" {
            if predicate.op == .equal || predicate.op == .in { return try groupIn(predicate.values) }
            return try groupWhere(try compile(predicate, column: "id", type: field.type))
        }
        return try compile(predicate, column: try column(field.name), type: field.type)
    }

    /// A label predicate becomes a sub-select on the `<table>_labels` rows, which are indexed by
    /// (key, value, created_at): a label filter and a time window are answered from that index alone.
    private func compileLabel(_ predicate: Condition, labels: FieldSpec, window: TimeWindow?) throws -> SQLQueryString {
        let key = try labelKey(predicate)
        let negated = Self.negation(of: predicate.op)
        var positive = predicate
        if let negated { positive.op = negated }
        if let labelsRow {
            // The sibling label of the same row, by primary key.
            var probe: SQLQueryString =
                "SELECT 1 FROM \(unsafeRaw: labelsTable) AS l WHERE l.row_seq = \(unsafeRaw: labelsRow).row_seq AND l.key = \(bind: key)"
            if positive.op != .isNotNull {
                probe += " AND " + (try compile(positive, column: "l.value", type: .string))
            }
            return (negated == nil ? "EXISTS (" : "NOT EXISTS (") + probe + ")"
        }
        var inner: SQLQueryString = "SELECT row_seq FROM \(unsafeRaw: labelsTable) WHERE key = \(bind: key)"
        if positive.op != .isNotNull {
            inner += " AND " + (try compile(positive, column: "value", type: .string))
        }
        let pushedWindow = negated == nil && window?.field == "created_at"
        if pushedWindow, let window {
            if let from = window.from { inner += " AND created_at >= \(bind: from)" }
            if let to = window.to { inner += " AND created_at < \(bind: to)" }
        }
        if flavor == .sqlite, !pushedWindow {
            // SQLite materialises an IN list before it reads a row; a correlated probe of the labels' primary key
            // lets it walk the runs in index order and stop at the page size instead.
            var probe: SQLQueryString =
                "SELECT 1 FROM \(unsafeRaw: labelsTable) AS l WHERE l.row_seq = \(unsafeRaw: table).seq AND l.key = \(bind: key)"
            if positive.op != .isNotNull {
                probe += " AND " + (try compile(positive, column: "l.value", type: .string))
            }
            return (negated == nil ? "EXISTS (" : "NOT EXISTS (") + probe + ")"
        }
        return (negated == nil ? "seq IN (" : "seq NOT IN (") + inner + ")"
    }

    /// The key of a `labels.<key>` predicate.
    private func labelKey(_ predicate: Condition) throws -> String {
        let key = String(predicate.field.dropFirst("labels.".count))
        guard !key.isEmpty, key.count <= 100 else {
            throw ProctorError.badRequest("a label filter needs a key: labels.<key>", field: predicate.field)
        }
        return key
    }

    /// For an operator that a row without the label satisfies, the positive operator it negates.
    private static func negation(of op: FilterOperator) -> FilterOperator? {
        switch op {
        case .notEqual: return .equal
        case .notIn: return .in
        case .notContains: return .contains
        case .notRegex: return .regex
        case .notRegexIgnoringCase: return .regexIgnoringCase
        case .isNull: return .isNotNull
        default: return nil
        }
    }

    // MARK: Counts and distinct labels

    /// A count read from the labels rows alone, when the filter has a label that a matching row must carry (the
    /// driver) and everything else is about what labels rows carry (group, status, creation time, other labels):
    /// one count of the driver label's rows in the (key, value, created_at, carried…) index, which costs at most
    /// the number of rows with that label, instead of a label probe per candidate row. Exact: a row has at most
    /// one label row per key. Nil when the query is not of that shape.
    func labelsCount(_ query: Query, scope: Scope) throws -> SQLQueryString? {
        guard schema.labelsField != nil, !schema.labelsCarried.isEmpty, let filter = query.filter else { return nil }
        var conjuncts = Self.conjuncts(filter)
        let isDriver = { (part: Filter) -> Bool in
            guard case .predicate(let predicate) = part else { return false }
            return predicate.field.hasPrefix("labels.") && Self.negation(of: predicate.op) == nil
        }
        guard let index = conjuncts.firstIndex(where: isDriver),
            case .predicate(let driver) = conjuncts.remove(at: index)
        else {
            return nil
        }
        var onRow = self
        onRow.labelsRow = "d"
        let rest = Query(filter: conjuncts.isEmpty ? nil : .and(conjuncts), window: query.window)
        let condition: SQLQueryString?
        do {
            condition = try onRow.whereClause(rest, scope: scope)
        } catch is NotOnLabelsRow {
            return nil
        }
        var statement: SQLQueryString =
            "SELECT COUNT(*) AS n FROM \(unsafeRaw: labelsTable) AS d WHERE d.key = \(bind: try labelKey(driver))"
        if driver.op != .isNotNull { statement += " AND " + (try compile(driver, column: "d.value", type: .string)) }
        if let condition { statement += " AND " + condition }
        return statement
    }

    private static func conjuncts(_ filter: Filter) -> [Filter] {
        if case .and(let parts) = filter { return parts.flatMap(conjuncts) }
        return [filter]
    }

    /// The distinct values of label `key`, a loose index scan: one seek of the (key, value, …) index per value
    /// instead of reading every row of the key. `matching`, a condition on the labels row `x` (the rows with that
    /// value), keeps only the values some matching row has; without it, at most `limit` values are visited.
    func labelValues(_ key: String, matching: SQLQueryString?, limit: Int) -> SQLQueryString {
        var statement: SQLQueryString =
            "WITH RECURSIVE d(v, n) AS (SELECT (SELECT MIN(value) FROM \(unsafeRaw: labelsTable) WHERE key = \(bind: key)), 1"
        statement +=
            " UNION ALL SELECT (SELECT MIN(value) FROM \(unsafeRaw: labelsTable) WHERE key = \(bind: key) AND value > d.v), d.n + 1"
        statement += " FROM d WHERE d.v IS NOT NULL"
        if matching == nil { statement += " AND d.n < \(bind: limit)" }
        statement += ") SELECT v FROM d WHERE v IS NOT NULL"
        if let matching {
            statement +=
                " AND EXISTS (SELECT 1 FROM \(unsafeRaw: labelsTable) AS x WHERE x.key = \(bind: key) AND x.value = d.v AND "
                + matching + ")"
        }
        return statement + " ORDER BY v" + .limit(limit)
    }

    /// How many distinct values label `key` has, counted up to `cap + 1`.
    func labelValueCount(_ key: String, cap: Int) -> SQLQueryString {
        "SELECT COUNT(*) AS n FROM (" + labelValues(key, matching: nil, limit: cap + 1) + ") AS c"
    }

    /// The distinct values of label `key` among the rows matching `clause` (a WHERE clause on the table),
    /// read from each matching row's label by primary key: for a few matching rows.
    func labelValues(_ key: String, ofRowsMatching clause: SQLQueryString, limit: Int) -> SQLQueryString {
        // CROSS JOIN: SQLite keeps the matching rows as the outer loop.
        "SELECT DISTINCT k.value AS v FROM (SELECT seq FROM \(unsafeRaw: table) WHERE " + clause
            + ") AS m CROSS JOIN \(unsafeRaw: labelsTable) AS k WHERE k.row_seq = m.seq AND k.key = \(bind: key) ORDER BY v"
            + .limit(limit)
    }

    /// The condition "the row of labels row `x` matches `query` in `scope`", on what `x` carries when it can be,
    /// else through the row itself.
    func labelsRowCondition(_ query: Query, scope: Scope) throws -> SQLQueryString? {
        var onRow = self
        onRow.labelsRow = "x"
        do {
            return try onRow.whereClause(query, scope: scope)
        } catch is NotOnLabelsRow {
            guard let clause = try whereClause(query, scope: scope) else { return nil }
            return "EXISTS (SELECT 1 FROM \(unsafeRaw: table) WHERE \(unsafeRaw: table).seq = x.row_seq AND " + clause
                + ")"
        }
    }

    private func compile(_ predicate: Condition, column: String, type: FieldType) throws -> SQLQueryString {
        let op = predicate.op
        let name = predicate.field
        let col = SQLQueryString(column)
        if op.takesNoValue {
            return col + (op == .isNull ? " IS NULL" : " IS NOT NULL")
        }
        guard !predicate.values.isEmpty else {
            throw ProctorError.badRequest("operator '\(op.rawValue)' on '\(name)' needs a value", field: name)
        }
        if op.isArrayOperator {
            guard type == .strings else {
                throw invalidOperator(op, name, type)
            }
            return arrayCondition(op, column: col, values: predicate.values)
        }
        if type == .strings || type == .labels || type == .json {
            throw invalidOperator(op, name, type)
        }
        if op == .in || op == .notIn {
            let binds = try predicate.values.map { try bindValue($0, type: type, field: name) }
            // `(?1, ?2, …)` written in one piece (``ValueRows``): SQLKit's list of binds serializes each placeholder
            // as an expression of its own, which a page's `IN` of fifty ids paid for on every request.
            let list: SQLQueryString = "\(ValueRows(rows: [binds], placeholder: flavor == .sqlite ? "?" : "$"))"
            return op == .in ? col + " IN " + list : "(" + col + " NOT IN " + list + " OR " + col + " IS NULL)"
        }
        guard predicate.values.count == 1 else {
            throw ProctorError.badRequest("operator '\(op.rawValue)' on '\(name)' takes one value", field: name)
        }
        let raw = predicate.values[0]
        switch op {
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual:
            let value = try bindValue(raw, type: type, field: name)
            let sqlOp = [
                FilterOperator.equal: "=", .notEqual: "<>", .less: "<", .lessOrEqual: "<=", .greater: ">",
                .greaterOrEqual: ">=",
            ][op]!
            let condition = col + " \(unsafeRaw: sqlOp) \(bind: value)"
            return op == .notEqual ? "(" + condition + " OR " + col + " IS NULL)" : condition
        case .equalIgnoringCase:
            try requireText(op, name, type)
            return "lower(" + col + ") = lower(\(bind: raw))"
        case .contains, .notContains, .prefix:
            try requireText(op, name, type)
            let pattern = (op == .prefix ? "" : "%") + likeEscaped(raw.lowercased()) + "%"
            let condition: SQLQueryString = caseInsensitiveLike(col, pattern)
            return op == .notContains ? "(NOT (" + condition + ") OR " + col + " IS NULL)" : condition
        case .like:
            try requireText(op, name, type)
            switch flavor {
            case .postgres: return col + " LIKE \(bind: raw)"
            case .sqlite: return col + " GLOB \(bind: globPattern(fromLike: raw))"
            }
        case .ilike:
            try requireText(op, name, type)
            switch flavor {
            case .postgres: return col + " ILIKE \(bind: raw)"
            case .sqlite: return "lower(" + col + ") LIKE lower(\(bind: raw))"
            }
        case .regex, .notRegex, .regexIgnoringCase, .notRegexIgnoringCase:
            try requireText(op, name, type)
            do {
                _ = try NSRegularExpression(pattern: raw)
            } catch {
                throw ProctorError.badRequest("invalid regular expression for '\(name)': \(raw)", field: name)
            }
            let insensitive = op == .regexIgnoringCase || op == .notRegexIgnoringCase
            let negative = op == .notRegex || op == .notRegexIgnoringCase
            let condition: SQLQueryString
            switch flavor {
            case .postgres:
                condition = col + " \(unsafeRaw: insensitive ? "~*" : "~") \(bind: raw)"
            case .sqlite:
                condition = col + " REGEXP \(bind: insensitive ? "(?i)" + raw : raw)"
            }
            return negative ? "(NOT (" + condition + ") OR " + col + " IS NULL)" : condition
        default:
            throw invalidOperator(op, name, type)
        }
    }

    private func caseInsensitiveLike(_ col: SQLQueryString, _ pattern: String) -> SQLQueryString {
        switch flavor {
        case .postgres: return col + " ILIKE \(bind: pattern) ESCAPE '\\'"
        case .sqlite: return "lower(" + col + ") LIKE \(bind: pattern) ESCAPE '\\'"
        }
    }

    /// Array fields are stored as JSON arrays in both dialects; SQLite walks them with `json_each`,
    /// PostgreSQL with jsonb containment.
    private func arrayCondition(_ op: FilterOperator, column col: SQLQueryString, values: [String]) -> SQLQueryString {
        let wanted = JSONValue.array(values.map { .string($0) }).encodedString()
        switch (flavor, op) {
        case (.postgres, .arrayContains):
            return "(" + col + ")::jsonb @> (\(bind: wanted))::jsonb"
        case (.postgres, .arrayContainedBy):
            return "(" + col + ")::jsonb <@ (\(bind: wanted))::jsonb"
        case (.postgres, _):
            return "EXISTS (SELECT 1 FROM jsonb_array_elements_text((" + col
                + ")::jsonb) AS h(v) WHERE h.v IN (SELECT jsonb_array_elements_text((\(bind: wanted))::jsonb)))"
        case (.sqlite, .arrayContains):
            return
                "NOT EXISTS (SELECT 1 FROM json_each(\(bind: wanted)) AS w WHERE w.value NOT IN (SELECT value FROM json_each("
                + col + ")))"
        case (.sqlite, .arrayContainedBy):
            return "NOT EXISTS (SELECT 1 FROM json_each(" + col
                + ") AS h WHERE h.value NOT IN (SELECT value FROM json_each(\(bind: wanted))))"
        case (.sqlite, _):
            return "EXISTS (SELECT 1 FROM json_each(" + col
                + ") AS h WHERE h.value IN (SELECT value FROM json_each(\(bind: wanted))))"
        }
    }

    private func requireText(_ op: FilterOperator, _ name: String, _ type: FieldType) throws {
        guard type == .string || type == .id || type == .text else { throw invalidOperator(op, name, type) }
    }

    private func invalidOperator(_ op: FilterOperator, _ name: String, _ type: FieldType) -> ProctorError {
        let valid: [FilterOperator]
        switch type {
        case .strings: valid = [.arrayContains, .arrayContainedBy, .arrayOverlaps, .isNull, .isNotNull]
        case .string, .id, .text: valid = FilterOperator.allCases.filter { !$0.isArrayOperator }
        default:
            valid = [
                .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual, .in, .notIn, .isNull, .isNotNull,
            ]
        }
        return ProctorError.badRequest(
            "operator '\(op.rawValue)' does not apply to '\(name)' (\(type.rawValue)); valid operators: "
                + valid.map(\.rawValue).joined(separator: ", "),
            field: name,
            details: ["valid": valid.map(\.rawValue)]
        )
    }

    /// Converts a client's text value to the bound value for a field type.
    func bindValue(_ raw: String, type: FieldType, field: String) throws -> any Encodable & Sendable {
        func bad(_ what: String) -> ProctorError {
            ProctorError.badRequest("'\(raw)' is not \(what) (field '\(field)')", field: field)
        }
        switch type {
        case .int:
            guard let v = Int64(raw.trimmingCharacters(in: .whitespaces)) else { throw bad("an integer") }
            return v
        case .double:
            guard let v = Double(raw.trimmingCharacters(in: .whitespaces)), v.isFinite else { throw bad("a number") }
            return v
        case .bool:
            switch raw.lowercased() {
            case "true", "1", "yes": return flavor == .sqlite ? Int64(1) as any Encodable & Sendable : true
            case "false", "0", "no": return flavor == .sqlite ? Int64(0) as any Encodable & Sendable : false
            default: throw bad("a boolean")
            }
        case .timestamp:
            guard let v = Timestamp.parse(raw) else { throw bad("a time (RFC 3339, YYYY-MM-DD or epoch ms)") }
            return v
        default:
            return raw
        }
    }

    private func likeEscaped(_ text: String) -> String {
        var out = ""
        for ch in text {
            if ch == "%" || ch == "_" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        return out
    }

    /// SQLite's LIKE ignores case; GLOB is its case-sensitive matcher.
    private func globPattern(fromLike like: String) -> String {
        var out = ""
        for ch in like {
            switch ch {
            case "%": out.append("*")
            case "_": out.append("?")
            case "*", "?", "[", "]": out.append("[\(ch)]")
            default: out.append(ch)
            }
        }
        return out
    }

    // MARK: ORDER BY and keyset

    /// The effective sort: the requested keys (validated) or the default, ending with `seq` so that every
    /// order is total and a keyset cursor is exact.
    func sortKeys(_ query: Query) throws -> [SortKey] {
        var keys = query.sort.isEmpty ? schema.defaultSort : query.sort
        for key in keys {
            guard let field = schema.field(key.field), field.sortable else {
                throw ProctorError.unknownField(key.field, valid: schema.sortableNames, role: "sort key")
            }
        }
        keys =
            keys.filter { $0.field != "seq" } + [
                SortKey(
                    "seq",
                    descending: keys.last { $0.field == "seq" }?.descending ?? keys.last?.descending ?? false
                )
            ]
        return keys
    }

    func orderBy(_ keys: [SortKey]) -> SQLQueryString {
        let items = keys.map { key -> String in
            var item = quoted(key.field) + (key.descending ? " DESC" : " ASC")
            if flavor == .postgres, schema.field(key.field)?.nullable == true {
                item += key.descending ? " NULLS LAST" : " NULLS FIRST"
            }
            return item
        }
        return SQLQueryString(items.joined(separator: ", "))
    }

    /// Rows strictly after the cursor position in the given order (NULLs sort lowest, as SQLite does).
    func keysetCondition(_ keys: [SortKey], after values: [Value]) throws -> SQLQueryString {
        guard values.count == keys.count else { throw ProctorError.badRequest("invalid cursor", field: "cursor") }
        var alternatives: [SQLQueryString] = []
        for i in keys.indices {
            var conjunction: [SQLQueryString] = []
            for j in 0..<i {
                let col = SQLQueryString(quoted(keys[j].field))
                conjunction.append(values[j].isNull ? col + " IS NULL" : col + " = \(bind: try encodable(values[j]))")
            }
            let col = SQLQueryString(quoted(keys[i].field))
            let value = values[i]
            if keys[i].descending {
                if value.isNull { continue }
                conjunction.append("(" + col + " < \(bind: try encodable(value)) OR " + col + " IS NULL)")
            } else {
                conjunction.append(value.isNull ? col + " IS NOT NULL" : col + " > \(bind: try encodable(value))")
            }
            alternatives.append("(" + joined(conjunction, " AND ") + ")")
        }
        if alternatives.isEmpty { return "1 = 0" }
        let condition: SQLQueryString = "(" + joined(alternatives, " OR ") + ")"
        // The same rows, with a bound on the first key alone in front: an index led by that key seeks to it
        // instead of reading from the start of the order and discarding what comes before (100,000 rows deep:
        // PostgreSQL 58 ms without it). A NULL sorts lowest, so only a non-NULL value bounds a key that can
        // hold one, and only ascending.
        let first = keys[0]
        let nullable = schema.field(first.field)?.nullable ?? true
        guard keys.count > 1, !values[0].isNull, !nullable || !first.descending else { return condition }
        let bound: SQLQueryString =
            "\(unsafeRaw: quoted(first.field)) \(unsafeRaw: first.descending ? "<=" : ">=") \(bind: try encodable(values[0]))"
        return bound + " AND " + condition
    }

    /// The bind for a value; a NULL is typed by its column so PostgreSQL accepts it.
    func encodable(_ value: Value, type: FieldType? = nil) throws -> any Encodable & Sendable {
        // SQLite's own values: the session binds them after one cast, where a NULL took five (see
        // `SQLiteSession.encode`); SQLite needs no type on a NULL.
        if flavor == .sqlite { return Self.sqliteData(value) }
        if value.isNull {
            switch type {
            case .int?, .timestamp?: return Int64?.none
            case .double?: return Double?.none
            case .bool?: return flavor == .sqlite ? Int64?.none as any Encodable & Sendable : Bool?.none
            default: return String?.none
            }
        }
        switch value {
        case .string(let s): return s
        case .int(let i), .timestamp(let i): return i
        case .double(let d): return d
        case .bool(let b): return flavor == .sqlite ? Int64(b ? 1 : 0) as any Encodable & Sendable : b
        case .strings(let a): return JSONValue.array(a.map { .string($0) }).encodedString()
        case .json(let j): return j.encodedString()
        case .null: return String?.none
        }
    }

    /// A value as SQLite stores it (what `encodable` gives for PostgreSQL, typed as SQLite types it).
    static func sqliteData(_ value: Value) -> SQLiteData {
        switch value {
        case .null: return .null
        case .string(let s): return .text(s)
        case .int(let i), .timestamp(let i): return .integer(Int(i))
        case .double(let d): return .float(d)
        case .bool(let b): return .integer(b ? 1 : 0)
        case .strings(let a): return .text(JSONValue.array(a.map { .string($0) }).encodedString())
        case .json(let j): return .text(j.encodedString())
        }
    }

    // MARK: Projection

    /// The columns to read: all public ones, or the projection plus what paging needs.
    func columns(for query: Query, sortKeys: [SortKey]) throws -> [FieldSpec] {
        let all = schema.fields.filter { !$0.secret }
        var chosen = all
        if let fields = query.fields, !fields.isEmpty {
            for name in fields where schema.field(name).map({ $0.secret }) ?? true {
                throw ProctorError.unknownField(name, valid: all.map(\.name))
            }
            let wanted = Set(fields + ["id", "seq"] + sortKeys.map(\.field))
            chosen = all.filter { wanted.contains($0.name) }
        }
        if !query.excludedFields.isEmpty {
            for name in query.excludedFields where schema.field(name) == nil {
                throw ProctorError.unknownField(name, valid: all.map(\.name))
            }
            let keep = Set(["id", "seq"] + sortKeys.map(\.field))
            let excluded = Set(query.excludedFields).subtracting(keep)
            chosen = chosen.filter { !excluded.contains($0.name) }
        }
        return chosen
    }
}

/// Joins SQL fragments, each parenthesised.
func joined(_ parts: [SQLQueryString], _ separator: String) -> SQLQueryString {
    var out: SQLQueryString = ""
    for (index, part) in parts.enumerated() {
        if index > 0 { out += SQLQueryString(separator) }
        out += "(" as SQLQueryString
        out += part
        out += ")" as SQLQueryString
    }
    return out
}

func conjunction(_ parts: [SQLQueryString]) -> SQLQueryString { joined(parts, " AND ") }

extension SQLQueryString {
    /// ` LIMIT rows`, the count written into the statement's text rather than bound.
    ///
    /// Why: SQLite re-prepares a statement whose LIMIT is a bound parameter every time a value is bound to it
    /// (it plans with the limit's value), so a kept statement with `LIMIT ?` was parsed and planned again on
    /// every page. A literal count keeps one prepared statement per distinct limit, and the planner still sees it.
    static func limit(_ rows: Int) -> SQLQueryString { " LIMIT \(unsafeRaw: String(rows))" }
}
