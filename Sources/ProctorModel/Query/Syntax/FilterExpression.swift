/// Parses CDRouter's `filter=<field><op><value>` expressions (and its `sort=` lists) into the core query model.
///
/// CDRouter clients (e.g. `cdrouter.py`) send one `filter=` parameter per condition, with PostgreSQL-flavoured
/// operators and `{a,b,c}` array literals, and choose AND or OR with `type=inter|union`. Keeping this grammar in
/// one pure parser means the HTTP layer only collects parameters and the store never sees dialect syntax.
public enum FilterExpression {
    /// Operators in matching order: a longer operator always comes before any operator that is its prefix,
    /// so `<=` wins over `<` and `!~*` over `!~`.
    static let operators: [(token: String, op: FilterOperator)] = [
        ("!~*", .notRegexIgnoringCase),
        ("!=", .notEqual),
        ("!~", .notRegex),
        ("<=", .lessOrEqual),
        (">=", .greaterOrEqual),
        ("~*", .regexIgnoringCase),
        ("@>", .arrayContains),
        ("<@", .arrayContainedBy),
        ("&&", .arrayOverlaps),
        ("=", .equal),
        ("<", .less),
        (">", .greater),
        ("~", .regex),
    ]

    private static let operatorList = "=, !=, <, <=, >, >=, ~, !~, ~*, !~*, @>, <@, &&"

    /// Parses one expression such as `name~*^dhcp`, `tags@>{a,b}` or `id={1,3}`.
    ///
    /// - `=` / `!=` with an array value `{...}` become `.in` / `.notIn`.
    /// - `field=` (empty value) stays an equality with the empty string (a Proctor extension; CDRouter has no
    ///   special null syntax).
    /// - Values are kept as raw text; the store converts them to the field's type (`true`, `123`, timestamps).
    ///
    /// - Throws: ``ProctorError`` `badRequest` (field `filter`) for an empty field name, a missing operator, an
    ///   array operator without a `{...}` value, or a malformed array literal.
    public static func parse(_ text: String) throws(ProctorError) -> Condition {
        let scalars = text.unicodeScalars
        let fieldEnd = scalars.firstIndex { !isFieldScalar($0) } ?? scalars.endIndex
        let field = String(scalars[scalars.startIndex..<fieldEnd])
        let rest = scalars[fieldEnd...]

        guard let (token, op) = operators.first(where: { rest.starts(with: $0.token.unicodeScalars) }) else {
            if rest.isEmpty {
                let reason = field.isEmpty ? "empty filter" : "missing operator (expected one of \(operatorList))"
                throw invalid(text, reason)
            }
            let found = rest.first.map { String($0) } ?? ""
            let after = field.isEmpty ? "at the start" : "after field '\(field)'"
            throw invalid(
                text,
                "unexpected '\(found)' \(after); field names use letters, digits, '_' and '.', "
                    + "operators are \(operatorList)"
            )
        }
        guard !field.isEmpty else {
            throw invalid(text, "empty field name before '\(token)'")
        }
        let value = String(rest.dropFirst(token.unicodeScalars.count))

        if op.isArrayOperator {
            guard isArrayLiteral(value) else {
                throw invalid(text, "operator '\(token)' needs an array value such as {a,b}")
            }
            return Condition(field, op, try parseArray(value, expression: text))
        }
        if op == .equal || op == .notEqual, isArrayLiteral(value) {
            return Condition(field, op == .equal ? .in : .notIn, try parseArray(value, expression: text))
        }
        return Condition(field, op, value)
    }

    /// Parses every repeated `filter=` parameter and joins them: AND for CDRouter's `type=inter` (the default),
    /// OR for `type=union`.
    ///
    /// - Returns: nil when there is no filter, the bare predicate when there is one, else `.and` / `.or`.
    public static func parse(_ filters: [String], union: Bool) throws(ProctorError) -> Filter? {
        var parts: [Filter] = []
        for text in filters {
            parts.append(.predicate(try parse(text)))
        }
        if parts.count <= 1 { return parts.first }
        return union ? .or(parts) : .and(parts)
    }

