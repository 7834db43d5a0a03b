import Foundation
import ProctorCore

/// Versioned schema changes, derived from the catalog: a table or field whose `since` is N is created at
/// version N. Released versions are never rewritten; a later change adds fields with a higher `since`.
enum Migrations {
    static func statements(for version: Int, flavor: SQLFlavor) -> [String] {
        var out: [String] = []
        for schema in Catalog.all where schema.since <= version {
            let table = quoted(schema.table)
            if schema.since == version {
                var columns = [flavor.sequenceColumn]
                for field in schema.fields where field.name != "seq" && field.since <= version {
                    columns.append(columnDefinition(field, flavor: flavor))
                }
                out.append("CREATE TABLE \(table) (\(columns.joined(separator: ", ")))")
                if let labels = schema.labelsField, labels.since <= version {
                    out.append(contentsOf: labelsTable(schema, flavor: flavor, version: version))
                }
            } else if schema.since < version {
                for field in schema.fields where field.since == version && field.name != "seq" {
                    out.append("ALTER TABLE \(table) ADD COLUMN \(columnDefinition(field, flavor: flavor))")
                    if field.type == .labels {
                        out.append(contentsOf: labelsTable(schema, flavor: flavor, version: version))
                    }
                }
                if version == carriedSince, let labels = schema.labelsField, labels.since < version {
                    out.append(contentsOf: carriedLabelColumns(schema, flavor: flavor, backfill: true))
                }
            }
            // Drops first: an index a version replaces (made partial, say) keeps its name.
            for index in schema.indexes where index.until == version && max(index.since, schema.since) < version {
                out.append("DROP INDEX \(quoted(index.name(in: schema.table)))")
            }
            for index in schema.indexes where max(index.since, schema.since) == version && index.exists(at: version) {
                let unique = index.unique ? "UNIQUE " : ""
                var create =
                    "CREATE \(unique)INDEX \(quoted(index.name(in: schema.table))) ON \(table) (\(index.columns.map(quoted).joined(separator: ", ")))"
                if let condition = index.condition { create += " WHERE \(condition)" }
                out.append(create)
            }
        }
        return out
    }

    private static func columnDefinition(_ field: FieldSpec, flavor: SQLFlavor) -> String {
        var definition = "\(quoted(field.name)) \(flavor.columnType(field.type))"
        if !field.nullable { definition += " NOT NULL" }
        if field.name == "id" { definition += " UNIQUE" }
        if let target = references(field) {
            definition += " REFERENCES \(quoted(target.table))(id)"
            if field.name == "run_id" || field.name == "user_id" { definition += " ON DELETE CASCADE" }
        }
        if field.type == .labels || field.type == .json || field.type == .strings {
            // Rows added by a later version get a valid empty value.
            definition += field.type == .strings ? " DEFAULT '[]'" : " DEFAULT '{}'"
        }
        return definition
    }

    /// Ownership links the database enforces: deleting a run deletes its events, files, results and log;
    /// deleting a user deletes its tokens and memberships; a group with resources cannot be deleted.
    static func references(_ field: FieldSpec) -> ResourceSchema? {
        switch field.name {
        case "group_id": return ResourceKind.groups.schema
        case "run_id": return ResourceKind.runs.schema
        case "user_id": return ResourceKind.users.schema
        case "definition_id": return ResourceKind.definitions.schema
        default: return nil
        }
    }

    /// The `<table>_labels` table as a store at `version` has it: version 1's table, and from version 5 on the
    /// row's carried columns.
    private static func labelsTable(_ schema: ResourceSchema, flavor: SQLFlavor, version: Int) -> [String] {
        labelsTable(schema, flavor: flavor)
            + (version >= carriedSince ? carriedLabelColumns(schema, flavor: flavor, backfill: false) : [])
    }

    /// The version that added the carried columns to the labels rows.
    static let carriedSince = 5

