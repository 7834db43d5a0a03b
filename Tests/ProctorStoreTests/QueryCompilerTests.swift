import Foundation
import ProctorCore
import ProctorStore
import ProctorTestSupport
import Testing

/// The query model compiled to SQL, operator by operator, on every backend.
@Suite struct QueryCompilerTests {
    /// Five job definitions and six runs with known values.
    struct Fixture {
        let store: SQLStore
        let group: Record
        var names: [String: String] = [:]

        static func make(_ store: SQLStore) async throws -> Fixture {
            let group = try await makeGroup(store)
            var fixture = Fixture(store: store, group: group)
            let definitions: [(String, [String], String?)] = [
                ("DHCP basic", ["dhcp", "smoke"], "SJC"),
                ("dhcp-renew", ["dhcp"], "OTT"),
                ("NAT traversal", ["nat", "smoke"], nil),
                ("IPv6 router", [], "SJC"),
                ("100% coverage_job", ["x"], "RTP"),
            ]
            for (name, tags, site) in definitions {
                let row = try await store.insert(
                    Record(
                        .definitions,
                        [
                            "group_id": .string(group.id), "name": .string(name), "tags": .strings(tags),
                            "site": site.map(Value.string) ?? .null,
                        ]
                    )
                )
                fixture.names[row.id] = name
            }
            let base = Timestamp.parse("2024-03-01T00:00:00Z")!
            let runs: [(String, Int64, String, String)] = [
                ("success", 1, "next", "next-20240301"),
                ("failure", 2, "next", "next-20240302"),
                ("success", 3, "mainline", "v6.8"),
                ("running", 4, "stable", "v6.7.9"),
                ("new", 5, "next", "next-20240303"),
                ("error", 6, "mainline", "v6.8"),
            ]
            for (status, day, job, kernel) in runs {
                _ = try await store.insert(
                    Record(
                        .runs,
                        [
                            "group_id": .string(group.id), "status": .string(status), "priority": .int(day),
                            "created_at": .timestamp(base + (day - 1) * 86_400_000_000),
                            "labels": .json(.object(["job": .string(job), "kernel": .string(kernel)])),
                        ]
                    )
                )
            }
            return fixture
        }

        func definitions(_ filter: String...) async throws -> Set<String> {
            let query = Query(filter: try FilterExpression.parse(filter, union: false), limit: 100)
            return Set(try await store.list(.definitions, query: query, scope: .everything).items.compactMap(\.name))
        }

        func runs(_ filter: Filter?, window: TimeWindow? = nil) async throws -> [Int64] {
            let query = Query(filter: filter, sort: [SortKey("priority")], limit: 100, window: window)
            return try await store.list(.runs, query: query, scope: .everything).items.compactMap { $0.int("priority") }
        }
    }