    /// Parses a comma list such as `-created,+name,id` (`-` descending, `+` or nothing ascending).
    ///
    /// Whitespace around tokens is ignored, which also makes `+name` work after form decoding turned the `+`
    /// into a space. Empty tokens (and a lone `-` or `+`) are skipped.
    public static func parseSort(_ text: String) -> [SortKey] {
        text.split(separator: ",", omittingEmptySubsequences: false).compactMap { sortKey(String($0)) }
    }

    /// A `sort=` list where every comma-separated token must name a field (`-` or `a,,b` is refused, not read as
    /// "no sort"); an empty text is no sort at all.
    public static func parseSortStrictly(_ text: String) throws -> [SortKey] {
        if text.trimmingASCIIWhitespace().isEmpty { return [] }
        return try text.split(separator: ",", omittingEmptySubsequences: false).map { token in
            guard let key = sortKey(String(token)) else {
                throw ProctorError.badRequest(
                    "sort must be a comma-separated list of fields, each optionally prefixed with -: '\(text)'",
                    field: "sort"
                )
            }
            return key
        }
    }

    /// One sort token, trimmed; nil when it names no field.
    public static func sortKey(_ token: String) -> SortKey? {
        let trimmed = token.trimmingASCIIWhitespace()
        guard !trimmed.isEmpty else { return nil }
        let key = SortKey(parsing: trimmed)
        let field = key.field.trimmingASCIIWhitespace()
        guard !field.isEmpty else { return nil }
        return SortKey(field, descending: key.descending)
    }

    private static func isFieldScalar(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "A"..."Z", "a"..."z", "0"..."9", "_", ".": return true
        default: return false
        }
    }

    private static func isArrayLiteral(_ value: String) -> Bool {
        value.unicodeScalars.first == "{" && value.unicodeScalars.last == "}" && value.unicodeScalars.count >= 2
    }

    /// Parses a PostgreSQL-style array literal `{a, "b,c", "say \"hi\""}`.
    ///
    /// Unquoted elements are trimmed and may not contain `{`, `}` or `"`; quoted elements keep their spaces and
    /// honour backslash escapes. `{}` is the empty array.
    private static func parseArray(_ literal: String, expression: String) throws(ProctorError) -> [String] {
        let inner = Array(literal.unicodeScalars.dropFirst().dropLast())
        if inner.allSatisfy({ isSpace($0) }) { return [] }

        var elements: [String] = []
        var index = 0
        while true {
            while index < inner.count, isSpace(inner[index]) { index += 1 }
            var element = String.UnicodeScalarView()
            if index < inner.count, inner[index] == "\"" {
                index += 1
                var closed = false
                while index < inner.count {
                    let s = inner[index]
                    if s == "\\" {
                        index += 1
                        guard index < inner.count else { break }
                        element.append(inner[index])
                    } else if s == "\"" {
                        closed = true
                        index += 1
                        break
                    } else {
                        element.append(s)
                    }
                    index += 1
                }
                guard closed else {
                    throw invalid(expression, "unterminated quoted array element")
                }
                while index < inner.count, isSpace(inner[index]) { index += 1 }
                guard index == inner.count || inner[index] == "," else {
                    throw invalid(expression, "unexpected '\(inner[index])' after a quoted array element")
                }
            } else {
                while index < inner.count, inner[index] != "," {
                    let s = inner[index]
                    guard s != "{", s != "}", s != "\"" else {
                        throw invalid(expression, "unexpected '\(s)' in an array element; quote the element")
                    }
                    element.append(s)
                    index += 1
                }
                let text = String(element).trimmingASCIIWhitespace()
                guard !text.isEmpty else {
                    throw invalid(expression, "empty array element; write \"\" for an empty string")
                }
                element = text.unicodeScalars
            }
            elements.append(String(element))
            if index == inner.count { break }
            index += 1  // the comma
        }
        return elements
    }

    private static func isSpace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r"
    }

    private static func invalid(_ expression: String, _ reason: String) -> ProctorError {
        .badRequest("invalid filter '\(expression)': \(reason)", field: "filter")
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks (no Foundation needed).
    public func trimmingASCIIWhitespace() -> String {
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
            let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
