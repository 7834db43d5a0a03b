import Foundation
import Logging
import ProctorCore
import SQLKit
import SQLiteKit
import Testing

@testable import ProctorStore

/// The store's SQLite connection: statements prepared once and kept (up to a bound), rows read by name for
/// SQLKit's callers and by position for records, SQLite's own errors carried, `REGEXP` installed, and a write
/// transaction's statements run inline without losing what a failing statement must undo.
@Suite struct SQLiteSessionTests {
    /// The values the store binds become the SQLite values SQLiteNIO's encoder makes of them, without it.
    @Test func bindsBecomeTheValuesSQLiteNIOWouldMake() throws {
        let binds: [any Encodable & Sendable] = [
            "text", "", "é\u{0}x", Int64.min, Int64.max, 0 as Int64, 42, -1.5, Double.infinity, String?.none,
            Int64?.none, Double?.none, Optional("wrapped"), Optional(Int64(7)), true, Data([1, 2, 3]),
        ]
        let encoder = SQLiteDataEncoder()
        #expect(try SQLiteSession.encode(binds) == binds.map { try encoder.encode($0) })
    }

    /// On SQLite the compiler binds SQLite's own values, which the session takes as they are: the same values the
    /// typed binds it made before became (a NULL of any type is SQLite's NULL).
    @Test func theCompilersBindsAreSQLitesOwnValues() throws {
        let values: [(Value, FieldType)] = [
            (.string("text"), .string), (.int(-3), .int), (.timestamp(1_700_000_000_000_000), .timestamp),
            (.double(2.5), .double), (.bool(true), .bool), (.bool(false), .bool), (.strings(["a", "b"]), .strings),
            (.json(.object(["k": .number(1)])), .json), (.null, .int), (.null, .double), (.null, .string),
            (.null, .bool),
        ]
        let sqlite = SQLCompiler(flavor: .sqlite, schema: ResourceKind.runs.schema)
        let postgres = SQLCompiler(flavor: .postgres, schema: ResourceKind.runs.schema)
        let binds = try values.map { try sqlite.encodable($0, type: $1) }
        #expect(binds.allSatisfy { $0 is SQLiteData })
        let typed = try values.map { try postgres.encodable($0, type: $1) }.map { bind -> any Encodable & Sendable in
            (bind as? Bool).map { Int64($0 ? 1 : 0) } ?? bind
        }
        #expect(try SQLiteSession.encode(binds) == SQLiteSession.encode(typed))
    }

    private func withSession(
        inline: Bool = false,
        _ body: (SQLiteSession) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try await SQLiteSession.open(
            path: directory.appendingPathComponent("test.sqlite").path,
            logger: Logger(label: "test"),
            inlineInTransaction: inline
        )
        do {
            try await body(session)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
    }

    /// A multi-row insert's placeholders (``ValueRows``) are numbered on from the binds before them, one group per
    /// row, the same whether the text is made afresh or kept, and the rows land as given.
    @Test func multiRowPlaceholdersAreNumberedOnFromTheBindsBefore() async throws {
        let rows: [[any Encodable & Sendable]] = [["a", 1], ["b", 2]]
        try await withSession { session in
            try await session.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)").run()
            for round in 0..<2 {  // the second time from the kept text
                var serializer = SQLSerializer(database: session)
                serializer.binds = ["before"]
                ValueRows(rows: rows, placeholder: "?").serialize(to: &serializer)
                #expect(serializer.sql == "(?2, ?3), (?4, ?5)")
                #expect(serializer.binds.compactMap { $0 as? String } == ["before", "a", "b"])
                let insert: SQLQueryString =
                    "INSERT INTO t (name, n) VALUES \(ValueRows(rows: rows, placeholder: "?"))"
                try await session.raw(insert).run()
                let stored = try await session.raw("SELECT name, n FROM t ORDER BY id").all().map {
                    "\(try $0.decode(column: "name", as: String.self))\(try $0.decode(column: "n", as: Int.self))"
                }
                #expect(stored == Array(repeating: ["a1", "b2"], count: round + 1).flatMap { $0 })
            }
            var postgres = SQLSerializer(database: session)
            ValueRows(rows: [["x"], ["y"], ["z"]], placeholder: "$").serialize(to: &postgres)
            #expect(postgres.sql == "($1), ($2), ($3)")
            // Rows of different widths (the store writes one kind per statement, so never) are still numbered.
            var ragged = SQLSerializer(database: session)
            ValueRows(rows: [["x", "y"], ["z"]], placeholder: "?").serialize(to: &ragged)
            #expect(ragged.sql == "(?1, ?2), (?3)")
        }
    }

