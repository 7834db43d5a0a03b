import Foundation
import ProctorCore
import ProctorStoreWriting
import ProctorTestSupport
import Testing

@testable import ProctorStore

/// Bulk imports (``SQLStore/importRecords(_:_:)`` and `insertMany`) store exactly what single inserts store, check
/// references and are all or nothing.
@Suite struct BulkImportTests {
    /// A large import leaves the planner statistics of what it wrote, so the next queries are planned for it; on
    /// PostgreSQL its tables are vacuumed too, so that index-only scans need not visit the new rows.
    @Test(arguments: Backend.available)
    func aLargeImportRefreshesThePlannerStatistics(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            #expect(try await store.hasStatistics("runs") == false)
            try await store.importRecords(.runs, Batches(sampleRuns(count: SQLStore.importAnalyzedFrom), size: 2_500))
            #expect(try await store.hasStatistics("runs"))
            #expect(try await store.hasStatistics("runs_labels"))
            if backend == .postgres {
                #expect(try await store.hasBeenVacuumed("runs"))
                #expect(try await store.hasBeenVacuumed("runs_labels"))
            }
        }
    }

    /// A large import into an empty table on PostgreSQL drops the tables' indexes and foreign keys once it has
    /// written `importAnalyzedFrom` rows, and makes them again at the end: a reference to nothing found only then
    /// still fails the whole import, and afterwards every index and foreign key is as it was.
    @Test(arguments: Backend.available)
    func aLargeImportKeepsEveryIndexAndReference(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            let indexes = try await store.indexDefinitions()
            let keys = try await store.foreignKeyDefinitions()
            #expect(keys.keys.contains { $0.hasPrefix("runs_labels.") || $0.hasPrefix("\"runs_labels\".") })
            let large = SQLStore.importAnalyzedFrom + 5
            var records = sampleRuns(count: large)
            records[large - 2]["definition_id"] = .string("no-such-definition")
            await #expect(throws: ProctorError.self) {
                try await store.importRecords(.runs, Batches(records, size: 2_500))
            }
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == 0)
            #expect(try await store.indexDefinitions() == indexes)
            #expect(try await store.foreignKeyDefinitions() == keys)

            #expect(try await store.importRecords(.runs, Batches(sampleRuns(count: large), size: 2_500)) == large)
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == large)
            #expect(try await store.indexDefinitions() == indexes)
            #expect(try await store.foreignKeyDefinitions() == keys)
            // The references are checked again: a run of no definition is refused, and deleting a run deletes its
            // labels.
            var bad = sampleRuns(count: 1)[0]
            bad["id"] = .string("run-bad")
            bad["definition_id"] = .string("no-such-definition")
            await #expect(throws: ProctorError.self) { _ = try await store.insert(bad) }
            let labels = try await store.storedLabels(.runs).count
            #expect(try await store.delete(.runs, id: "run-003", ifMatch: nil, scope: .everything))
            #expect(try await store.storedLabels(.runs).count < labels)
        }
    }

    @Test(arguments: Backend.available)
    func importStoresWhatInsertStores(_ backend: Backend) async throws {
        let records = sampleRuns(count: 40)
        var stored: [[Record]] = []
        var labels: [[SQLStore.StoredLabel]] = []
        for way in ["insert", "import", "import one by one", "insertMany"] {
            try await withStore(backend) { store in
                try await makeSampleGroups(store)
                switch way {
                case "insert":
                    for record in records { _ = try await store.insert(record) }
                case "import":
                    let imported = try await store.importRecords(.runs, Batches(records, size: 7))
                    #expect(imported == records.count)
                case "import one by one":
                    try await store.importRecords(.runs, Batches(records, size: 1))
                default:
                    try await store.insertMany(records)
                }
                let page = try await store.list(
                    .runs,
                    query: Query(sort: [SortKey("seq")], limit: 1000),
                    scope: .everything
                )
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
        #expect(stored[0].map(\.id) == records.map { $0.id })
        #expect(stored[0].map(\.seq) == Array(1...Int64(records.count)))
        #expect(labels[0].count == 111)
        for way in 1..<stored.count {
            #expect(stored[way] == stored[0])
            #expect(labels[way] == labels[0])
        }
        // Label values are kept as strings, numbers included; the group and status ride along.
        #expect(
            labels[0].contains(
                SQLStore.StoredLabel(
                    seq: 2,
                    key: "build",
                    value: "2",
                    createdAt: sampleTime(1),
                    groupID: "grp-b",
                    status: "failure"
                )
            )
        )
    }

    @Test(arguments: Backend.available)
    func importChecksReferencesAndIsAllOrNothing(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            var records = sampleRuns(count: 20)
            records[12]["definition_id"] = .string("no-such-definition")
            await #expect(throws: ProctorError.self) {
                try await store.importRecords(.runs, Batches(records, size: 5))
            }
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == 0)
            #expect(try await store.storedLabels(.runs) == [])

            records = sampleRuns(count: 20)
            records[7]["group_id"] = .string("no-such-group")
            await #expect(throws: ProctorError.self) { try await store.insertMany(records) }
            records = sampleRuns(count: 20)
            records[17]["priority"] = .string("high")
            await #expect(throws: ProctorError.self) { try await store.importRecords(.runs, Batches(records, size: 5)) }
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == 0)

            // The database checks references again after a failed import: a single insert is refused too.
            var bad = sampleRuns(count: 1)[0]
            bad["definition_id"] = .string("no-such-definition")
            await #expect(throws: ProctorError.self) { _ = try await store.insert(bad) }

            // An import inside a transaction rolls back with it.
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await store.transaction { tx in
                    try await tx.insertMany(sampleRuns(count: 5))
                    throw Boom()
                }
            }
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == 0)

            try await store.importRecords(.runs, Batches(sampleRuns(count: 20), size: 6))
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == 20)
            // Deleting a run still deletes its labels (foreign keys on again).
            #expect(try await store.delete(.runs, id: "run-003", ifMatch: nil, scope: .everything))
            #expect(try await store.storedLabels(.runs).count == 51)
        }
    }
}

/// Records in batches of `size`.
struct Batches: AsyncSequence, Sendable {
    typealias Element = [Record]
    let records: [Record]
    let size: Int

    init(_ records: [Record], size: Int) {
        self.records = records
        self.size = size
    }

    func makeAsyncIterator() -> Iterator { Iterator(records: records, size: size) }

    struct Iterator: AsyncIteratorProtocol {
        let records: [Record]
        let size: Int
        var start = 0

        mutating func next() async throws -> [Record]? {
            guard start < records.count else { return nil }
            defer { start += size }
            return Array(records[start..<Swift.min(records.count, start + size)])
        }
    }
}
