import Foundation
import ProctorCore
import ProctorStore
import ProctorStoreWriting
import ProctorTestSupport
import Testing

/// The store contract: every backend behaves the same for every call.
@Suite struct StoreContractTests {
    @Test(arguments: Backend.available)
    func migrationsAreIdempotent(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let applied = try await store.migrate()
            #expect(applied == [])
            let health = await store.health()
            #expect(health.ok)
            #expect(health.schemaVersion == Catalog.version)
            #expect(health.backend == backend.rawValue)
        }
    }

    @Test(arguments: Backend.available)
    func insertGetUpdateDelete(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let harness = try await store.insert(
                Record(
                    .harnesses,
                    ["group_id": .string(group.id), "name": .string("h1"), "harness": .string("pytest")]
                )
            )
            #expect(harness.seq > 0)
            #expect(!harness.etag.isEmpty)
            #expect(harness["configuration_state"] == .string("ENABLED"))
            let fetched = try #require(try await store.get(.harnesses, id: harness.id))
            #expect(fetched["harness"] == .string("pytest"))
            #expect(fetched["deleted"] == .bool(false))
            #expect(fetched.seq == harness.seq)

            let updated = try await store.update(
                .harnesses,
                id: harness.id,
                changes: ["site": .string("SJC")],
                ifMatch: harness.etag,
                scope: .everything
            )
            #expect(updated["site"] == .string("SJC"))
            #expect(updated.etag != harness.etag)

            await #expect(throws: ProctorError.self) {
                _ = try await store.update(
                    .harnesses,
                    id: harness.id,
                    changes: ["site": .string("OTT")],
                    ifMatch: harness.etag,
                    scope: .everything
                )
            }
            #expect(try await store.get(.harnesses, id: harness.id)?["site"] == .string("SJC"))

            #expect(try await store.delete(.harnesses, id: harness.id, ifMatch: nil, scope: .everything))
            #expect(try await store.get(.harnesses, id: harness.id) == nil)
            #expect(try await store.delete(.harnesses, id: harness.id, ifMatch: nil, scope: .everything) == false)
        }
    }

    @Test(arguments: Backend.available)
    func duplicateNameInGroupIsAConflict(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let other = try await makeGroup(store, "other")
            _ = try await store.insert(Record(.engines, ["group_id": .string(group.id), "name": .string("e")]))
            do {
                _ = try await store.insert(Record(.engines, ["group_id": .string(group.id), "name": .string("e")]))
                Issue.record("a duplicate name was accepted")
            } catch let error as ProctorError {
                #expect(error.code == .conflict)
            }
            // The same name in another group is another engine.
            _ = try await store.insert(Record(.engines, ["group_id": .string(other.id), "name": .string("e")]))
            #expect(try await store.count(.engines, query: Query(), scope: .everything) == 2)
        }
    }

    @Test(arguments: Backend.available)
    func invalidValuesAreRejectedWithTheField(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            do {
                _ = try await store.insert(
                    Record(.profiles, ["group_id": .string(group.id), "definition_id": .null, "name": .string("p")])
                )
                Issue.record("a null required field was accepted")
            } catch let error as ProctorError {
                #expect(error.code == .badRequest)
                #expect(error.field == "definition_id")
            }
            do {
                _ = try await store.insert(Record(.groups, ["name": .string("x"), "colour": .string("red")]))
                Issue.record("an unknown field was accepted")
            } catch let error as ProctorError {
                #expect(error.field == "colour")
            }
        }
    }

    @Test(arguments: Backend.available)
    func tenancyScopeHidesOtherGroups(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let a = try await makeGroup(store, "a")
            let b = try await makeGroup(store, "b")
            let inA = try await store.insert(Record(.testbeds, ["group_id": .string(a.id), "name": .string("tb")]))
            _ = try await store.insert(Record(.testbeds, ["group_id": .string(b.id), "name": .string("tb")]))
            let scopeB = Scope.groups([b.id])
            #expect(try await store.get(.testbeds, id: inA.id, scope: scopeB) == nil)
            #expect(try await store.count(.testbeds, query: Query(), scope: scopeB) == 1)
            #expect(try await store.list(.testbeds, query: Query(), scope: scopeB).items.map(\.groupID) == [b.id])
            #expect(try await store.count(.testbeds, query: Query(), scope: .groups([])) == 0)
            await #expect(throws: ProctorError.self) {
                _ = try await store.update(
                    .testbeds,
                    id: inA.id,
                    changes: ["clean": .string("x")],
                    ifMatch: nil,
                    scope: scopeB
                )
            }
            #expect(try await store.delete(.testbeds, id: inA.id, ifMatch: nil, scope: scopeB) == false)
            #expect(try await store.get(.testbeds, id: inA.id) != nil)
        }
    }

    @Test(arguments: Backend.available)
    func transactionRollsBackOnError(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await store.transaction { tx in
                    _ = try await tx.insert(Record(.groups, ["name": .string("inside")]))
                    throw Boom()
                }
            }
            #expect(try await store.first(.groups, matching: ["name": .string("inside")]) == nil)
            let id = try await store.transaction { tx in
                try await tx.insert(Record(.groups, ["name": .string("kept")])).id
            }
            #expect(try await store.get(.groups, id: id)?.name == "kept")
        }
    }

    @Test(arguments: Backend.available)
    func deletingARunDeletesItsEventsAndLabels(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let run = try await store.insert(
                Record(.runs, ["group_id": .string(group.id), "labels": .json(.object(["job": .string("next")]))])
            )
            _ = try await store.insert(
                Record(
                    .runEvents,
                    ["group_id": .string(group.id), "run_id": .string(run.id), "status": .string("new")]
                )
            )
            #expect(try await store.count(.runEvents, query: Query(), scope: .everything) == 1)
            #expect(try await store.delete(.runs, id: run.id, ifMatch: nil, scope: .everything))
            #expect(try await store.count(.runEvents, query: Query(), scope: .everything) == 0)
            #expect(try await store.distinct(.runs, field: "labels.job", query: Query(), scope: .everything) == [])
        }
    }

    @Test(arguments: Backend.available)
    func deleteAllDeletesTheMatchingRowsInScope(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let run = try await store.insert(Record(.runs, ["group_id": .string(group.id)]))
            for (file, name) in [("a", "t1"), ("a", "t2"), ("b", "t1")] {
                _ = try await store.insert(
                    Record(
                        .testResults,
                        [
                            "group_id": .string(group.id), "run_id": .string(run.id), "file_id": .string(file),
                            "name": .string(name),
                            "status": .string("passed"), "time": .double(0),
                        ]
                    )
                )
            }
            let fileA = Query(filter: .equal("file_id", "a"))
            #expect(try await store.deleteAll(.testResults, query: fileA, scope: .groups(["elsewhere"])) == 0)
            #expect(try await store.deleteAll(.testResults, query: fileA, scope: .everything) == 2)
            #expect(try await store.count(.testResults, query: Query(), scope: .everything) == 1)
        }
    }

    /// An insert fills in what the store owns (id unless given, times unless given, a new etag, defaults), keeps
    /// the given values, and refuses a name outside the kind (400 naming it) or a missing required field, alone or
    /// in a batch, storing nothing.
    @Test(arguments: Backend.available)
    func anInsertFillsWhatTheStoreOwnsAndRefusesUnknownNames(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let given: [String: Value] = [
                "id": .string("h-given"), "group_id": .string(group.id), "name": .string("h1"),
                "harness": .string("pytest"), "created_at": .timestamp(1_700_000_000_000_000),
                "etag": .string("caller's"),
            ]
            let harness = try await store.insert(Record(.harnesses, given))
            #expect(harness.id == "h-given")
            #expect(harness["created_at"] == .timestamp(1_700_000_000_000_000))
            #expect(harness["updated_at"].intValue ?? 0 > 1_700_000_000_000_000)
            #expect(harness.etag != "caller's" && harness.etag.count == 32)
            #expect(harness["configuration_state"] == .string("ENABLED"))
            #expect(try await store.get(.harnesses, id: "h-given") == harness)
            let fresh = try await store.insert(
                Record(.harnesses, ["group_id": .string(group.id), "name": .string("h2")])
            )
            #expect(fresh.id.count == 36 && fresh.id != harness.id)

            var misspelt = given.merging(["id": .string("h-bad"), "nmae": .string("h3")]) { $1 }
            do {
                _ = try await store.insert(Record(.harnesses, misspelt))
                Issue.record("a misspelt field was stored")
            } catch let error as ProctorError {
                #expect(error.code == .badRequest)
                #expect(error.field == "nmae")
            }
            misspelt["nmae"] = nil
            misspelt["name"] = nil
            let batch = [
                Record(.harnesses, misspelt.merging(["id": .string("h-ok"), "name": .string("ok")]) { $1 }),
                Record(.harnesses, misspelt),
            ]
            await #expect(throws: ProctorError.self) { try await store.insertMany(batch) }
            #expect(try await store.get(.harnesses, id: "h-ok") == nil)
            #expect(try await store.get(.harnesses, id: "h-bad") == nil)
        }
    }

    /// `count(_:by:)` tallies the matching rows in scope by one field's values, inside a transaction too; a label
    /// or unknown field is a bad request naming it.
    @Test(arguments: Backend.available)
    func countByTalliesTheMatchingRowsInScopeByValue(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let run = try await store.insert(Record(.runs, ["group_id": .string(group.id)]))
            let other = try await store.insert(Record(.runs, ["group_id": .string(group.id)]))
            let rows: [(String, String)] = [
                (run.id, "passed"), (run.id, "failed"), (run.id, "passed"), (run.id, "skipped"), (other.id, "error"),
            ]
            for (index, (runID, status)) in rows.enumerated() {
                _ = try await store.insert(
                    Record(
                        .testResults,
                        [
                            "group_id": .string(group.id), "run_id": .string(runID), "name": .string("t\(index)"),
                            "status": .string(status), "time": .double(0),
                        ]
                    )
                )
            }
            let ofRun = Query(filter: .equal("run_id", run.id))
            let expected: [Value: Int] = [.string("passed"): 2, .string("failed"): 1, .string("skipped"): 1]
            #expect(try await store.count(.testResults, by: "status", query: ofRun, scope: .everything) == expected)
            #expect(
                try await store.count(.testResults, by: "status", query: ofRun, scope: .groups(["elsewhere"])) == [:]
            )
            let inTransaction = try await store.transaction { store in
                try await store.count(.testResults, by: "status", query: Query(), scope: .groups([group.id]))
            }
            #expect(inTransaction == expected.merging([.string("error"): 1]) { $0 + $1 })
            for field in ["labels.job", "nonsense"] {
                await #expect(throws: ProctorError.self) {
                    try await store.count(.runs, by: field, query: Query(), scope: .everything)
                }
            }
        }
    }

    /// `get` by id answers what a list answers for the same row, in and out of scope, and inside a transaction
    /// it sees the transaction's own writes while other callers do not (SQLite reads it on its own connections).
    @Test(arguments: Backend.available)
    func getByIdIsTheStoredRowInScopeAndInTransactions(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let group = try await makeGroup(store)
            let other = try await makeGroup(store, "other")
            let run = try await store.insert(
                Record(
                    .runs,
                    [
                        "group_id": .string(group.id), "name": .string("nightly ✓"), "priority": .int(7),
                        "options": .json(.object(["depth": .number(2), "fast": .bool(true)])),
                        "tags": .strings(["a", "b"]), "labels": .json(.object(["job": .string("j")])),
                        "duration": .double(1.5), "cancel_requested": .bool(true),
                        "started_at": .timestamp(1_700_000_000_123_456),
                    ]
                )
            )
            let fetched = try #require(try await store.get(.runs, id: run.id, scope: .groups([group.id])))
            let listed = try #require(
                try await store.list(.runs, query: Query(filter: .equal("id", run.id)), scope: .everything).items.first
            )
            #expect(fetched == listed)
            #expect(fetched == run)
            #expect(fetched["comment"] == .null)
            #expect(try await store.get(.runs, id: run.id, scope: .groups([other.id])) == nil)
            #expect(try await store.get(.runs, id: run.id, scope: .groups([])) == nil)
            #expect(try await store.get(.runs, id: "no-such-run", scope: .everything) == nil)

            let changed = try await store.update(
                .runs,
                id: run.id,
                changes: ["comment": .string("seen")],
                ifMatch: nil,
                scope: .everything
            )
            #expect(try await store.get(.runs, id: run.id, scope: .everything)?.etag == changed.etag)

            let outsider = store
            try await store.transaction { inside in
                let made = try await inside.insert(
                    Record(.runs, ["group_id": .string(group.id), "name": .string("uncommitted")])
                )
                #expect(try await inside.get(.runs, id: made.id, scope: .everything)?.name == "uncommitted")
                #expect(try await outsider.get(.runs, id: made.id, scope: .everything) == nil)
            }
        }
    }
}