    @Test func aStatementIsPreparedOnceAndTheCacheIsBounded() async throws {
        try await withSession { session in
            try await session.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)").run()
            let before = session.preparedCount
            for index in 0..<5 {
                try await session.raw("INSERT INTO t (name) VALUES (\(bind: "row-\(index)"))").run()
            }
            #expect(session.preparedCount == before + 1)
            // More distinct texts than the cache holds: the oldest go, and every statement still answers.
            for index in 0..<(SQLiteSession.statementCapacity + 20) {
                let row = try await session.raw("SELECT \(unsafeRaw: String(index)) AS n").first()
                #expect(try row?.decode(column: "n", as: Int.self) == index)
            }
            #expect(session.preparedCount == SQLiteSession.statementCapacity)
            let names = try await session.raw("SELECT name FROM t ORDER BY id").all().map {
                try $0.decode(column: "name", as: String.self)
            }
            #expect(names == (0..<5).map { "row-\($0)" })
        }
    }

    @Test func aLiteralLimitKeepsTheStatementPlannedWhereABoundOneIsPlannedAgain() async throws {
        try await withSession { session in
            try await session.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)").run()
            for index in 0..<10 { try await session.raw("INSERT INTO t (name) VALUES (\(bind: "r\(index)"))").run() }
            // A bound LIMIT: SQLite plans the statement again whenever its value changes (each page size asked).
            for limit in 3...5 { _ = try await session.raw("SELECT id FROM t ORDER BY id LIMIT \(bind: limit)").all() }
            let bound = session.repreparedCount
            #expect(bound >= 2)
            // The store's lists write the limit into the text: the kept statement runs as prepared.
            for _ in 0..<3 {
                let ids = try await session.raw("SELECT id FROM t WHERE id > \(bind: 2) ORDER BY id" + .limit(5)).all()
                #expect(ids.count == 5)
            }
            #expect(session.repreparedCount == bound)
        }
    }

    /// A filter beside another index's sort (`status = ? ORDER BY created DESC`, every list's shape) makes SQLite's
    /// plan look at the bound value; clearing the bindings after a run would expire the statement, and each run
    /// would prepare it again.
    @Test func aFilteredSortedStatementKeepsItsPlanFromRunToRun() async throws {
        try await withSession { session in
            try await session.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, status TEXT, created INTEGER)").run()
            try await session.raw("CREATE INDEX ix_t_created ON t (created)").run()
            for index in 0..<10 {
                let status = index % 2 == 0 ? "success" : "failure"
                try await session.raw("INSERT INTO t (status, created) VALUES (\(bind: status), \(bind: index))").run()
            }
            let before = session.repreparedCount
            for (status, expected) in [("success", [8, 6, 4]), ("failure", [9, 7, 5]), ("success", [8, 6, 4])] {
                let rows = try await session.raw(
                    "SELECT created FROM t WHERE status = \(bind: status) ORDER BY created DESC" + .limit(3)
                ).all()
                #expect(try rows.map { try $0.decode(column: "created", as: Int.self) } == expected)
            }
            #expect(session.repreparedCount == before)
            // A large value is not kept bound with the statement, and the next run binds its own.
            let large = String(repeating: "x", count: SQLiteSession.keptBindBytes + 1)
            try await session.raw("INSERT INTO t (status, created) VALUES (\(bind: large), 100)").run()
            try await session.raw("INSERT INTO t (status, created) VALUES (\(bind: "small"), 101)").run()
            let statuses = try await session.raw("SELECT status FROM t WHERE created >= 100 ORDER BY created").all()
            #expect(try statuses.map { try $0.decode(column: "status", as: String.self) } == [large, "small"])
        }
    }

    @Test func rowsAreReadByNameWithNullsAndBlobs() async throws {
        try await withSession { session in
            let row = try #require(
                try await session.raw("SELECT 1 AS a, NULL AS b, 2.5 AS c, 'x' AS d, x'6869' AS e").first()
            )
            #expect(row.allColumns == ["a", "b", "c", "d", "e"])
            #expect(try row.decode(column: "a", as: Int.self) == 1)
            #expect(try row.decodeNil(column: "b"))
            #expect(try row.decode(column: "c", as: Double.self) == 2.5)
            #expect(try row.decode(column: "d", as: String.self) == "x")
            #expect(!row.contains(column: "missing"))
            #expect(throws: DecodingError.self) { try row.decode(column: "missing", as: Int.self) }
        }
    }

    @Test func sqliteErrorsKeepSQLiteWords() async throws {
        try await withSession { session in
            try await session.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)").run()
            try await session.raw("INSERT INTO t (name) VALUES ('a')").run()
            let failure = await #expect(throws: SQLiteFailure.self) {
                try await session.raw("INSERT INTO t (name) VALUES ('a')").run()
            }
            #expect(failure?.description.contains("UNIQUE constraint failed") == true)
            // The failed statement was reset: the same text runs again.
            try await session.raw("INSERT INTO t (name) VALUES ('b')").run()
            await #expect(throws: SQLiteFailure.self) { try await session.raw("SELECT * FROM nowhere").run() }
        }
    }

    @Test func regexpMatchesAsTheFiltersExpect() async throws {
        try await withSession { session in
            func value(_ sql: String) async throws -> Int? {
                let row = try await session.raw(SQLQueryString(sql)).first()
                return try row.flatMap { try $0.decodeNil(column: "m") ? nil : $0.decode(column: "m", as: Int.self) }
            }
            var answers: [Int?] = []
            for sql in [
                "SELECT 'DHCP-1' REGEXP '^DHCP' AS m", "SELECT 'dhcp-1' REGEXP '^DHCP' AS m",
                "SELECT 'dhcp-1' REGEXP '(?i)^DHCP' AS m", "SELECT 12 REGEXP '1' AS m", "SELECT 'x' REGEXP '(' AS m",
                "SELECT 'x' REGEXP NULL AS m",
            ] {
                answers.append(try await value(sql))
            }
            #expect(answers == [1, 0, 1, 0, 0, nil])
        }
    }

    /// The writer's statements inside its transaction run inline; a failing one is still undone by its
    /// savepoint, and the rest commit.
    @Test func inlineStatementsInATransactionRollBackToTheirSavepoint() async throws {
        try await withSession(inline: true) { session in
            try await session.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)").run()
            try await session.raw("BEGIN IMMEDIATE").run()
            try await session.raw("INSERT INTO t (name) VALUES ('kept')").run()
            try await session.raw("SAVEPOINT w").run()
            try await session.raw("INSERT INTO t (name) VALUES ('undone')").run()
            await #expect(throws: SQLiteFailure.self) {
                try await session.raw("INSERT INTO t (name) VALUES ('kept')").run()
            }
            try await session.raw("ROLLBACK TO w").run()
            try await session.raw("RELEASE w").run()
            try await session.raw("COMMIT").run()
            let names = try await session.raw("SELECT name FROM t ORDER BY id").all().map {
                try $0.decode(column: "name", as: String.self)
            }
            #expect(names == ["kept"])
        }
    }

    @Test func aClosedSessionRefusesStatements() async throws {
        try await withSession { session in
            await session.close()
            #expect(session.isClosed)
            await #expect(throws: SQLiteFailure.self) { try await session.raw("SELECT 1").run() }
        }
    }
}
