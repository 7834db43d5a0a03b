import Foundation
import ProctorCore
import ProctorStoreWriting
import ProctorTestSupport
import SQLKit
import Testing

@testable import ProctorStore

/// Counts and distinct label values stay exact through every way a run changes (schema version 5 copies a run's
/// group and status onto its labels rows).
@Suite struct LabelsTests {
    // MARK: Counts and distinct values

    @Test(arguments: Backend.available)
    func countsAndDistinctValuesStayExactWhenRunsChange(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            try await store.insertMany(sampleRuns(count: 60))
            try await expectExactCountsAndDistincts(store)

            // Status and group changes, through update and through the queue's claim.
            _ = try await store.update(
                .runs,
                id: "run-000",
                changes: ["status": .string("killed")],
                ifMatch: nil,
                scope: .everything
            )
            _ = try await store.update(
                .runs,
                id: "run-001",
                changes: ["group_id": .string("grp-b")],
                ifMatch: nil,
                scope: .everything
            )
            _ = try await store.update(
                .runs,
                id: "run-002",
                changes: ["group_id": .string("grp-c"), "status": .string("success")],
                ifMatch: nil,
                scope: .everything
            )
            let claimed = try await store.claimRun(RunClaim(claimant: "test", executor: "local"))
            #expect(claimed?["status"] == .string("pre-run"))
            // Label changes, alone and with the status.
            _ = try await store.update(
                .runs,
                id: "run-004",
                changes: ["labels": .json(.object(["job": .string("job-9"), "branch": .string("main")]))],
                ifMatch: nil,
                scope: .everything
            )
            _ = try await store.update(
                .runs,
                id: "run-005",
                changes: ["labels": .json(.object([:])), "status": .string("failure")],
                ifMatch: nil,
                scope: .everything
            )
            _ = try await store.update(
                .runs,
                id: "run-006",
                changes: ["labels": .json(.object(["kernel": .string("v9")])), "group_id": .string("grp-a")],
                ifMatch: nil,
                scope: .everything
            )
            try await expectExactCountsAndDistincts(store)
            try await expectLabelsCarryTheirRun(store)
        }
    }

    @Test(arguments: Backend.available)
    func scopedDistinctReturnsOnlyTheCallersGroupsValues(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await makeSampleGroups(store)
            var records = sampleRuns(count: 30)
            for index in records.indices {
                let group = records[index].groupID ?? ""
                records[index]["labels"] = .json(
                    .object(["owner": .string(index % 2 == 0 ? "only-\(group)" : "shared")])
                )
            }
            try await store.insertMany(records)
            let expected: [(Scope, [String])] = [
                (.groups(["grp-a"]), ["only-grp-a", "shared"]), (.groups(["grp-b"]), ["only-grp-b", "shared"]),
                (.groups(["grp-a", "grp-b"]), ["only-grp-a", "only-grp-b", "shared"]), (.groups(["grp-c"]), []),
                (.groups([]), []),
            ]
            for (scope, values) in expected {
                #expect(
                    try await store.distinct(.runs, field: "labels.owner", query: Query(), scope: scope)
                        == values.map(Value.string)
                )
                for plan in SQLStore.LabelDistinctPlan.allCases where plan != .scan {
                    let got = try await store.distinct(
                        .runs,
                        field: "labels.owner",
                        query: Query(),
                        scope: scope,
                        plan: plan
                    )
                    #expect(got == values.map(Value.string), "\(plan) \(scope)")
                }
            }
            #expect(
                try await store.distinct(.runs, field: "labels.owner", query: Query(), scope: .everything)
                    == ["only-grp-a", "only-grp-b", "shared"].map(Value.string)
            )
        }
    }

    @Test(arguments: Backend.available)
    func version5CarriesTheGroupAndStatusOfExistingLabels(_ backend: Backend) async throws {
        let store = try await backend.makeStore(migrated: false)
        do {
            try await store.migrate(upTo: 4)
            try await makeSampleGroups(store)
            // Runs and labels as a version 4 store holds them.
            for var record in sampleRuns(count: 12) {
                let labels = record["labels"]
                record.values["labels"] = nil
                let run = try await store.insert(record)
                try await store.execute(
                    "UPDATE runs SET labels = \(bind: labels.json.encodedString()) WHERE seq = \(bind: run.seq)"
                )
                for (key, value) in RowCodec.labelsValues(of: labels) {
                    try await store.execute(
                        "INSERT INTO runs_labels (row_seq, key, value, created_at) VALUES (\(bind: run.seq), \(bind: key), \(bind: value), \(bind: run["created_at"].intValue ?? 0))"
                    )
                }
            }
            #expect(try await store.migrate() == [5, 6, 7, 8, 9])
            try await expectLabelsCarryTheirRun(store)
            try await expectExactCountsAndDistincts(store)
            _ = try await store.update(
                .runs,
                id: "run-003",
                changes: ["status": .string("killed"), "group_id": .string("grp-c")],
                ifMatch: nil,
                scope: .everything
            )
            try await expectLabelsCarryTheirRun(store)
            try await expectExactCountsAndDistincts(store)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    /// SQLite answers a count by group, status and label from the labels index alone.
    @Test func aLabelCountReadsTheLabelsIndexOnly() async throws {
        try await withStore(.sqlite) { store in
            try await makeSampleGroups(store)
            try await store.insertMany(sampleRuns(count: 30))
            let query = Query(
                filter: .and([
                    .equal("group_id", "grp-a"), .equal("status", "success"), .equal("labels.branch", "main"),
                ])
            )
            let plan = try await store.countPlan(.runs, query: query, scope: .groups(["grp-a"]))
            #expect(
                plan.contains { $0.contains("COVERING INDEX ix_runs_labels_key_value_created_at (key=? AND value=?)") },
                "\(plan)"
            )
            #expect(!plan.contains { $0.contains("SCAN") }, "\(plan)")
        }
    }
}

