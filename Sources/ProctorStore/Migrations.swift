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
                    out.append(contentsOf: labelsTable(schema, flavor: flavor))
                }
            } else if schema.since < version {
                for field in schema.fields where field.since == version && field.name != "seq" {
                    out.append("ALTER TABLE \(table) ADD COLUMN \(columnDefinition(field, flavor: flavor))")
                    if field.type == .labels { out.append(contentsOf: labelsTable(schema, flavor: flavor)) }
                }
            }
            for index in schema.indexes where max(index.since, schema.since) == version {
                let name = quoted("ix_\(schema.table)_\(index.columns.joined(separator: "_"))")
                let unique = index.unique ? "UNIQUE " : ""
                out.append("CREATE \(unique)INDEX \(name) ON \(table) (\(index.columns.map(quoted).joined(separator: ", ")))")
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
    private static func references(_ field: FieldSpec) -> ResourceSchema? {
        switch field.name {
        case "group_id": return ResourceKind.groups.schema
        case "run_id": return ResourceKind.runs.schema
        case "user_id": return ResourceKind.users.schema
        case "definition_id": return ResourceKind.definitions.schema
        default: return nil
        }
    }

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
