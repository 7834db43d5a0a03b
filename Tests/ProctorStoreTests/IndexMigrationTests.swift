import Foundation
import ProctorCore
import ProctorStoreWriting
import ProctorTestSupport
import SQLKit
import Testing

@testable import ProctorStore

/// Schema version 6 drops the `seq` indexes the primary key already is and keeps runs without a profile, topic
/// or request out of those columns' indexes: an upgraded store must end with the indexes a new one has, and
/// the lists filtered by those columns must still find their rows through them.
@Suite struct IndexMigrationTests {
    @Test(arguments: Backend.available)
    func anUpgradedStoreHasTheIndexesOfANewOne(_ backend: Backend) async throws {
        let fresh = try await backend.makeStore()
        let expected: [String: String]
        do {
            expected = normalized(try await fresh.indexDefinitions())
        } catch {
            await fresh.shutdown()
            throw error
        }
        await fresh.shutdown()
        #expect(expected["ix_runs_seq"] == nil)
        #expect(expected["ix_run_events_seq"] == nil)
        for name in ["ix_runs_request_id", "ix_runs_profile_id_created_at", "ix_runs_topic_id_remoteci_id_created_at"] {
            #expect(expected[name]?.contains("IS NOT NULL") == true, "\(name): \(expected[name] ?? "missing")")
        }
        #expect(expected["ix_runs_testbed_id"]?.contains("'running'") == true)
        #expect(expected["ix_runs_status_priority_created_at"] == nil && expected["ix_runs_testbed_id_status"] == nil)
        // Version 7: a run's delete reaches its image builds and webhook deliveries without a scan.
        for name in ["ix_image_builds_run_id", "ix_webhook_deliveries_run_id"] {
            #expect(expected[name]?.contains("IS NOT NULL") == true, "\(name): \(expected[name] ?? "missing")")
        }
        // Version 9: test cases have no creation-time indexes (every other kind keeps them).
        #expect(expected["ix_test_results_created_at"] == nil && expected["ix_test_results_group_id_created_at"] == nil)
        #expect(expected["ix_test_results_run_id_seq"] != nil && expected["ix_test_results_run_id_status"] != nil)
        #expect(expected["ix_runs_created_at"] != nil && expected["ix_files_group_id_created_at"] != nil)

        let store = try await backend.makeStore(migrated: false)
        do {
            try await store.migrate(upTo: 5)
            #expect(normalized(try await store.indexDefinitions())["ix_runs_seq"] != nil)
            try await makeSampleGroups(store)
            try await store.insertMany(taggedRuns())
            #expect(normalized(try await store.indexDefinitions())["ix_test_results_created_at"] != nil)
            #expect(try await store.migrate() == [6, 7, 8, 9])
            #expect(normalized(try await store.indexDefinitions()) == expected)
            try await expectTheTaggedRunsAreFound(store)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    @Test(arguments: Backend.available)
    func filtersOnMostlyNullColumnsFindTheirRows(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            try await store.insertMany(taggedRuns())
            try await expectTheTaggedRunsAreFound(store)
        }
    }

    /// SQLite reads a partial index for `column = value` (which implies `column IS NOT NULL`).
    @Test func sqliteUsesThePartialIndexes() async throws {
        try await withStore(.sqlite) { store in
            try await makeSampleGroups(store)
            try await store.insertMany(taggedRuns())
            let plans: [(Filter, String)] = [
                (.equal("request_id", "req-1"), "ix_runs_request_id"),
                (
                    .and([.equal("topic_id", "topic-1"), .equal("remoteci_id", "ci-1")]),
                    "ix_runs_topic_id_remoteci_id_created_at"
                ),
                (.equal("profile_id", "profile-1"), "ix_runs_profile_id_created_at"),
            ]
            for (filter, index) in plans {
                let plan = try await store.queryPlan(
                    .runs,
                    query: Query(filter: filter, sort: [SortKey("created_at", descending: true)], limit: 20),
                    scope: .everything
                )
                #expect(plan.contains { $0.contains(index) }, "\(filter): \(plan)")
            }
        }
    }

    /// A DCI job's previous job (``RunFiles/previousRun(for:)``: same topic, remote CI and name, latest earlier seq)
    /// is one seek into the version 8 index, with no sort: every JUnit upload asks it, and a remote CI runs the
    /// same job on a topic for months.
    @Test(arguments: Backend.available)
    func thePreviousJobIsOneIndexSeek(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            try await store.insertMany(taggedRuns())
            // Three nightly jobs of one remote CI on one topic, and one of another name between them.
            for (index, name) in ["nightly", "nightly", "weekly", "nightly"].enumerated() {
                _ = try await store.insert(
                    Record(
                        .runs,
                        [
                            "id": .string("job-\(index)"), "group_id": .string("grp-a"), "name": .string(name),
                            "status": .string("success"), "topic_id": .string("topic-1"),
                            "remoteci_id": .string("ci-1"),
                        ]
                    )
                )
            }
            let last = try #require(try await store.get(.runs, id: "job-3", scope: .everything))
            let filter: Filter =
                .equal("topic_id", "topic-1") && .equal("remoteci_id", "ci-1") && .equal("name", "nightly")
                && .predicate(Condition("seq", .less, String(last.seq)))
            let query = Query(filter: filter, sort: [SortKey("seq", descending: true)], limit: 1, fields: ["id"])
            if backend == .sqlite {
                let plan = try await store.queryPlan(.runs, query: query, scope: .everything)
                #expect(plan.contains { $0.contains("ix_runs_topic_id_remoteci_id_name_seq") }, "\(plan)")
                #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
            }
            let page = try await store.list(.runs, query: query, scope: .everything)
            #expect(page.items.map(\.id) == ["job-1"])
        }
    }

