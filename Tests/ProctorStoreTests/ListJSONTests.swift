import Foundation
import ProctorCore
import ProctorStoreWriting
import ProctorTestSupport
import Testing

@testable import ProctorStore

/// Pages written as JSON while they are read (`StoreReader.listJSON`, the native API's lists) hold exactly what
/// the same page read as records writes: the same bytes, cursor, total and anchors.
@Suite struct ListJSONTests {
    /// Runs with every type of field set (text JSON escapes, labels, tags, options, a duration, flags, times, nulls),
    /// in two groups.
    private func seed(_ store: SQLStore) async throws -> (mine: Record, theirs: Record) {
        let mine = try await makeGroup(store, "mine")
        let theirs = try await makeGroup(store, "theirs")
        let tricky = "quote \" backslash \\ slash / newline \n bell \u{7} «ünïcode» 日本語"
        for index in 0..<23 {
            var values: [String: Value] = [
                "group_id": .string((index % 5 == 4 ? theirs : mine).id),
                "name": .string(index % 3 == 0 ? tricky + " \(index)" : "run-\(index)"),
                "executor": .string("client"), "status": .string(index % 4 == 0 ? "failure" : "success"),
                "labels": .json(
                    .object(["branch": .string(index % 2 == 0 ? "main" : "stable"), "k": .string(tricky)])
                ),
                "tags": .strings(["a", tricky]), "attempts": .int(Int64(index)),
                "options": .json(.object(["n": .number(Double(index) / 4), "list": .array([.bool(true), .null])])),
                "cancel_requested": .bool(index % 2 == 1),
            ]
            if index % 2 == 0 {
                values["duration"] = .double(Double(index) * 1.25)
                values["started_at"] = .timestamp(1_700_000_000_123_456 + Int64(index))
                values["exit_code"] = .int(-Int64(index))
            }
            _ = try await store.insert(Record(.runs, values))
        }
        return (mine, theirs)
    }

