import Foundation
import Hummingbird
import HummingbirdCore
import ProctorCore
import ProctorHTTPKit

/// The native API's list parameters: `filter=<field><op><value>` (repeatable, CDRouter's grammar),
/// `type=union` for OR, `sort=-created_at,name`, `limit`, `offset`, `cursor`, `fields=a,b`, `count=true`.
enum NativeQuery {
    static let parameters: Set<String> = ["filter", "type", "sort", "limit", "offset", "cursor", "fields", "count"]

    static func parse(_ parameters: FlatDictionary<Substring, Substring>, schema: ResourceSchema) throws -> Query {
        for (key, _) in parameters where !Self.parameters.contains(String(key)) {
            throw ProctorError.unknownField(String(key), valid: Self.parameters.sorted(), role: "query parameter")
        }
        var query = Query()
        let type = parameters["type"].map(String.init) ?? "inter"
        guard type == "inter" || type == "union" else {
            throw ProctorError.badRequest("type must be 'inter' or 'union'", field: "type")
        }
        query.filter = try FilterExpression.parse(
            parameters.getAll("filter").map { String($0) },
            union: type == "union"
        )
        if let sort = parameters["sort"] { query.sort = FilterExpression.parseSort(String(sort)) }
        if let limit = parameters["limit"] {
            guard let value = Int(limit), value >= 0 else {
                throw ProctorError.badRequest("limit must be a non-negative integer", field: "limit")
            }
            query.limit = value
        }
        if let offset = parameters["offset"] {
            guard let value = Int(offset), value >= 0 else {
                throw ProctorError.badRequest("offset must be a non-negative integer", field: "offset")
            }
            query.offset = value
        }
        if let cursor = parameters["cursor"], !cursor.isEmpty { query.cursor = String(cursor) }
        if let fields = parameters["fields"] {
            query.fields = fields.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        if let count = parameters["count"] { query.includeTotal = count == "true" || count == "1" }
        return query
    }
}