// MARK: Fixtures

let sampleStart: Int64 = 1_700_000_000_000_000

func sampleTime(_ index: Int) -> Int64 { sampleStart + Int64(index) * 3_600_000_000 }

/// Groups grp-a, grp-b (with runs) and grp-c (none yet), and definition def-1 of grp-a.
func makeSampleGroups(_ store: SQLStore) async throws {
    for name in ["a", "b", "c"] {
        _ = try await store.insert(Record(.groups, ["id": .string("grp-\(name)"), "name": .string(name)]))
    }
    _ = try await store.insert(
        Record(.definitions, ["id": .string("def-1"), "group_id": .string("grp-a"), "name": .string("job")])
    )
}

/// Runs with every kind of value a bulk insert must keep: given ids and times, labels with a number, quotes and
/// accents or none at all, NULLs in some batches only, several statuses.
func sampleRuns(count: Int) -> [Record] {
    let statuses = ["success", "failure", "new", "success", "error"]
    return (0..<count).map { index in
        var labels: [String: JSONValue] = ["job": .string("job-\(index % 4)"), "kernel": .string("v\(index % 5)")]
        if index % 7 != 0 { labels["branch"] = .string(index % 2 == 0 ? "main" : "stable") }
        if index == 1 { labels = ["build": .number(2), "note": .string("l'été \"chaud\""), "job": .string("job-1")] }
        var values: [String: Value] = [
            "id": .string(String(format: "run-%03d", index)), "group_id": .string(index % 3 == 1 ? "grp-b" : "grp-a"),
            "status": .string(statuses[index % 5]), "created_at": .timestamp(sampleTime(index)),
            "updated_at": .timestamp(sampleTime(index)), "labels": .json(.object(labels)),
        ]
        if index == 9 { values["labels"] = .json(.object([:])) }
        if index % 3 == 0 && index < 20 { values["definition_id"] = .string("def-1") }
        if index % 4 == 0 { values["comment"] = .string("comment \(index)") }
        return Record(.runs, values)
    }
}

// MARK: Checks

/// The filters the checks try: carried columns only (answered from the labels rows), negated labels, OR, NOT,
/// a time window, and fields the labels rows do not carry (answered through the run).
private let sampleQueries: [Query] = [
    Query(),
    Query(filter: .equal("labels.branch", "main")),
    Query(filter: .and([.equal("group_id", "grp-a"), .equal("status", "success"), .equal("labels.branch", "main")])),
    Query(
        filter: .and([
            .predicate(Condition("labels.job", .in, ["job-1", "job-2"])),
            .predicate(Condition("status", .notEqual, "failure")),
        ])
    ),
    Query(filter: .and([.equal("labels.branch", "main"), .predicate(Condition("labels.kernel", .notEqual, "v1"))])),
    Query(
        filter: .equal("labels.job", "job-3"),
        window: TimeWindow(field: "created_at", from: sampleTime(20), to: sampleTime(50))
    ),
    Query(
        filter: .and([
            .predicate(Condition("labels.kernel", .isNotNull, [])),
            .or([.equal("status", "new"), .equal("status", "error")]),
        ])
    ),
    Query(filter: .and([.equal("labels.branch", "main"), .not(.equal("labels.job", "job-0"))])),
    Query(filter: .and([.equal("labels.branch", "main"), .predicate(Condition("definition_id", .isNull, []))])),
    Query(filter: .predicate(Condition("labels.branch", .isNull, []))),
    Query(filter: .and([.equal("labels.job", "job-1"), .predicate(Condition("group_id", .notEqual, "grp-b"))])),
    Query(filter: .and([.predicate(Condition("group_id", .in, ["grp-b", "grp-c"])), .equal("labels.kernel", "v2")])),
    Query(window: TimeWindow(field: "created_at", from: sampleTime(10))),
]

