import ProctorCore
import ProctorStore
import ProctorTestSupport
import Testing

/// What a DCI job page embeds: the rows a page of parents owns, read in one query and written as one JSON array
/// per parent.
@Suite struct RelatedRowsTests {
    /// Each parent's rows in order, cut at the per-parent limit, written from the stored rows as the same rows read
    /// as records would be; a parent without rows is absent; a repeated parent changes nothing.
    @Test(arguments: TestBackend.available)
    func encodedChildrenAreGroupedByParentInOrderAndCutAtTheLimit(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let (runs, events) = try await makeRunsWithEvents(store, counts: [3, 1, 0])
            let related = RelatedRows(store: store)
            let fields = ["comment", "id", "created_at"]
            let encoded = try await related.encodedChildren(
                .runEvents,
                field: "run_id",
                parents: runs.map(\.id) + [runs[0].id],
                sort: [SortKey("seq")],
                perParent: 2,
                fields: fields,
                write: Self.writeEvent
            )
            let slots = fields.map { FieldSlot(.runEvents, $0) }
            var expected: [String: [UInt8]] = [:]
            for (run, ids) in events {
                var out: [UInt8] = Array("[".utf8)
                for (index, id) in ids.prefix(2).enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    Self.writeEvent(
                        RecordScannedRow(try #require(try await store.get(.runEvents, id: id)), slots: slots),
                        &out
                    )
                }
                expected[run] = out + Array("]".utf8)
            }
            #expect(encoded == expected)
            #expect(encoded[runs[2].id] == nil)
            let first = try #require(encoded[runs[0].id])
            let decoded = try #require(try JSONValue.decode(String(decoding: first, as: UTF8.self))?.arrayValue)
            #expect(decoded.map { $0["id"]?.stringValue } == events[runs[0].id]!.prefix(2).map { $0 })
            #expect(decoded.map { $0["comment"]?.stringValue } == [#""a" 0"#, #""a" 1"#])
            // A field the kind does not have is the caller's error, as in any query: 400, not a crash.
            await #expect(throws: ProctorError.self) {
                _ = try await related.encodedChildren(
                    .runEvents,
                    field: "job",
                    parents: [runs[0].id],
                    sort: [],
                    perParent: 1,
                    fields: fields,
                    write: Self.writeEvent
                )
            }
        }
    }

    /// `{"comment":…,"id":…,"created_at":<micros>}` from columns comment, id, created_at.
    @Sendable static func writeEvent(_ row: any ScannedRow, _ out: inout [UInt8]) {
        out.append(contentsOf: #"{"comment":"#.utf8)
        row.writeJSONString(0, into: &out)
        out.append(contentsOf: #","id":"#.utf8)
        row.writeJSONString(1, into: &out)
        out.append(contentsOf: #","created_at":"#.utf8)
        out.append(contentsOf: String(row.int(2) ?? -1).utf8)
        out.append(UInt8(ascii: "}"))
    }

}
