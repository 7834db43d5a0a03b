import ProctorCore
import ProctorHTTPKit

/// Parses the two filter syntaxes of the DCI control server (`where=` and the `query=` DSL) and its `sort=`.
///
/// `dciclient` and the DCI UI send these strings verbatim; the semantics below follow
/// `dci/db/declarative.py` and `dci/db/query_dsl.py` so that a DCI client sees the same rows, minus the
/// upstream bugs (trailing input silently ignored, `not_contains` crashing).
public enum DCIQuery {
    /// Parses `where=k1:v1,k2:v2` (a CSV line, so `"a:b,c"` quotes an item holding a comma). Items are ANDed and
    /// each splits on its first `:`.
    ///
    /// Per item, in DCI's order: an empty value is `IS NULL`; a key in `arrayFields` is array containment of the
    /// value (taken literally, `*` included); a value whose only `*` is the last character is a case-insensitive
    /// substring match; anything else is a case-insensitive equality (the store treats that as plain equality
    /// on non-text fields).
    ///
    /// - Returns: nil for an empty string (DCI ignores an empty `where`), the bare predicate for one item, else
    ///   `.and`.
    /// - Throws: ``ProctorError`` `badRequest` (field `where`) for an item without `:` or with an empty key.
    public static func parseWhere(_ text: String, arrayFields: Set<String>) throws(ProctorError) -> Filter? {
        guard !text.isEmpty else { return nil }
        var parts: [Filter] = []
        for item in splitCSV(text) {
            guard let colon = item.unicodeScalars.firstIndex(of: ":") else {
                throw whereError(item)
            }
            let key = String(item.unicodeScalars[item.unicodeScalars.startIndex..<colon])
            let value = String(item.unicodeScalars[item.unicodeScalars.index(after: colon)...])
            guard !key.isEmpty else { throw whereError(item) }

            let condition: Condition
            if value.isEmpty {
                condition = .isNull(key)
            } else if arrayFields.contains(key) {
                condition = Condition(key, .arrayContains, value)
            } else if value.unicodeScalars.last == "*", value.unicodeScalars.filter({ $0 == "*" }).count == 1 {
                condition = Condition(key, .contains, String(value.unicodeScalars.dropLast()))
            } else {
                condition = Condition(key, .equalIgnoringCase, value)
            }
            parts.append(.predicate(condition))
        }
        if parts.count <= 1 { return parts.first }
        return .and(parts)
    }

    /// Parses DCI's `query=` DSL, e.g. `and(eq(status,success),or(like(name,%rhel%),null(comment)))`.
    ///
    /// Functions: `eq ne lt le gt ge like ilike contains not_contains (field,value)`, `null(field)` (NULL *or*
    /// empty string), and `and(...)`, `or(...)` (one or more conditions), `not(...)` (exactly one), nested freely.
    /// Fields are `[A-Za-z0-9_]+`; values are `[A-Za-z0-9_\- %.:/]+` (no commas, quotes or parentheses) and are
    /// trimmed. Whitespace between tokens is ignored. The whole text must be one expression: DCI silently drops
    /// anything after the first one, Proctor rejects it.
    ///
    /// `contains`/`not_contains` are substring tests, except on a field in `arrayFields`, where they are array
    /// containment (what DCI's `column.contains([value])` means on its array columns such as `tags`).
    ///
    /// - Throws: ``ProctorError`` `badRequest` (field `query`) naming the position and the offending token.
    public static func parseQuery(_ text: String, arrayFields: Set<String> = []) throws(ProctorError) -> Filter {
        var parser = DSLParser(text: text, arrayFields: arrayFields)
        return try parser.parseAll()
    }

    /// Parses `sort=f1,-f2` (a CSV line; `-` prefix means descending). Empty items are skipped.
    public static func parseSort(_ text: String) -> [SortKey] {
        splitCSV(text).compactMap { FilterExpression.sortKey($0) }
    }

    private static func whereError(_ item: String) -> ProctorError {
        .badRequest("invalid where item '\(item)': it must have the form key:value", field: "where")
    }

    /// Splits one CSV line the way Python's `csv.reader` (default dialect) does: a field that starts with `"` is
    /// quoted, `""` inside it is a literal quote, text after the closing quote is kept; quotes elsewhere are
    /// ordinary characters. An unterminated quote runs to the end, as Python's non-strict reader allows.
    static func splitCSV(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        enum State { case start, unquoted, quoted, quoteInQuoted }
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var state = State.start
        for s in text.unicodeScalars {
            switch state {
            case .start:
                if s == "\"" {
                    state = .quoted
                } else if s == "," {
                    fields.append(String(field))
                    field = .init()
                } else {
                    field.append(s)
                    state = .unquoted
                }
            case .unquoted:
                if s == "," {
                    fields.append(String(field))
                    field = .init()
                    state = .start
                } else {
                    field.append(s)
                }
            case .quoted:
                if s == "\"" {
                    state = .quoteInQuoted
                } else {
                    field.append(s)
                }
            case .quoteInQuoted:
                if s == "\"" {
                    field.append(s)
                    state = .quoted
                } else if s == "," {
                    fields.append(String(field))
                    field = .init()
                    state = .start
                } else {
                    field.append(s)
                    state = .unquoted
                }
            }
        }
        fields.append(String(field))
        return fields
    }
}

