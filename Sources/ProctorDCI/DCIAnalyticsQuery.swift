import ProctorCore
import ProctorHTTPKit

/// Parses the query language of DCI's job search, `POST /analytics/jobs?query=…` (`dciclient job.search`,
/// `dcictl job-search`): the control server's `dci/analytics/query_es_dsl.py`, which it turns into an
/// Elasticsearch query. For example `((name='vanilla') and (team.name='telco-ci')) or (tags in ['daily'])`.
///
/// Grammar: conditions joined by `and` and `or` (`and` binds tighter, as the upstream splits on `or` first),
/// grouped freely with parentheses. A condition is `field op value` with `op` one of `= != < <= > >= =~`, or
/// `field in [...]` / `field not_in [...]` with a list of quoted values. Fields are `[A-Za-z0-9_.]+` and may name
/// a related object's field (`topic.name`); values are quoted (`'…'`, any text but a quote) or numbers.
///
/// Meanings, as Elasticsearch gives them: `=` is exact (case-sensitive) equality, `=~` a case-insensitive regular
/// expression matching the whole value, `in` any of the values. On a field in `arrayFields` (an array such as
/// `tags`), `=` and `in` hold when some element matches, `!=` and `not_in` when none does.
public enum DCIAnalyticsQuery {
    /// - Throws: ``ProctorError`` `badRequest` (field `query`) naming the position and the offending token.
    public static func parse(_ text: String, arrayFields: Set<String> = []) throws(ProctorError) -> Filter {
        var parser = AnalyticsParser(text: text, arrayFields: arrayFields)
        return try parser.parseAll()
    }
}

/// A recursive-descent parser of the job search language.
private struct AnalyticsParser: ScalarParsing {
    static let comparisons: [String: FilterOperator] = [
        "=": .equal, "!=": .notEqual, "<": .less, "<=": .lessOrEqual, ">": .greater, ">=": .greaterOrEqual,
        "=~": .regexIgnoringCase,
    ]
    /// Bounds recursion so a hostile `((((…))))` cannot exhaust the stack.
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
        let filter = try parseOr(depth: 0)
        skipSpace()
        guard index == scalars.count else { throw error("unexpected \(describe(index)); expected 'and' or 'or'") }
        return filter
    }

    private mutating func parseOr(depth: Int) throws(ProctorError) -> Filter {
        var operands = [try parseAnd(depth: depth)]
        while keyword("or") { operands.append(try parseAnd(depth: depth)) }
        return operands.count == 1 ? operands[0] : .or(operands)
    }

    private mutating func parseAnd(depth: Int) throws(ProctorError) -> Filter {
        var operands = [try parseTerm(depth: depth)]
        while keyword("and") { operands.append(try parseTerm(depth: depth)) }
        return operands.count == 1 ? operands[0] : .and(operands)
    }

    private mutating func parseTerm(depth: Int) throws(ProctorError) -> Filter {
        guard depth < Self.maxDepth else { throw error("the query nests deeper than \(Self.maxDepth) levels") }
        skipSpace()
        if index < scalars.count, scalars[index] == "(" {
            index += 1
            let inner = try parseOr(depth: depth + 1)
            try expect(")", after: "a condition")
            return inner
        }
        return try parseCondition()
    }

    private mutating func parseCondition() throws(ProctorError) -> Filter {
        skipSpace()
        let start = index
        let field = scan { Self.isWordCharacter($0) || $0 == "." }
        guard !field.isEmpty else { throw error("expected a field name or '(' but found \(describe(start))") }
        let isArray = arrayFields.contains(field)
        let negated = keyword("not_in")
        if negated || keyword("in") {
            let values = try parseList()
            let positive = Filter.predicate(Condition(field, isArray ? .arrayOverlaps : .in, values))
            return negated ? .not(positive) : positive
        }
        skipSpace()
        let operatorStart = index
        let symbol = scan { "=!<>~".unicodeScalars.contains($0) }
        guard let op = Self.comparisons[symbol] else {
            throw error(
                "expected one of = != < <= > >= =~ in not_in after '\(field)' but found \(describe(operatorStart))"
            )
        }
        let value = try parseValue()
        switch op {
        case .regexIgnoringCase:
            // Elasticsearch's regexp matches the whole value.
            return .predicate(Condition(field, op, "^(?:\(value))$"))
        case .equal where isArray, .notEqual where isArray:
            let contains = Filter.predicate(Condition(field, .arrayContains, value))
            return op == .equal ? contains : .not(contains)
        default:
            return .predicate(Condition(field, op, value))
        }
    }

    /// `'text'` (any text but a quote) or a number (`[0-9.-]+`).
    private mutating func parseValue() throws(ProctorError) -> String {
        skipSpace()
        let start = index
        if index < scalars.count, scalars[index] == "'" {
            index += 1
            let value = scan { $0 != "'" }
            try expect("'", after: "the value starting at position \(start)")
            return value
        }
        let number = scan { Self.isDigit($0) || $0 == "." || $0 == "-" }
        guard !number.isEmpty else { throw error("expected a quoted value or a number but found \(describe(start))") }
        return number
    }

    /// `['a', 'b']`: one or more quoted values.
    private mutating func parseList() throws(ProctorError) -> [String] {
        try expect("[", after: "'in'")
        var values: [String] = []
        repeat {
            skipSpace()
            guard index < scalars.count, scalars[index] == "'" else {
                throw error("expected a quoted value in the list but found \(describe(index))")
            }
            values.append(try parseValue())
            skipSpace()
        } while index < scalars.count && scalars[index] == "," && advance()
        try expect("]", after: "the values of the list")
        return values
    }

    /// Consumes `word` when it comes next as a whole word.
    private mutating func keyword(_ word: String) -> Bool {
        skipSpace()
        let letters = Array(word.unicodeScalars)
        guard index + letters.count <= scalars.count, Array(scalars[index..<index + letters.count]) == letters
        else { return false }
        let end = index + letters.count
        if end < scalars.count, Self.isWordCharacter(scalars[end]) { return false }
        index = end
        return true
    }

    private mutating func advance() -> Bool {
        index += 1
        return true
    }

    private static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        isLetter(s) || isDigit(s) || s == "_"
    }
}
