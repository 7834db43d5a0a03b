import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import ProctorCore
import SQLKit
import SQLiteKit
import Synchronization

/// Inserts, updates, deletes and row locks, each in its own transaction unless pinned to one.
extension SQLStore {
    // MARK: Writes

    public func insert(_ record: Record) async throws -> Record {
        defer { wrote(record.kind) }
        let prepared = try RowCodec.prepareInsert(record, now: Timestamp.now())
        let schema = record.kind.schema
        let codec = RowCodec(flavor: flavor, schema: schema)
        let insert = try codec.insertStatement([prepared])
        let labels = codec.labelsValues(prepared)
        if labels.isEmpty {
            let seq = try await write { db in try await Self.insertReturningSeq(db, insert) }
            var stored = prepared
            stored["seq"] = .int(seq)
            return stored
        }
        return try await inTransaction { db in
            let seq = try await Self.insertReturningSeq(db, insert)
            var stored = prepared
            stored["seq"] = .int(seq)
            try await db.raw(try codec.labelsInsert([(seq, stored)])).run()
            return stored
        }
    }

    static func insertReturningSeq(_ db: any SQLDatabase, _ statement: SQLQueryString) async throws -> Int64 {
        guard let row = try await db.raw(statement + " RETURNING seq").first() else {
            throw ProctorError(.internal, "insert returned no row")
        }
        return try row.decode(column: "seq", as: Int64.self)
    }

    public func update(
        _ kind: ResourceKind,
        id: String,
        changes: [String: Value],
        ifMatch: String?,
        scope: Scope
    ) async throws -> Record {
        defer { wrote(kind) }
        let schema = kind.schema
        let codec = RowCodec(flavor: flavor, schema: schema)
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        let validated = try RowCodec.validateChanges(changes, schema: schema)
        let now = Timestamp.now()
        return try await inTransaction { db in
            var assignments: [SQLQueryString] = []
            for (name, value) in validated.sorted(by: { $0.key < $1.key }) {
                assignments.append(
                    "\(unsafeRaw: quoted(name)) = \(bind: try compiler.encodable(value, type: schema.field(name)?.type))"
                )
            }
            assignments.append("updated_at = \(bind: now)")
            assignments.append("etag = \(bind: RowCodec.newETag())")
            var statement: SQLQueryString = "UPDATE \(unsafeRaw: quoted(schema.table)) SET "
            statement += assignments.joined(separator: ", ")
            statement += " WHERE id = \(bind: id)"
            if let scopeClause = try compiler.whereClause(Query(), scope: scope) { statement += " AND " + scopeClause }
            if let ifMatch { statement += " AND etag = \(bind: ifMatch)" }
            // The row as it now is comes back from the UPDATE itself (no second read).
            statement += " RETURNING \(unsafeRaw: KindSQL.of(kind).allColumns)"
            guard let updated = try await records(db, statement, kind: kind, fields: schema.fields, codec: codec).first
            else {
                if ifMatch != nil, try await self.fetch(db, kind, id: id, scope: scope) != nil {
                    throw ProctorError.conflict(
                        "the \(kind.singular) changed since it was read (etag mismatch)",
                        field: "If-Match"
                    )
                }
                throw ProctorError.notFound("no such \(kind.singular): \(id)")
            }
            guard let seq = updated["seq"].intValue else {
                throw ProctorError(.internal, "an updated \(kind.singular) came back without its seq")
            }
            if let labels = schema.labelsField, validated[labels.name] != nil {
                try await db.raw("DELETE FROM \(unsafeRaw: codec.labelsTable) WHERE row_seq = \(bind: seq)").run()
                if !codec.labelsValues(updated).isEmpty {
                    try await db.raw(try codec.labelsInsert([(seq, updated)])).run()
                }
            }
            return updated
        }
    }

    public func delete(_ kind: ResourceKind, id: String, ifMatch: String?, scope: Scope) async throws -> Bool {
        // A delete may cascade to the rows of other kinds.
        defer { anchors.invalidateAll() }
        defer { wrote(kind) }
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        return try await write { db in
            var statement: SQLQueryString = "DELETE FROM \(unsafeRaw: quoted(schema.table)) WHERE id = \(bind: id)"
            if let scopeClause = try compiler.whereClause(Query(), scope: scope) { statement += " AND " + scopeClause }
            if let ifMatch { statement += " AND etag = \(bind: ifMatch)" }
            let deleted = try await db.raw(statement + " RETURNING id").all()
            if deleted.isEmpty, ifMatch != nil, try await self.fetch(db, kind, id: id, scope: scope) != nil {
                throw ProctorError.conflict(
                    "the \(kind.singular) changed since it was read (etag mismatch)",
                    field: "If-Match"
                )
            }
            return !deleted.isEmpty
        }
    }

    public func deleteAll(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int {
        defer { anchors.invalidateAll() }
        defer { wrote(kind) }
        let schema = kind.schema
        let compiler = SQLCompiler(flavor: flavor, schema: schema)
        return try await write { db in
            var statement: SQLQueryString = "DELETE FROM \(unsafeRaw: quoted(schema.table))"
            if let clause = try compiler.whereClause(query, scope: scope) { statement += " WHERE " + clause }
            return try await db.raw(statement + " RETURNING seq").all().count
        }
    }

    /// SQLite's writes all go through its one writer (``WriteGroups``); PostgreSQL's run side by side.
    public var serializesWrites: Bool { flavor == .sqlite }

    public func lock(_ kind: ResourceKind, id: String) async throws -> Bool {
        let lockClause = flavor == .postgres ? " FOR UPDATE" : ""
        return try await write { db in
            try await db.raw(
                "SELECT seq FROM \(unsafeRaw: quoted(kind.schema.table)) WHERE id = \(bind: id)\(unsafeRaw: lockClause)"
            ).first() != nil
        }
    }
}
