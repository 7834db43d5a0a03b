import ProctorCore
import ProctorHTTPKit

/// The cursor of a recursive-descent query parser over Unicode scalars (so that positions in errors are exact),
/// shared by the parsers of DCI's `query=` DSL and of its job search.
protocol ScalarParsing {
    var text: String { get }
    var scalars: [Unicode.Scalar] { get }
    var index: Int { get set }
}

extension ScalarParsing {
    /// Skips leading space; a query that is nothing else is refused.
    mutating func skipToFirstToken() throws(ProctorError) {
        skipSpace()
        guard index < scalars.count else {
            throw ProctorError.badRequest("invalid query: the query is empty", field: "query")
        }
    }

    mutating func expect(_ token: Unicode.Scalar, after context: String) throws(ProctorError) {
        skipSpace()
        guard index < scalars.count, scalars[index] == token else {
            throw error("expected '\(token)' after \(context) but found \(describe(index))")
        }
        index += 1
    }

    mutating func scan(_ accept: (Unicode.Scalar) -> Bool) -> String {
        var out = String.UnicodeScalarView()
        while index < scalars.count, accept(scalars[index]) {
            out.append(scalars[index])
            index += 1
        }
        return String(out)
    }

    mutating func skipSpace() {
        while index < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[index]) { index += 1 }
    }

    static func isLetter(_ s: Unicode.Scalar) -> Bool { ("A"..."Z").contains(s) || ("a"..."z").contains(s) }

    static func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }

    func describe(_ position: Int) -> String {
        guard position < scalars.count else { return "the end of the query" }
        return "'\(scalars[position])' at position \(position)"
    }

    /// The error for this query; each reason names its own position.
    func error(_ reason: String) -> ProctorError {
        .badRequest("invalid query '\(text)': \(reason)", field: "query")
    }
}
