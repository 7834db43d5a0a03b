import ProctorCore
import ProctorHTTPKit

/// Parses the JSON body of an XPRESSO-style search (`{"name": [...], "tags": [...]}`) into a filter.
///
/// XPRESSO searches by a few well-known attributes rather than by an expression language, so the body is a
/// small closed vocabulary. Anything outside it is rejected rather than ignored, so a typo cannot silently
/// widen a search to every job.
public enum XpressoSearch {
    /// Search keys in the order their conditions appear in the filter, with the field each one searches and
    /// how: `.in` (any of the values) for scalars, `.arrayOverlaps` (any of the tags) for tags.
    static let keys: [(key: String, field: String, op: FilterOperator)] = [
        ("id", "id", .in),
        ("name", "name", .in),
        ("group", "group_name", .in),
        ("tags", "tags", .arrayOverlaps),
    ]

    /// Turns a search body into a filter: AND across the keys present, OR within each key's list.
    ///
    /// Each key takes a list of strings or a single string. The result is the bare predicate when one key is
    /// given, else `.and` in the order `id`, `name`, `group`, `tags`.
    ///
    /// - Throws: ``ProctorError`` `badRequest` when the body is not an object, names an unknown key, gives a key
    ///   an empty list or a non-string, or names none of the known keys.
    public static func parse(_ body: JSONValue) throws(ProctorError) -> Filter {
        let validKeys = keys.map(\.key)
        guard let object = body.objectValue else {
            throw ProctorError.badRequest(
                "the search body must be a JSON object with one or more of: \(validKeys.joined(separator: ", "))"
            )
        }
        if let unknown = object.keys.sorted().first(where: { !validKeys.contains($0) }) {
            throw ProctorError.unknownField(unknown, valid: validKeys, role: "search key")
        }

        var parts: [Filter] = []
        for (key, field, op) in keys {
            guard let value = object[key] else { continue }
            parts.append(.predicate(Condition(field, op, try strings(value, key: key))))
        }
        guard !parts.isEmpty else {
            throw ProctorError.badRequest(
                "the search body names no search key; give one or more of: \(validKeys.joined(separator: ", "))"
            )
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    /// The strings a key asks for: a string on its own, or a non-empty list of strings.
    private static func strings(_ value: JSONValue, key: String) throws(ProctorError) -> [String] {
        if let single = value.stringValue { return [single] }
        guard let list = value.arrayValue else {
            throw ProctorError.badRequest("search key '\(key)' must be a string or a list of strings", field: key)
        }
        guard !list.isEmpty else {
            throw ProctorError.badRequest("search key '\(key)' must list at least one string", field: key)
        }
        var out: [String] = []
        for item in list {
            guard let text = item.stringValue else {
                throw ProctorError.badRequest(
                    "search key '\(key)' must list only strings, got \(item.encodedString())",
                    field: key
                )
            }
            out.append(text)
        }
        return out
    }
}