    /// `list`'s page written as the native API writes it: the items' JSON array.
    private func items(_ page: Page) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (index, record) in page.items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            record.writePublicJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    @Test(arguments: TestBackend.available)
    func aWrittenPageHoldsTheBytesOfTheRecordPage(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let (mine, _) = try await seed(store)
            let newest = [SortKey("created_at", descending: true)]
            var queries: [Query] = [
                Query(),
                Query(filter: .equal("status", "success"), sort: newest, limit: 5),
                Query(filter: .and([.equal("status", "success"), .equal("labels.branch", "main")]), sort: newest),
                Query(sort: [SortKey("name")], limit: 4, fields: ["name", "labels", "duration"]),
                Query(sort: [SortKey("duration", descending: true)], limit: 3, offset: 7),
                Query(limit: 0),
                Query(sort: newest, limit: 6, excludedFields: ["labels", "options", "name"]),
            ]
            queries[1].includeTotal = true
            // Each page twice: written from its rows, then from the rows' JSON kept by the first (RowJSONCache).
            for scope in [Scope.everything, .groups([mine.id])] {
                for query in queries + queries {
                    let records = try await store.list(.runs, query: query, scope: scope)
                    let written = try await store.listJSON(.runs, query: query, scope: scope)
                    #expect(
                        String(decoding: written.items, as: UTF8.self)
                            == String(decoding: items(records), as: UTF8.self)
                    )
                    #expect(written.count == records.items.count)
                    #expect(written.total == records.total)
                    #expect(written.nextCursor == records.nextCursor)
                    #expect(written.limit == records.limit)
                }
            }
            #expect(store.rowJSON?.usage.rows == 23)
            // The JSON is JSON: every run of the first page reads back, with its labels as they were stored.
            let page = try await store.listJSON(.runs, query: Query(limit: 50), scope: .everything)
            let decoded = try #require(try JSONValue.decode(String(decoding: page.items, as: UTF8.self))?.arrayValue)
            #expect(decoded.count == 23)
            #expect(decoded.first?["labels"]?["k"]?.stringValue?.hasPrefix("quote \" backslash") == true)
        }
    }

    /// Walking a listing by cursor, and by offset (where each page leaves the keyset anchors the next one starts
    /// from), through written pages gives every matching run once, in order, as the record pages do.
    @Test(arguments: TestBackend.available)
    func walkingWrittenPagesByCursorAndByOffsetMeetsEveryRunOnce(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            _ = try await seed(store)
            let sorted = Query(filter: .equal("status", "success"), sort: [SortKey("attempts", descending: true)])
            let all = try await store.list(.runs, query: sorted, scope: .everything).items.map(\.id)
            #expect(all.count == 17)
            func ids(_ page: JSONPage) throws -> [String] {
                let items = try #require(try JSONValue.decode(String(decoding: page.items, as: UTF8.self))?.arrayValue)
                return items.compactMap { $0["id"]?.stringValue }
            }
            var byCursor: [String] = []
            var query = sorted
            query.limit = 5
            while true {
                let page = try await store.listJSON(.runs, query: query, scope: .everything)
                byCursor += try ids(page)
                guard let next = page.nextCursor else { break }
                query.cursor = next
            }
            #expect(byCursor == all)
            var byOffset: [String] = []
            for offset in stride(from: 0, to: 20, by: 5) {
                var query = sorted
                query.limit = 5
                query.offset = offset
                let written = try await store.listJSON(.runs, query: query, scope: .everything)
                byOffset += try ids(written)
                // The same page again, from the anchor the written page left, as records.
                let again = try await store.list(.runs, query: query, scope: .everything)
                #expect(again.items.map(\.id) == (try ids(written)))
            }
            #expect(byOffset == all)
        }
    }

    /// Two stores on one new database (a SQLite file, a PostgreSQL schema): `store`, and `replica` standing for
    /// another replica or process writing to it.
    private func withStoreAndReplica(
        _ backend: TestBackend,
        _ body: (_ store: SQLStore, _ replica: SQLStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "proctor-test-\(UUID().uuidString)"
        )
        let schema = TestBackend.newPostgresSchema()
        let store = try await backend.makeStore(directory: directory, postgresSchema: schema)
        let replica = try await backend.makeStore(directory: directory, postgresSchema: schema)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try await body(store, replica)
        } catch {
            await replica.shutdown()
            await store.shutdown()
            throw error
        }
        await replica.shutdown()
        await store.shutdown()
    }

    /// A row's kept JSON serves a page only while the row is unchanged: a change made through this store, through
    /// another store on the same database (another replica, another process), or undone by a rolled-back
    /// transaction is what the next page shows, and a deleted row is gone from it.
    @Test(arguments: TestBackend.available)
    func aKeptRowIsWrittenAgainOnceItChangedWhereverItChanged(backend: TestBackend) async throws {
        try await withStoreAndReplica(backend) { store, replica in
            _ = try await seed(store)
            let newest = Query(sort: [SortKey("created_at", descending: true)], limit: 10)
            func page() async throws -> String {
                let written = try await store.listJSON(.runs, query: newest, scope: .everything)
                let records = try await store.list(.runs, query: newest, scope: .everything)
                #expect(
                    String(decoding: written.items, as: UTF8.self) == String(decoding: items(records), as: UTF8.self)
                )
                return String(decoding: written.items, as: UTF8.self)
            }
            let first = try await page()
            #expect(store.rowJSON?.usage.rows == 10)
            #expect(try await page() == first)
            let runs = try await store.list(.runs, query: newest, scope: .everything).items

            _ = try await store.update(
                .runs,
                id: runs[0].id,
                changes: ["name": .string("renamed here")],
                ifMatch: nil,
                scope: .everything
            )
            #expect(try await page().contains("\"name\":\"renamed here\""))

            _ = try await replica.update(
                .runs,
                id: runs[1].id,
                changes: ["status": .string("canceled"), "name": .string("renamed by the replica")],
                ifMatch: nil,
                scope: .everything
            )
            #expect(try await page().contains("\"name\":\"renamed by the replica\""))

            struct Undo: Error {}
            await #expect(throws: Undo.self) {
                try await store.transaction { inside in
                    _ = try await inside.update(
                        .runs,
                        id: runs[2].id,
                        changes: ["name": .string("never committed")],
                        ifMatch: nil,
                        scope: .everything
                    )
                    // Written (and kept) inside the transaction, which sees its own change.
                    let seen = try await inside.listJSON(.runs, query: newest, scope: .everything)
                    #expect(String(decoding: seen.items, as: UTF8.self).contains("never committed"))
                    throw Undo()
                }
            }
            let afterRollback = try await page()
            #expect(!afterRollback.contains("never committed"))

            #expect(try await replica.delete(.runs, id: runs[3].id, ifMatch: nil, scope: .everything))
            #expect(!(try await page()).contains(runs[3].id))
        }
    }

    /// One row read as JSON (`getJSON`, the native API's `GET /<kind>/{id}`) holds the bytes and etag of the record
    /// read by `get`, read afresh or kept: after a change through another store on the same database, and never
    /// outside the caller's scope, kept or not.
    @Test(arguments: TestBackend.available)
    func aRowReadAsJSONIsTheRecordsJSONWithinTheScope(backend: TestBackend) async throws {
        try await withStoreAndReplica(backend) { store, replica in
            let (mine, theirs) = try await seed(store)
            let runs = try await store.list(.runs, query: Query(limit: 50), scope: .everything).items
            func expectSame(_ id: String, _ scope: Scope) async throws {
                let json = try await store.getJSON(.runs, id: id, scope: scope)
                let record = try await store.get(.runs, id: id, scope: scope)
                #expect(
                    json.map { String(decoding: $0.json, as: UTF8.self) }
                        == record.map { String(decoding: $0.publicJSONBytes(), as: UTF8.self) }
                )
                #expect(json?.etag == record?.etag)
            }
            for run in runs {
                try await expectSame(run.id, .everything)  // read afresh
                try await expectSame(run.id, .everything)  // kept
                // Outside the scope whether kept or not: a row of the other group is not there.
                let other = run.groupID == mine.id ? theirs.id : mine.id
                #expect(try await store.getJSON(.runs, id: run.id, scope: .groups([other])) == nil)
                try await expectSame(run.id, .groups([run.groupID ?? ""]))
            }
            _ = try await replica.update(
                .runs,
                id: runs[0].id,
                changes: ["name": .string("renamed by the replica")],
                ifMatch: nil,
                scope: .everything
            )
            try await expectSame(runs[0].id, .everything)
            #expect(
                try await store.getJSON(.runs, id: runs[0].id, scope: .everything).map {
                    String(decoding: $0.json, as: UTF8.self)
                }?.contains("renamed by the replica") == true
            )
            #expect(try await replica.delete(.runs, id: runs[1].id, ifMatch: nil, scope: .everything))
            #expect(try await store.getJSON(.runs, id: runs[1].id, scope: .everything) == nil)
            #expect(try await store.getJSON(.runs, id: "no-such-run", scope: .everything) == nil)
        }
    }

    /// The kept JSON stays within its budget, however many rows pass through it.
    @Test func theKeptJSONStaysWithinItsBudget() {
        let cache = RowJSONCache(budget: 64 << 10)
        let json = [UInt8](repeating: UInt8(ascii: "x"), count: 1000)
        for batch in 0..<100 {
            cache.keep(.runs, (0..<10).map { (id: "run-\(batch)-\($0)", etag: "e\($0)", json: json) })
            #expect(cache.usage.bytes <= 64 << 10)
            #expect(cache.entry(.runs, id: "run-0-0") != nil)
        }
        #expect(cache.entry(.runs, id: "run-0-1") == nil)
        #expect(cache.usage.rows > 0)
        // The rows used last stay: the newest, and an old one asked for again each time others were kept.
        #expect(cache.entry(.runs, id: "run-99-9")?.json == json)
        // Too large a row is not kept at all.
        cache.keep(.runs, [(id: "huge", etag: "e", json: [UInt8](repeating: 0, count: 33 << 10))])
        #expect(cache.entry(.runs, id: "huge") == nil)
    }
}