    /// DCI's job lists count their jobs (`_meta.count`) from the version 8 covering index, for the site admin and
    /// for a team's member alike, and count them right.
    @Test func dciJobCountsReadOneCoveringIndex() async throws {
        try await withStore(.sqlite) { store in
            try await makeSampleGroups(store)
            try await store.insertMany(taggedRuns())
            let visible: Filter = ReportedRuns.dciJobs && .predicate(Condition("state", .notEqual, "archived"))
            for scope in [Scope.everything, Scope(groupIDs: ["grp-a"])] {
                let plan = try await store.countPlan(.runs, query: Query(filter: visible), scope: scope)
                let index = "COVERING INDEX ix_runs_group_id_topic_id_remoteci_id_state"
                #expect(plan.contains { $0.contains(index) }, "\(plan)")
                // Every fifth tagged run has a topic and a remote CI: 8 of 40, all in grp-a.
                #expect(try await store.count(.runs, query: Query(filter: visible), scope: scope) == 8)
            }
        }
    }

    /// The queue reads only waiting runs, and only the testbed's active runs through its partial index;
    /// and it still claims in priority order, skipping a run whose testbed is busy.
    @Test func theQueueReadsItsPartialIndexes() async throws {
        try await withStore(.sqlite) { store in
            try await makeSampleGroups(store)
            func run(_ id: String, _ status: String, priority: Int, testbed: String?, at index: Int) -> Record {
                var values: [String: Value] = [
                    "id": .string(id), "group_id": .string("grp-a"), "status": .string(status),
                    "executor": .string("local"),
                    "priority": .int(Int64(priority)), "created_at": .timestamp(sampleTime(index)),
                    "updated_at": .timestamp(sampleTime(index)),
                ]
                if let testbed { values["testbed_id"] = .string(testbed) }
                return Record(.runs, values)
            }
            try await store.insertMany([
                run("done", "success", priority: 9, testbed: nil, at: 0),
                run("busy", "running", priority: 0, testbed: "tb-1", at: 1),
                run("waits-for-tb-1", "new", priority: 5, testbed: "tb-1", at: 2),
                run("low", "new", priority: 0, testbed: nil, at: 3),
                run("high", "new", priority: 3, testbed: "tb-2", at: 4),
            ])
            let plan = try await store.claimPlan(RunClaim(claimant: "test", executor: "local"))
            #expect(plan.contains { $0.contains("ix_runs_status_created_at (status=?)") }, "\(plan)")
            #expect(plan.contains { $0.contains("ix_runs_testbed_id") && !$0.contains("created_at") }, "\(plan)")
            #expect(try await store.claimRun(RunClaim(claimant: "test", executor: "local"))?.id == "high")
            #expect(try await store.claimRun(RunClaim(claimant: "test", executor: "local"))?.id == "low")
            #expect(try await store.claimRun(RunClaim(claimant: "test", executor: "local")) == nil)
        }
    }

    /// 40 runs; every fourth has a request, every fifth a topic and remote CI, every third a profile.
    private func taggedRuns() -> [Record] {
        (0..<40).map { index in
            var values: [String: Value] = [
                "id": .string(String(format: "run-%03d", index)), "group_id": .string("grp-a"),
                "status": .string("success"),
                "created_at": .timestamp(sampleTime(index)), "updated_at": .timestamp(sampleTime(index)),
            ]
            if index % 4 == 0 { values["request_id"] = .string("req-\(index % 8 == 0 ? 1 : 2)") }
            if index % 5 == 0 {
                values["topic_id"] = .string("topic-1")
                values["remoteci_id"] = .string(index % 10 == 0 ? "ci-1" : "ci-2")
            }
            if index % 3 == 0 { values["profile_id"] = .string("profile-1") }
            return Record(.runs, values)
        }
    }

    private func expectTheTaggedRunsAreFound(_ store: SQLStore) async throws {
        func ids(_ filter: Filter) async throws -> [String] {
            try await store.list(
                .runs,
                query: Query(filter: filter, sort: [SortKey("created_at")], limit: 100),
                scope: .everything
            )
            .items.map(\.id)
        }
        func expected(_ include: (Int) -> Bool) -> [String] {
            (0..<40).filter(include).map { String(format: "run-%03d", $0) }
        }
        #expect(try await ids(.equal("request_id", "req-1")) == expected { $0 % 8 == 0 })
        #expect(
            try await ids(.and([.equal("topic_id", "topic-1"), .equal("remoteci_id", "ci-1")]))
                == expected { $0 % 10 == 0 }
        )
        #expect(try await ids(.equal("profile_id", "profile-1")) == expected { $0 % 3 == 0 })
        #expect(try await ids(.predicate(.isNull("request_id"))).count == 30)
        #expect(
            try await store.count(.runs, query: Query(filter: .equal("topic_id", "topic-1")), scope: .everything) == 8
        )
    }

    /// PostgreSQL names each test store's schema in its definitions.
    private func normalized(_ definitions: [String: String]) -> [String: String] {
        definitions.mapValues {
            $0.replacingOccurrences(of: #"ON t_[0-9a-f]+\."#, with: "ON ", options: .regularExpression)
        }
    }
}
