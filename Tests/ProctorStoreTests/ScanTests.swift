import ProctorCore
import ProctorTestSupport
import Testing

@testable import ProctorStore

/// Scans: rows read in place (`StoreReader.scan`) answer what the same rows read as records answer.
@Suite struct ScanTests {
    /// Each column a scan reads in place gives what the record read by `get` holds: nulls, integers, times,
    /// text with characters JSON escapes, and numbers kept as text.
    @Test(arguments: TestBackend.available)
    func aScannedRowReadsWhatTheRecordHolds(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let tricky = "quote \" backslash \\ newline \n tab \t bell \u{7} «ünïcode» 日本語"
            let run = try await store.insert(
                Record(
                    .runs,
                    [
                        "group_id": .string(group.id), "name": .string(tricky), "executor": .string("client"),
                        "attempts": .int(3),
                    ]
                )
            )
            let fields = ["id", "name", "comment", "created_at", "attempts", "seq", "status"]
            let record = try #require(try await store.get(.runs, id: run.id))
            let reference = RecordScannedRow(record, slots: fields.map { FieldSlot(.runs, $0) })
            let answers = try await store.scan(
                .runs,
                fields: fields,
                query: Query(filter: .equal("id", run.id)),
                scope: .everything,
                into: [Answers]()
            ) { answers, row in answers.append(Answers(row, columns: fields.count)) }
            #expect(answers == [Answers(reference, columns: fields.count)])
            let name = try #require(answers.first?.json[1])
            #expect(String(decoding: name, as: UTF8.self) == JSONValue.string(tricky).encodedString())
            #expect(answers.first?.isNull[2] == true)
            #expect(answers.first?.integers[4] == 3)
        }
    }

    /// A scan keeps to the query's filter, sort and limit and to the caller's scope, and refuses a field the kind
    /// does not have with the query's 400.
    @Test(arguments: TestBackend.available)
    func aScanKeepsToItsQueryAndScope(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let mine = try await makeGroup(store, "mine")
            let theirs = try await makeGroup(store, "theirs")
            for (group, name) in [(mine, "b"), (mine, "a"), (mine, "c"), (theirs, "a2"), (mine, "x")] {
                _ = try await store.insert(
                    Record(
                        .runs,
                        ["group_id": .string(group.id), "name": .string(name), "executor": .string("client")]
                    )
                )
            }
            func names(_ query: Query, _ scope: Scope) async throws -> [String] {
                try await store.scan(.runs, fields: ["name"], query: query, scope: scope, into: [String]()) {
                    $0.append($1.string(0) ?? "?")
                }
            }
            let sorted = Query(filter: .predicate(Condition("name", .notEqual, "x")), sort: [SortKey("name")])
            #expect(try await names(sorted, .groups([mine.id])) == ["a", "b", "c"])
            #expect(try await names(sorted, .everything) == ["a", "a2", "b", "c"])
            var limited = sorted
            limited.limit = 2
            #expect(try await names(limited, .groups([mine.id])) == ["a", "b"])
            await #expect(throws: ProctorError.self) {
                _ = try await store.scan(.runs, fields: ["nope"], query: Query(), scope: .everything, into: 0) { _, _ in
                }
            }
        }
    }

    /// A list of strings as the store writes it is split without the JSON reader, into what the JSON reader gives;
    /// any other text (spaces, escapes, malformed) goes to the JSON reader.
    @Test func aStoredListOfStringsReadsAsTheJSONReaderReadsIt() {
        let plain = [
            #"[]"#, #"["a"]"#, #"["a","b"]"#, #"["","日本語","«x»"]"#, #"["0192f0c4-0000-7000-8000-00000000001e"]"#,
        ]
        let other = [
            #"[ "a" ]"#, #"["a", "b"]"#, #"["a\"b"]"#, #"["a\u0041"]"#, #"["a",]"#, #"[,"a"]"#, #"["a""b"]"#,
            #"["a"#, #"[1,"a"]"#, "", "[", "null", #""a""#, #"["a","#,
        ]
        func reference(_ text: String) -> Value {
            .strings((JSONValue.decode(text)?.arrayValue ?? []).compactMap { $0.stringValue })
        }
        for text in plain {
            #expect(RowCodec.plainStrings(text) != nil, "\(text)")
            #expect(RowCodec.strings(fromJSON: text) == reference(text), "\(text)")
        }
        for text in other {
            #expect(RowCodec.plainStrings(text) == nil, "\(text)")
            #expect(RowCodec.strings(fromJSON: text) == reference(text), "\(text)")
        }
    }

    /// What every reading method of a scanned row answers for each column.
    struct Answers: Equatable, Sendable {
        var isNull: [Bool] = []
        var integers: [Int64?] = []
        var strings: [String?] = []
        var equalsItsOwnText: [Bool] = []
        var json: [[UInt8]] = []

        init(_ row: any ScannedRow, columns: Int) {
            for column in 0..<columns {
                isNull.append(row.isNull(column))
                integers.append(row.int(column))
                let text = row.string(column)
                strings.append(text)
                equalsItsOwnText.append(text.map { row.textEquals(column, Array($0.utf8)) } ?? false)
                var out: [UInt8] = []
                row.writeJSONString(column, into: &out)
                json.append(out)
            }
        }
    }
}
