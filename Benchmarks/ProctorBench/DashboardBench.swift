import Foundation
import ProctorCore
import ProctorDashboard
import ProctorHTTP
import ProctorStore

/// `proctor-bench --dashboard`: the server time of the dashboard's runs page (issue #9, item 7), rendered
/// whole (queries, name look-ups, template) as a site admin and as a member of the big group.
enum DashboardBench {
    static func measure(_ store: SQLStore, seeded: Seeder.Result, runs: Int, repeats: Int) async throws {
        let services = RunServices(store: store, filesRoot: FileManager.default.temporaryDirectory)
        let admin = Principal(kind: .user, id: "bench-admin", name: "admin", isSiteAdmin: true, memberships: [])
        let member = Principal(
            kind: .user,
            id: "bench-member",
            name: "member",
            isSiteAdmin: false,
            memberships: [.init(groupID: seeded.bigGroup, groupName: "group-0", role: .member, permissions: [])]
        )
        let job = try await store.first(.definitions, matching: ["name": .string(seeded.sampleJob)])?.id ?? ""
        let deep =
            try await store.list(
                .runs,
                query: Query(sort: [SortKey("created_at", descending: true)], limit: 1, offset: min(99_999, runs / 2)),
                scope: .everything
            ).nextCursor ?? ""
        let today = String(Timestamp.rfc3339(micros: Timestamp.now()).prefix(10))
        let monthAgo = String(Timestamp.rfc3339(micros: Timestamp.now() - 30 * 86_400_000_000).prefix(10))
        let cases: [(String, [String: String], Principal)] = [
            ("runs page, site admin, first page", [:], admin),
            ("runs page, member of the big group", [:], member),
            ("runs page, status=failure", ["status": "failure"], admin),
            ("runs page, job=X", ["job": job], admin),
            ("runs page, testbed=X (half of all runs)", ["testbed": seeded.sampleTestbed], admin),
            ("runs page, testbed=X, status=error", ["testbed": seeded.sampleTestbed, "status": "error"], admin),
            ("runs page, last 30 days, oldest first", ["from": monthAgo, "to": today, "sort": "oldest"], admin),
            ("runs page, by status", ["sort": "status"], admin),
            ("runs page, min(100,000, N/2) rows deep (keyset)", ["after": deep], admin),
            ("live refresh (fragment=rows)", ["fragment": "rows"], admin),
        ]
        for (label, parameters, principal) in cases {
            try await ProctorBench.time(label, times: repeats) {
                try await Dashboard.renderRunsPage(services: services, parameters: parameters, principal: principal)
                    .utf8.count
            }
        }
    }
}
