import ProctorStoreWriting

/// The queue's rules around the store's atomic claim: leases, heartbeats and what happens when a claimant
/// disappears (an agent killed with -9, a replica that crashed).
public struct RunQueue: Sendable {
    public let lifecycle: RunLifecycle
    /// How long a claim lives without a heartbeat.
    public let leaseSeconds: Int
    /// How many times a run is claimed before a lost lease fails it instead of requeueing it.
    public let maxAttempts: Int

    public var store: any Store { lifecycle.store }

    public init(lifecycle: RunLifecycle, leaseSeconds: Int = 30, maxAttempts: Int = 3) {
        self.lifecycle = lifecycle
        self.leaseSeconds = leaseSeconds
        self.maxAttempts = maxAttempts
    }

    /// Claims the next run for `claimant`, announcing the claim's event.
    public func claim(claimant: String, executor: RunExecutor, labels: Set<String> = [], groupIDs: [String]? = nil)
        async throws -> Run?
    {
        let claimed = try await store.claimRun(
            RunClaim(
                claimant: claimant,
                executor: executor.rawValue,
                labels: labels,
                leaseSeconds: leaseSeconds,
                groupIDs: groupIDs
            )
        )
        let run = Run(claimed)
        if let run {
            lifecycle.recordChange(run, from: .new, to: .preRun, reason: "claimed by \(claimant)")
            if run.attempts == 1, run.has(.createdAt) {
                let created = run.createdAt
                let claimable = max(created, run.int(.runAt) ?? created)
                let now = Timestamp.now()
                lifecycle.activity.record(
                    .claimed(
                        runID: run.id,
                        claimant: claimant,
                        executor: executor.rawValue,
                        waitSeconds: Double(max(0, now - claimable)) / 1_000_000
                    )
                )
            }
            await lifecycle.events.publish()
        }
        return run
    }

    /// What a heartbeat tells the executor.
    public enum Heartbeat: Sendable, Equatable {
        /// Keep going.
        case keep
        /// Someone asked to cancel: kill the process and report `killed`.
        case cancel
        /// The lease is no longer this claimant's (it expired and the run was requeued or failed): stop quietly.
        case lost
    }

    /// One claim of a run: who claimed it, and which attempt the claim was. A run requeued and claimed again (by
    /// the same executor, under the same name) is a new attempt, so the worker of the old claim, still finishing,
    /// can neither extend the new claim's lease nor write its status.
    public struct Claim: Sendable, Equatable {
        public var claimant: String
        /// The run's `attempts` when it was claimed (nil: any attempt of this claimant, as agents report).
        public var attempt: Int64?

        public init(claimant: String, attempt: Int64?) {
            self.claimant = claimant
            self.attempt = attempt
        }

        /// The claim of a run just claimed.
        public init(of run: Run) {
            self.init(claimant: run.claimedBy ?? "", attempt: run.int(.attempts))
        }

        /// Whether `run` is still under this claim.
        public func holds(_ run: Run) -> Bool {
            run.claimedBy == claimant && (attempt == nil || run.int(.attempts) == attempt)
        }
    }

    /// Extends the claimant's lease on the run.
    public func heartbeat(runID: String, claimant: String) async throws -> Heartbeat {
        try await heartbeat(runID: runID, claim: Claim(claimant: claimant, attempt: nil))
    }

    /// Extends the claim's lease on the run. A heartbeat that loses a race with another write of the run reads it
    /// again, a few times with a pause (never in a tight loop: under group commit a retry at once can meet the same
    /// uncommitted group); if it still cannot write, the lease stays as it was and the next beat tries again.
    public func heartbeat(runID: String, claim: Claim) async throws -> Heartbeat {
        for attempt in 0..<5 {
            guard let run = try await store.get(Run.self, id: runID), claim.holds(run),
                RunStatus(rawValue: run.string(.status) ?? "")?.isActive == true
            else { return .lost }
            do {
                _ = try await store.update(
                    .runs,
                    id: runID,
                    changes: Run.changes([
                        .leaseExpiresAt: .timestamp(Timestamp.now() + Int64(leaseSeconds) * 1_000_000)
                    ]),
                    ifMatch: run.etag,
                    scope: .everything
                )
                return run.cancelRequested ? .cancel : .keep
            } catch let failure as ProctorError where failure.code == .conflict {
                await Self.pause(milliseconds: 10 << attempt)
            }
        }
        return .keep
    }

    /// Sleeps even in a cancelled task (whose `Task.sleep` returns at once), so that a retry loop never spins.
    static func pause(milliseconds: Int) async {
        await Task.detached { try? await Task.sleep(for: .milliseconds(milliseconds)) }.value
    }

    /// Requeues (or, past ``maxAttempts``, fails as `error`) every executing run whose lease has expired.
    /// Safe to call from every replica at once: each change is conditional on the row being unchanged.
    @discardableResult
    public func expireLeases() async throws -> [Run] {
        let now = Timestamp.now()
        let filter: Filter = .and([
            .predicate(Condition("status", .in, RunStatus.activeValues)),
            .predicate(Condition("executor", .in, [RunExecutor.local.rawValue, RunExecutor.agent.rawValue])),
            .predicate(Condition("lease_expires_at", .less, Timestamp.rfc3339(micros: now))),
        ])
        let expired = try await store.list(
            Run.self,
            query: Query(filter: filter, sort: [SortKey("seq")], limit: 100),
            scope: .everything
        )
        var changed: [Run] = []
        for run in expired {
            let count = changed.count
            let status = run.status
            let attempts = Int(run.attempts)
            let claimant = run.claimedBy ?? "an executor"
            do {
                if run.cancelRequested {
                    changed.append(
                        try await lifecycle.advance(
                            runID: run.id,
                            to: .killed,
                            reason: "canceled",
                            expecting: [status],
                            ifMatch: run.etag
                        )
                    )
                } else if attempts < maxAttempts {
                    changed.append(
                        try await lifecycle.advance(
                            runID: run.id,
                            to: .new,
                            reason: "lease of \(claimant) expired; requeued (attempt \(attempts) of \(maxAttempts))",
                            expecting: [status],
                            ifMatch: run.etag
                        )
                    )
                } else {
                    changed.append(
                        try await lifecycle.advance(
                            runID: run.id,
                            to: .error,
                            reason: "lease of \(claimant) expired after \(attempts) attempts",
                            expecting: [status],
                            ifMatch: run.etag
                        )
                    )
                }
            } catch let failure as ProctorError where failure.code == .conflict || failure.code == .notFound {
                continue  // another replica got there first, or the run changed meanwhile
            }
            if changed.count > count, let ended = changed.last {
                lifecycle.activity.record(
                    .leaseExpired(
                        runID: run.id,
                        claimant: claimant,
                        attempts: attempts,
                        maxAttempts: maxAttempts,
                        outcome: ended.status
                    )
                )
            }
        }
        return changed
    }
}
