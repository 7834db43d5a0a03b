import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import ProctorCore
import SQLKit
import SQLiteKit
import Synchronization

/// What tests and benchmarks look at: query plans, stored labels, statistics and index definitions.
extension SQLStore {
    /// SQLite's plan for a ``list(_:query:scope:)`` (the `detail` column of `EXPLAIN QUERY PLAN`).
    func queryPlan(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> [String] {
        try await explain(try listStatement(kind, query: query, scope: scope).statement)
    }

    func explain(_ statement: SQLQueryString) async throws -> [String] {
        try await read { db in
            try await db.raw("EXPLAIN QUERY PLAN " + statement).all().map {
                try $0.decode(column: "detail", as: String.self)
            }
        }
    }

    /// SQLite's plan for a ``count(_:query:scope:)``.
    func countPlan(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> [String] {
        try await explain(try countStatement(kind, query: query, scope: scope))
    }

    /// A row of `<table>_labels`, with the group it carries as the group's id (tests).
    struct StoredLabel: Equatable, Sendable, CustomStringConvertible {
        var seq: Int64
        var key, value: String
        var createdAt: Int64
        var groupID, status: String?
        var description: String { "\(seq) \(key)=\(value) @\(createdAt) \(groupID ?? "-") \(status ?? "-")" }
    }

    /// Every labels row of a kind, by seq and key (tests).
    func storedLabels(_ kind: ResourceKind) async throws -> [StoredLabel] {
        let schema = kind.schema
        let carried = schema.labelsCarried
        let group = carried.contains(where: \.isGroup)
        let status = carried.contains { $0.column == "status" }
        let statement: SQLQueryString = """
            SELECT l.row_seq, l.key, l.value, l.created_at, \(unsafeRaw: group ? "g.id" : "NULL") AS group_id, \(unsafeRaw: status ? "l.status" : "NULL") AS status
            FROM \(unsafeRaw: quoted(schema.table + "_labels")) AS l \(unsafeRaw: group ? "LEFT JOIN \(quoted(ResourceKind.groups.schema.table)) AS g ON g.seq = l.group_seq" : "")
            ORDER BY l.row_seq, l.key
            """
        return try await read { db in
            try await db.raw(statement).all().map { row in
                StoredLabel(
                    seq: try row.decode(column: "row_seq", as: Int64.self),
                    key: try row.decode(column: "key", as: String.self),
                    value: try row.decode(column: "value", as: String.self),
                    createdAt: try row.decode(column: "created_at", as: Int64.self),
                    groupID: try row.decodeNil(column: "group_id")
                        ? nil : try row.decode(column: "group_id", as: String.self),
                    status: try row.decodeNil(column: "status")
                        ? nil : try row.decode(column: "status", as: String.self)
                )
            }
        }
    }

    /// Whether the planner has statistics of a table gathered by ANALYZE (tests).
    func hasStatistics(_ table: String) async throws -> Bool {
        let statement: SQLQueryString =
            flavor == .sqlite
            ? "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1' AND EXISTS (SELECT 1 FROM sqlite_stat1 WHERE tbl = \(bind: table))"
            : "SELECT COUNT(*) AS n FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = \(bind: table) AND last_analyze IS NOT NULL"
        return try await read { db in try await db.raw(statement).first()?.decode(column: "n", as: Int.self) ?? 0 } > 0
    }

    /// Whether PostgreSQL has vacuumed a table other than by autovacuum (tests).
    func hasBeenVacuumed(_ table: String) async throws -> Bool {
        let statement: SQLQueryString =
            "SELECT COUNT(*) AS n FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = \(bind: table) AND last_vacuum IS NOT NULL"
        return try await read { db in try await db.raw(statement).first()?.decode(column: "n", as: Int.self) ?? 0 } > 0
    }

    /// The store's foreign keys by table and name, each with its definition as the database prints it (tests).
    func foreignKeyDefinitions() async throws -> [String: String] {
        try await definitions(
            flavor == .sqlite
                ? "SELECT m.name || '.' || f.id || '.' || f.seq AS name, f.\"from\" || ' -> ' || f.\"table\" || '(' || coalesce(f.\"to\", '') || ') ON DELETE ' || f.on_delete AS definition FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table'"
                : "SELECT c.conrelid::regclass::text || '.' || c.conname AS name, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace WHERE n.nspname = current_schema() AND c.contype = 'f'"
        )
    }

    /// The store's indexes by name, each with its definition as the database prints it (tests).
    func indexDefinitions() async throws -> [String: String] {
        try await definitions(
            flavor == .sqlite
                ? "SELECT name, sql AS definition FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                : "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE schemaname = current_schema()"
        )
    }

    /// The `name` and `definition` columns of a catalog query, as a dictionary.
    private func definitions(_ statement: SQLQueryString) async throws -> [String: String] {
        try await read { db in
            var out: [String: String] = [:]
            for row in try await db.raw(statement).all() {
                out[try row.decode(column: "name", as: String.self)] = try row.decode(
                    column: "definition",
                    as: String.self
                )
            }
            return out
        }
    }

    /// Runs one statement as it is (tests).
    func execute(_ statement: SQLQueryString) async throws {
        defer { anchors.invalidateAll() }
        try await write { db in try await db.raw(statement).run() }
    }
}
