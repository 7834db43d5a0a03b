import Foundation
import ProctorCore
import ProctorStoreWriting
import SQLKit

extension SQLStore {
    /// The queue's claim: one write transaction on SQLite (a single writer serialises claimants);
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL so that replicas and agents never wait on each other's
    /// candidates, and a transaction-scoped advisory lock per testbed so two claimants cannot both start a
    /// run on the same idle testbed.
    public func claimRun(_ claim: RunClaim) async throws -> Record? {
        defer { anchors.invalidate(.runs) }
        let now = Timestamp.now()
        let claimed: Record? = try await inTransaction { db in
            guard let sql = claimStatement(claim, now: now) else { return nil }
            let rows = try await db.raw(sql).all()
            let inner = pinned(to: db)
            for row in rows {
                let id = try row.decode(column: "id", as: String.self)
                let testbed =
                    try row.decodeNil(column: "testbed_id")
                    ? nil : try row.decode(column: "testbed_id", as: String.self)
                let labelsText = (try? row.decode(column: "engine_labels", as: String.self)) ?? "[]"
                let required = (try? JSONDecoder().decode([String].self, from: Data(labelsText.utf8))) ?? []
                guard Set(required).isSubset(of: claim.labels) else { continue }
                if let testbed, flavor == .postgres {
                    try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: testbed)))").run()
                    let busy = try await db.raw(
                        "SELECT 1 AS busy FROM runs WHERE testbed_id = \(bind: testbed) AND \(unsafeRaw: RunStatus.activeCondition) LIMIT 1"
                    ).first()
                    if busy != nil { continue }
                }
                guard let run = try await inner.get(.runs, id: id, scope: .everything) else { continue }
                let updated = try await inner.update(
                    .runs,
                    id: id,
                    changes: [
                        "status": .string(RunStatus.preRun.rawValue), "claimed_by": .string(claim.claimant),
                        "lease_expires_at": .timestamp(now + Int64(claim.leaseSeconds) * 1_000_000),
                        "attempts": .int((run.int("attempts") ?? 0) + 1),
                    ],
                    ifMatch: run.etag,
                    scope: .everything
                )
                _ = try await inner.insert(
                    Record(
                        .runEvents,
                        [
                            "group_id": run["group_id"], "run_id": .string(id),
                            "status": .string(RunStatus.preRun.rawValue),
                            "previous_status": .string(RunStatus.new.rawValue),
                            "comment": .string("claimed by \(claim.claimant)"),
                        ]
                    )
                )
                return updated
            }
            return nil
        }
        return claimed
    }

    /// The claim's candidates: waiting runs this executor may take, in claim order (nil: no group to take from).
    private func claimStatement(_ claim: RunClaim, now: Int64) -> SQLQueryString? {
        // The busy-testbed condition is the partial index's own text (a constant), so that it applies.
        var sql: SQLQueryString = """
            SELECT id, testbed_id, engine_labels FROM runs r
            WHERE r.status = \(bind: RunStatus.new.rawValue) AND r.executor = \(bind: claim.executor)
            AND (r.run_at IS NULL OR r.run_at <= \(bind: now)) AND r.cancel_requested = \(bind: false)
            AND (r.testbed_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs b WHERE b.testbed_id = r.testbed_id
            AND \(unsafeRaw: RunStatus.activeCondition)))
            """
        if let groups = claim.groupIDs {
            if groups.isEmpty { return nil }
            sql.appendInterpolation(unsafeRaw: " AND r.group_id IN (")
            for (index, group) in groups.enumerated() {
                if index > 0 { sql.appendInterpolation(unsafeRaw: ", ") }
                sql.appendInterpolation(bind: group)
            }
            sql.appendInterpolation(unsafeRaw: ")")
        }
        sql.appendInterpolation(unsafeRaw: " ORDER BY r.priority DESC, r.created_at, r.seq LIMIT 16")
        if flavor == .postgres { sql.appendInterpolation(unsafeRaw: " FOR UPDATE SKIP LOCKED") }
        return sql
    }

    /// SQLite's plan for the claim's candidates (tests).
    func claimPlan(_ claim: RunClaim) async throws -> [String] {
        guard let sql = claimStatement(claim, now: Timestamp.now()) else { return [] }
        return try await explain(sql)
    }
}