    /// Version 5: each labels row carries some of its row's columns (``ResourceSchema/labelsCarried``: its group,
    /// as the group's `seq`, and its status), kept in step by a trigger when the row's change, and the
    /// (key, value, created_at) index also holds them, so that a count or a distinct filtered by a label, the
    /// group and the status reads that index alone instead of probing the labels of every candidate row.
    private static func carriedLabelColumns(_ schema: ResourceSchema, flavor: SQLFlavor, backfill: Bool) -> [String] {
        let carried = schema.labelsCarried
        guard !carried.isEmpty else { return [] }
        let name = quoted(schema.table + "_labels")
        let parent = quoted(schema.table)
        var out = carried.map { "ALTER TABLE \(name) ADD COLUMN \(quoted($0.column)) \(flavor.columnType($0.type))" }
        if backfill {
            let assignments = carried.map { "\(quoted($0.column)) = \($0.value(of: "r.\(quoted($0.field))"))" }
            out.append(
                "UPDATE \(name) SET \(assignments.joined(separator: ", ")) FROM \(parent) AS r WHERE r.seq = \(name).row_seq"
            )
        }
        out.append("DROP INDEX \(quoted("ix_\(schema.table)_labels_key_value"))")
        let indexed = (["key", "value", "created_at"] + carried.map(\.column) + ["row_seq"]).map(quoted).joined(
            separator: ", "
        )
        out.append("CREATE INDEX \(quoted("ix_\(schema.table)_labels_key_value_created_at")) ON \(name) (\(indexed))")
        let trigger = quoted("\(schema.table)_labels_follow")
        let set = carried.map { "\(quoted($0.column)) = \($0.value(of: "NEW.\(quoted($0.field))"))" }.joined(
            separator: ", "
        )
        let update = "UPDATE \(name) SET \(set) WHERE row_seq = NEW.seq"
        let fields = carried.map { quoted($0.field) }
        switch flavor {
        case .sqlite:
            let changed = fields.map { "OLD.\($0) IS NOT NEW.\($0)" }.joined(separator: " OR ")
            out.append(
                "CREATE TRIGGER \(trigger) AFTER UPDATE OF \(fields.joined(separator: ", ")) ON \(parent) FOR EACH ROW WHEN \(changed) BEGIN \(update); END"
            )
        case .postgres:
            let changed = fields.map { "OLD.\($0) IS DISTINCT FROM NEW.\($0)" }.joined(separator: " OR ")
            out.append(
                "CREATE FUNCTION \(trigger)() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \(update); RETURN NULL; END $$"
            )
            out.append(
                "CREATE TRIGGER \(trigger) AFTER UPDATE OF \(fields.joined(separator: ", ")) ON \(parent) FOR EACH ROW WHEN (\(changed)) EXECUTE FUNCTION \(trigger)()"
            )
        }
        return out
    }

    /// Version 1's `<table>_labels`: never changed, since stores exist at every version.
    private static func labelsTable(_ schema: ResourceSchema, flavor: SQLFlavor) -> [String] {
        let name = quoted(schema.table + "_labels")
        let parent = quoted(schema.table)
        let text = flavor.columnType(.string)
        let integer = flavor.columnType(.int)
        let withoutRowID = flavor == .sqlite ? " WITHOUT ROWID" : ""
        return [
            "CREATE TABLE \(name) (row_seq \(integer) NOT NULL REFERENCES \(parent)(seq) ON DELETE CASCADE, key \(text) NOT NULL, value \(text) NOT NULL, created_at \(integer) NOT NULL, PRIMARY KEY (row_seq, key))\(withoutRowID)",
            "CREATE INDEX \(quoted("ix_\(schema.table)_labels_key_value")) ON \(name) (key, value, created_at, row_seq)",
        ]
    }
}

/// A column of a labels row copied from its row (schema version 5).
struct CarriedColumn: Sendable {
    /// The column in `<table>_labels`.
    let column: String
    /// The row's field it comes from.
    let field: String
    let type: FieldType
    /// The group is carried as the group's `seq`: a small integer where the id is a 36-character string, which
    /// keeps the labels rows (probed by every label filter) narrow.
    var isGroup: Bool { field == "group_id" }

    /// The column's value for a row whose field is the SQL expression `expression`.
    func value(of expression: String) -> String {
        isGroup ? "(SELECT seq FROM \(quoted(ResourceKind.groups.schema.table)) WHERE id = \(expression))" : expression
    }
}

extension ResourceSchema {
    /// What the labels rows carry of their row (from schema version 5): what a count or a distinct filtered by
    /// labels most often also filters on, the group (every non-admin caller's scope) and the status.
    var labelsCarried: [CarriedColumn] {
        guard labelsField != nil else { return [] }
        var out: [CarriedColumn] = []
        if grouped { out.append(CarriedColumn(column: "group_seq", field: "group_id", type: .int)) }
        if field("status") != nil { out.append(CarriedColumn(column: "status", field: "status", type: .string)) }
        return out
    }
}