/// A recursive-descent parser for DCI's `query=` DSL over Unicode scalars, so positions in errors are exact.
private struct DSLParser: ScalarParsing {
    static let comparisons: [String: FilterOperator] = [
        "eq": .equal, "ne": .notEqual, "lt": .less, "le": .lessOrEqual, "gt": .greater, "ge": .greaterOrEqual,
        "like": .like, "ilike": .ilike, "contains": .contains, "not_contains": .notContains,
    ]
    static let logical: Set<String> = ["and", "or", "not"]
    static let functionList = "and, or, not, eq, ne, lt, le, gt, ge, like, ilike, contains, not_contains, null"
    /// Bounds recursion so a hostile `and(and(and(...)))` cannot exhaust the stack.
    static let maxDepth = 64

    let text: String
    let arrayFields: Set<String>
    let scalars: [Unicode.Scalar]
    var index = 0

    init(text: String, arrayFields: Set<String>) {
        self.text = text
        self.arrayFields = arrayFields
        self.scalars = Array(text.unicodeScalars)
    }

    mutating func parseAll() throws(ProctorError) -> Filter {
        try skipToFirstToken()
        let filter = try parseExpression(depth: 0)
        skipSpace()
        guard index == scalars.count else {
            let hint = scalars[index] == "," ? " (combine conditions with and(...) or or(...))" : ""
            throw error("unexpected \(describe(index)) after the end of the expression\(hint)")
        }
        return filter
    }

    private mutating func parseExpression(depth: Int) throws(ProctorError) -> Filter {
        guard depth < Self.maxDepth else {
            throw error("the query nests deeper than \(Self.maxDepth) levels")
        }
        skipSpace()
        let start = index
        let name = scan { Self.isLetter($0) || $0 == "_" }
        guard !name.isEmpty else {
            throw error("expected a function such as eq(field,value) but found \(describe(start))")
        }
        let isKnown = name == "null" || Self.logical.contains(name) || Self.comparisons[name] != nil
        guard isKnown else {
            throw error("unknown function '\(name)' at position \(start); expected one of \(Self.functionList)")
        }
        try expect("(", after: "'\(name)'")

        if Self.logical.contains(name) {
            var operands = [try parseExpression(depth: depth + 1)]
            skipSpace()
            while index < scalars.count, scalars[index] == "," {
                index += 1
                operands.append(try parseExpression(depth: depth + 1))
                skipSpace()
            }
            try expect(")", after: "the conditions of '\(name)'")
            switch name {
            case "and": return .and(operands)
            case "or": return .or(operands)
            default:
                guard operands.count == 1 else {
                    throw error("not(...) takes exactly one condition, got \(operands.count) at position \(start)")
                }
                return .not(operands[0])
            }
        }

        let field = try parseField()
        if name == "null" {
            try expect(")", after: "the field of 'null'")
            return .or([.predicate(.isNull(field)), .predicate(Condition(field, .equal, ""))])
        }
        try expect(",", after: "the field of '\(name)'")
        let value = try parseValue()
        try expect(")", after: "the value of '\(name)'")

        let op = Self.comparisons[name] ?? .equal
        if arrayFields.contains(field), op == .contains || op == .notContains {
            let contains = Filter.predicate(Condition(field, .arrayContains, value))
            return op == .contains ? contains : .not(contains)
        }
        return .predicate(Condition(field, op, value))
    }

    private mutating func parseField() throws(ProctorError) -> String {
        skipSpace()
        let start = index
        let field = scan { Self.isLetter($0) || Self.isDigit($0) || $0 == "_" }
        guard !field.isEmpty else {
            throw error("expected a field name but found \(describe(start))")
        }
        return field
    }

    private mutating func parseValue() throws(ProctorError) -> String {
        skipSpace()
        let start = index
        let raw = scan { Self.isLetter($0) || Self.isDigit($0) || "_- %.:/".unicodeScalars.contains($0) }
        let value = raw.trimmingASCIIWhitespace()
        guard !value.isEmpty else {
            throw error(
                "expected a value (letters, digits and _ - % . : / or space) but found \(describe(start))"
            )
        }
        return value
    }
}