    @Test(arguments: Backend.available)
    func textOperators(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let f = try await Fixture.make(store)
            #expect(try await f.definitions("name=dhcp-renew") == ["dhcp-renew"])
            #expect(try await f.definitions("name!=dhcp-renew").count == 4)
            #expect(try await f.definitions("name~^DHCP") == ["DHCP basic"])
            #expect(try await f.definitions("name~*^dhcp") == ["DHCP basic", "dhcp-renew"])
            #expect(try await f.definitions("name!~^DHCP").count == 4)
            #expect(try await f.definitions("name!~*dhcp") == ["NAT traversal", "IPv6 router", "100% coverage_job"])
            #expect(try await f.definitions("name={DHCP basic,NAT traversal}") == ["DHCP basic", "NAT traversal"])
            #expect(try await f.definitions("name<E") == ["DHCP basic", "100% coverage_job"])
            #expect(try await f.definitions("site=null").isEmpty)

            func run(_ condition: Condition) async throws -> Set<String> {
                Set(
                    try await store.list(.definitions, query: Query(filter: .predicate(condition)), scope: .everything)
                        .items.compactMap(\.name)
                )
            }
            #expect(try await run(Condition("name", .contains, "DHCP")) == ["DHCP basic", "dhcp-renew"])
            #expect(try await run(Condition("name", .notContains, "dhcp")).count == 3)
            #expect(try await run(Condition("name", .prefix, "ipv")) == ["IPv6 router"])
            #expect(try await run(Condition("name", .equalIgnoringCase, "nat TRAVERSAL")) == ["NAT traversal"])
            #expect(try await run(Condition("name", .like, "dhcp%")) == ["dhcp-renew"])
            #expect(try await run(Condition("name", .ilike, "dhcp%")) == ["DHCP basic", "dhcp-renew"])
            // LIKE wildcards in a contains value are literal characters.
            #expect(try await run(Condition("name", .contains, "100%")) == ["100% coverage_job"])
            #expect(try await run(Condition("name", .contains, "_")) == ["100% coverage_job"])
            #expect(try await run(Condition("site", .isNull, [String]())) == ["NAT traversal"])
            #expect(try await run(Condition("site", .isNotNull, [String]())).count == 4)
            #expect(
                try await run(Condition("site", .notIn, ["SJC"])) == [
                    "dhcp-renew", "NAT traversal", "100% coverage_job",
                ]
            )
        }
    }

    @Test(arguments: Backend.available)
    func arrayOperators(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let f = try await Fixture.make(store)
            #expect(try await f.definitions("tags@>{dhcp,smoke}") == ["DHCP basic"])
            #expect(try await f.definitions("tags@>{dhcp}") == ["DHCP basic", "dhcp-renew"])
            #expect(try await f.definitions("tags<@{dhcp,smoke}") == ["DHCP basic", "dhcp-renew", "IPv6 router"])
            #expect(try await f.definitions("tags&&{nat,x}") == ["NAT traversal", "100% coverage_job"])
            #expect(try await f.definitions("tags&&{none}").isEmpty)
            await #expect(throws: ProctorError.self) { _ = try await f.definitions("name@>{a}") }
            await #expect(throws: ProctorError.self) { _ = try await f.definitions("tags=dhcp") }
        }
    }

    @Test(arguments: Backend.available)
    func comparisonsGroupsAndLabels(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let f = try await Fixture.make(store)
            #expect(try await f.runs(.predicate(Condition("priority", .greaterOrEqual, "5"))) == [5, 6])
            #expect(try await f.runs(.predicate(Condition("priority", .less, "2"))) == [1])
            #expect(try await f.runs(.predicate(Condition("priority", .lessOrEqual, "2"))) == [1, 2])
            #expect(try await f.runs(.predicate(Condition("priority", .greater, "5"))) == [6])
            #expect(try await f.runs(.predicate(Condition("created_at", .greaterOrEqual, "2024-03-05"))) == [5, 6])
            #expect(try await f.runs(.predicate(Condition("status", .in, ["success", "error"]))) == [1, 3, 6])
            #expect(try await f.runs(.or([.equal("status", "new"), .equal("status", "running")])) == [4, 5])
            #expect(try await f.runs(.not(.equal("status", "success"))) == [2, 4, 5, 6])
            #expect(
                try await f.runs(
                    .and([.equal("labels.job", "next"), .or([.equal("status", "success"), .equal("status", "new")])])
                )
                    == [1, 5]
            )
            #expect(try await f.runs(.predicate(Condition("labels.job", .in, ["stable", "mainline"]))) == [3, 4, 6])
            #expect(try await f.runs(.predicate(Condition("labels.job", .notEqual, "next"))) == [3, 4, 6])
            #expect(try await f.runs(.predicate(Condition("labels.kernel", .regex, "^v6\\.8$"))) == [3, 6])
            #expect(try await f.runs(.predicate(Condition("labels.board", .isNull, [String]()))).count == 6)
            // A time window, alone and pushed down into a label filter.
            let from = Timestamp.parse("2024-03-02")!
            let to = Timestamp.parse("2024-03-05")!
            let window = TimeWindow(field: "created_at", from: from, to: to)
            #expect(try await f.runs(nil, window: window) == [2, 3, 4])
            #expect(try await f.runs(.equal("labels.job", "next"), window: window) == [2])
        }
    }

    @Test(arguments: Backend.available)
    func badInputIsATypedErrorNeverSQL(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let f = try await Fixture.make(store)
            func expectError(_ filter: Filter, field: String, sort: [SortKey] = []) async {
                do {
                    _ = try await store.list(.runs, query: Query(filter: filter, sort: sort), scope: .everything)
                    Issue.record("accepted \(filter)")
                } catch let error as ProctorError {
                    #expect(error.code == .badRequest)
                    #expect(error.field == field)
                } catch {
                    Issue.record("unexpected error \(error)")
                }
            }
            await expectError(.equal("status; DROP TABLE runs; --", "x"), field: "status; DROP TABLE runs; --")
            await expectError(.equal("api_secret", "x"), field: "api_secret")
            await expectError(.predicate(Condition("priority", .equal, "1 OR 1=1")), field: "priority")
            await expectError(.predicate(Condition("created_at", .greater, "yesterday")), field: "created_at")
            await expectError(.predicate(Condition("status", .regex, "(unclosed")), field: "status")
            await expectError(.predicate(Condition("priority", .contains, "1")), field: "priority")
            await expectError(.equal("status", "new"), field: "\"name\"", sort: [SortKey("\"name\"")])
            // Values are bound, never spliced: quotes and SQL in values just match nothing.
            for hostile in ["' OR '1'='1", "x\" OR 1=1 --", "'; DELETE FROM runs; --", "\\' OR 1=1 #"] {
                #expect(try await f.runs(.equal("status", hostile)).isEmpty)
                #expect(try await f.runs(.predicate(Condition("status", .contains, hostile))).isEmpty)
                #expect(try await f.runs(.equal("labels.job", hostile)).isEmpty)
                #expect(
                    try await f.definitions("tags@>{\"\(hostile.replacingOccurrences(of: "\"", with: "\\\""))\"}")
                        .isEmpty
                )
            }
            #expect(try await store.count(.runs, query: Query(), scope: .everything) == 6)
            do {
                _ = try await store.list(.runs, query: Query(fields: ["status", "bogus"]), scope: .everything)
                Issue.record("an unknown projection field was accepted")
            } catch let error as ProctorError {
                #expect(error.field == "bogus")
                #expect(error.details["valid"]?.contains("status") == true)
            }
        }
    }

    @Test(arguments: Backend.available)
    func sortingPagingCursorsAndProjection(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let f = try await Fixture.make(store)
            let byStatus = try await store.list(
                .runs,
                query: Query(sort: [SortKey("status"), SortKey("priority", descending: true)], limit: 10),
                scope: .everything
            )
            #expect(byStatus.items.compactMap { $0.int("priority") } == [6, 2, 5, 4, 3, 1])
            let newestFirst = try await f.runs(nil)
            #expect(newestFirst == [1, 2, 3, 4, 5, 6])
            let page2 = try await store.list(
                .runs,
                query: Query(sort: [SortKey("priority")], limit: 2, offset: 2),
                scope: .everything
            )
            #expect(page2.items.compactMap { $0.int("priority") } == [3, 4])
            // Walking with cursors visits every row exactly once, in order, for a sort with ties.
            var seen: [Int64] = []
            var cursor: String?
            repeat {
                let page = try await store.list(
                    .runs,
                    query: Query(
                        sort: [SortKey("status", descending: true)],
                        limit: 4,
                        cursor: cursor,
                        includeTotal: true
                    ),
                    scope: .everything
                )
                #expect(page.total == 6)
                seen += page.items.compactMap { $0.int("priority") }
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen.count == 6)
            #expect(Set(seen).count == 6)
            // A cursor that was tampered with is a 400, not a crash.
            await #expect(throws: ProctorError.self) {
                _ = try await store.list(.runs, query: Query(cursor: "not-a-cursor"), scope: .everything)
            }
            let projected = try await store.list(.runs, query: Query(limit: 1, fields: ["status"]), scope: .everything)
            #expect(Set(projected.items[0].values.keys) == ["id", "status"])
            #expect(
                try await store.list(.runs, query: Query(limit: 100_000), scope: .everything).limit == store.maxPageSize
            )
        }
    }

    @Test(arguments: Backend.available)
    func countAndDistinct(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await Fixture.make(store)
            let next = Query(filter: .equal("labels.job", "next"))
            #expect(try await store.count(.runs, query: next, scope: .everything) == 3)
            #expect(
                try await store.distinct(.runs, field: "labels.kernel", query: next, scope: .everything)
                    == [.string("next-20240301"), .string("next-20240302"), .string("next-20240303")]
            )
            #expect(
                try await store.distinct(.runs, field: "labels.job", query: Query(), scope: .everything)
                    == [.string("mainline"), .string("next"), .string("stable")]
            )
            #expect(
                try await store.distinct(
                    .runs,
                    field: "status",
                    query: Query(filter: .equal("labels.job", "mainline")),
                    scope: .everything
                )
                    == [.string("error"), .string("success")]
            )
        }
    }
}
