import ProctorCore

/// The SQL text a kind's reads and writes repeat, made once per kind: a write's statements used to quote and join
/// some fifty column names each time (a tenth of a native write's instructions went to building strings).
struct KindSQL: Sendable {
    /// Every field's column, quoted, in the schema's order: `"id", "seq", …`.
    let allColumns: String
    /// `SELECT <every column> FROM "<table>"`.
    let selectAll: String
    /// The columns an insert writes (all but `seq`, which the database assigns), in order.
    let insertFields: [FieldSpec]
    /// `INSERT INTO "<table>" (<the insert's columns>) VALUES `.
    let insertInto: String
    /// Where each public field sits in a row of every field in schema order (``selectAll``, the point reader's).
    let wholeRowLayout: PublicJSONLayout

    init(_ schema: ResourceSchema) {
        allColumns = schema.fields.map { quoted($0.name) }.joined(separator: ", ")
        selectAll = "SELECT \(allColumns) FROM \(quoted(schema.table))"
        insertFields = schema.fields.filter { $0.name != "seq" }
        insertInto =
            "INSERT INTO \(quoted(schema.table)) (\(insertFields.map { quoted($0.name) }.joined(separator: ", "))) VALUES "
        wholeRowLayout = PublicJSONLayout(schema.kind, columns: schema.fields)
    }

    private static let all = ResourceKind.allCases.map { KindSQL($0.schema) }

    static func of(_ kind: ResourceKind) -> KindSQL { all[kind.ordinal] }
}
