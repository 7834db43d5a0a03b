import Foundation
import ProctorCore
import ProctorTestSupport
import Testing

@testable import ProctorStore

/// The bulk import's COPY path on PostgreSQL (``PostgresCopyImport``): what COPY's text format must escape, every
/// column type, and all or nothing when a later batch fails. Run on SQLite too, where the same rows go through
/// ``SQLiteDirectImport``, so both backends are held to what a single insert stores.
@Suite struct CopyImportTests {
    /// Runs whose values hold what COPY's text format treats specially: tabs, newlines, carriage returns,
    /// backslashes, `\N` and `\.` as text, empty strings, quotes and non-ASCII text, in strings, lists, JSON and
    /// labels; doubles that must read back bit for bit; booleans; NULLs beside values.
    static func awkwardRuns() -> [Record] {
        let texts = [
            "tab\there", "line\nbreak", "cr\rlf\r\n", "back\\slash", "\\N", "\\.", "", "l'été \"chaud\" ✓ 日本",
            "trailing\\", "\t\n\\",
        ]
        let doubles: [Double] = [0.1, 1e-300, 123_456_789.125, -2.5e20, 0, 1.0 / 3.0]
        return texts.indices.map { index in
            let text = texts[index]
            var values: [String: Value] = [
                "id": .string("copy-\(index)"), "group_id": .string(index % 2 == 0 ? "grp-a" : "grp-b"),
                "status": .string(index % 3 == 0 ? "success" : "failure"), "name": .string(text),
                "comment": .string(text + "!"), "created_at": .timestamp(sampleTime(index)),
                "updated_at": .timestamp(sampleTime(index) + 1), "duration": .double(doubles[index % doubles.count]),
                "cancel_requested": .bool(index % 2 == 1), "priority": .int(Int64(index) - 3),
                "tags": .strings([text, "plain"]),
                "options": .json(.object(["value": .string(text), "n": .number(1.5)])),
                "labels": .json(.object(["text": .string(text), "n": .string("\(index)"), "tab\tkey": .string("v")])),
            ]
            if index % 3 == 1 { values["finished_at"] = .timestamp(sampleTime(index) + 7) }
            if index == 4 { values["comment"] = .null }
            return Record(.runs, values)
        }
    }

    @Test(arguments: Backend.available)
    func importedRowsReadBackAsInsertedOnes(_ backend: Backend) async throws {
        let records = Self.awkwardRuns()
        var stored: [[Record]] = []
        var labels: [[SQLStore.StoredLabel]] = []
        for way in ["insert", "import"] {
            try await withStore(backend) { store in
                try await makeSampleGroups(store)
                if way == "insert" {
                    for record in records { _ = try await store.insert(record) }
                } else {
                    #expect(try await store.importRecords(.runs, Batches(records, size: 3)) == records.count)
                }
                let page = try await store.list(.runs, query: Query(sort: [SortKey("seq")]), scope: .everything)
                stored.append(
                    page.items.map { record in
                        var record = record
                        record.values["etag"] = nil
                        return record
                    }
                )
                labels.append(try await store.storedLabels(.runs))
            }
        }
        #expect(stored[0].count == records.count)
        #expect(stored[1] == stored[0])
        #expect(labels[1] == labels[0])
        #expect(labels[0].count == 3 * records.count)
        // What was given comes back, byte for byte.
        for (record, read) in zip(records, stored[1]) {
            for field in ["name", "comment", "duration", "tags", "options", "labels", "cancel_requested", "priority"] {
                #expect(read[field] == record[field], "\(field) of \(record.id)")
            }
        }
    }

    /// A bad row in a later batch, after earlier batches were copied, leaves nothing: not the runs, not their
    /// labels; and the store takes an import again afterwards.
    @Test(arguments: Backend.available)
    func aFailingBatchUndoesTheBatchesCopiedBeforeIt(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            let good = sampleRuns(count: 30)
            for bad in ["duplicate id", "unknown group", "unknown definition", "wrong type"] {
                var records = good
                switch bad {
                case "duplicate id": records[27]["id"] = records[3]["id"]
                case "unknown group": records[25]["group_id"] = .string("no-such-group")
                case "unknown definition": records[29]["definition_id"] = .string("no-such-definition")
                default: records[28]["priority"] = .string("high")
                }
                await #expect(throws: ProctorError.self, "\(bad)") {
                    try await store.importRecords(.runs, Batches(records, size: 10))
                }
                #expect(try await store.count(.runs, query: Query(), scope: .everything) == 0, "\(bad)")
                #expect(try await store.storedLabels(.runs) == [], "\(bad)")
            }
            #expect(try await store.importRecords(.runs, Batches(good, size: 10)) == 30)
            let page = try await store.list(.runs, query: Query(sort: [SortKey("seq")], limit: 100), scope: .everything)
            #expect(page.items.map(\.id) == good.map(\.id))
            // Seqs follow the order of the rows, and the next insert comes after them.
            let seqs = page.items.map(\.seq)
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
            var later = sampleRuns(count: 31)[30]
            later["id"] = .string("later")
            let inserted = try await store.insert(later)
            #expect(inserted.seq > (seqs.last ?? .max))
        }
    }
}