private let sampleScopes: [Scope] = [
    .everything, .groups(["grp-a"]), .groups(["grp-b"]), .groups(["grp-a", "grp-c"]), .groups(["grp-c"]), .groups([]),
]

/// Every count and distinct label value of the sample queries equals what the runs themselves say.
private func expectExactCountsAndDistincts(_ store: SQLStore) async throws {
    let runs = try await store.list(.runs, query: Query(limit: 1000), scope: .everything).items
    for query in sampleQueries {
        for scope in sampleScopes {
            let matching = runs.filter { matches($0, query, scope) }
            #expect(
                try await store.count(.runs, query: query, scope: scope) == matching.count,
                "count \(query) \(scope)"
            )
            for key in ["job", "kernel", "branch"] {
                let values = Set(matching.compactMap { labels($0)[key] }).sorted().map(Value.string)
                #expect(
                    try await store.distinct(.runs, field: "labels.\(key)", query: query, scope: scope) == values,
                    "\(key) \(query) \(scope)"
                )
                let unfiltered = query.filter == nil && query.window == nil && scope.groupIDs == nil
                for plan in SQLStore.LabelDistinctPlan.allCases where (plan == .scan) == unfiltered {
                    let got = try await store.distinct(
                        .runs,
                        field: "labels.\(key)",
                        query: query,
                        scope: scope,
                        plan: plan
                    )
                    #expect(got == values, "\(plan) \(key) \(query) \(scope)")
                }
            }
        }
    }
}

/// Every labels row is one of its run's labels and carries the run's creation time, group and status.
private func expectLabelsCarryTheirRun(_ store: SQLStore) async throws {
    let runs = try await store.list(.runs, query: Query(limit: 1000), scope: .everything).items
    let expected = runs.flatMap { run in
        labels(run).sorted { $0.key < $1.key }.map {
            SQLStore.StoredLabel(
                seq: run.seq,
                key: $0.key,
                value: $0.value,
                createdAt: run["created_at"].intValue ?? 0,
                groupID: run.groupID,
                status: run.string("status")
            )
        }
    }
    #expect(try await store.storedLabels(.runs) == expected.sorted { ($0.seq, $0.key) < ($1.seq, $1.key) })
}

private func labels(_ run: Record) -> [String: String] {
    guard case .json(.object(let object)) = run["labels"] else { return [:] }
    return object.compactMapValues(\.stringValue)
}

/// The query, evaluated on a run in Swift (the operators the sample queries use).
private func matches(_ run: Record, _ query: Query, _ scope: Scope) -> Bool {
    if let groups = scope.groupIDs, !groups.contains(run.groupID ?? "") { return false }
    if let window = query.window, let created = run["created_at"].intValue {
        if let from = window.from, created < from { return false }
        if let to = window.to, created >= to { return false }
    }
    guard let filter = query.filter else { return true }
    return matches(run, filter)
}

private func matches(_ run: Record, _ filter: Filter) -> Bool {
    switch filter {
    case .and(let parts): return parts.allSatisfy { matches(run, $0) }
    case .or(let parts): return parts.contains { matches(run, $0) }
    case .not(let inner): return !matches(run, inner)
    case .related: Issue.record("the model generates no related filters"); return false
    case .predicate(let condition):
        let value =
            condition.field.hasPrefix("labels.")
            ? labels(run)[String(condition.field.dropFirst("labels.".count))] : run.string(condition.field)
        switch condition.op {
        case .equal: return value == condition.values[0]
        case .notEqual: return value != condition.values[0]
        case .in: return value.map(condition.values.contains) ?? false
        case .isNull: return value == nil
        case .isNotNull: return value != nil
        default:
            Issue.record("no Swift check for \(condition.op)")
            return false
        }
    }
}
