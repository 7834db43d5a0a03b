import SQLKit
import Synchronization

/// Group commit for SQLite's single writer: writes that arrive while a group is being written wait their turn,
/// then join the next group, which runs them one after another on the writer session inside one
/// `BEGIN IMMEDIATE … COMMIT` and acknowledges each only once that commit returned.
///
/// Why: a SQLite commit writes every page the transaction touched to the WAL, and with 16 KiB pages and a dozen
/// indexes on `runs` a one-run transaction rewrites the same few hot pages that the next one rewrites again.
/// A group shares those pages (and one BEGIN/COMMIT) among all its writes.
///
/// Each write runs inside a SAVEPOINT of the group's transaction: one whose body throws, or whose statement
/// fails (a constraint), is rolled back to that savepoint alone and gets its error at once; the others commit.
/// When an error ends the whole transaction (SQLite rolls back everything on some I/O and disk-full errors), no
/// write of the group is stored and each of its writers that was not yet answered gets that error.
///
/// Each write runs in its caller's own task: its body is the caller's code, with the caller's task-locals and
/// cancellation. The first caller of a group leads it: it leases the writer session, begins the transaction,
/// runs its own write, then hands the session to each waiting caller in arrival order, and commits. A group takes
/// no more than ``maxWrites`` writes and hands out no more turns once ``maxDuration`` has passed since it began,
/// so that a burst's first writers are not kept waiting by an endless queue; the callers still waiting lead and
/// join the next group. A body that is slow itself (one that awaits other work while it holds the writer) delays
/// the commit of the writes before it in its group by as long as it takes, as it delays the writers queued behind
/// it in any case.
final class WriteGroups: Sendable {
    /// What a caller is told when it may write.
    enum Role: Sendable {
        /// Lead the next group: lease the writer and begin it.
        case lead
        /// Write now, on the group's session, and hand the session back.
        case member(Turn)
    }

    /// A member's turn: the group's session, and the way back to the group's leader.
    struct Turn: Sendable {
        let session: any SQLDatabase
        let handBack: CheckedContinuation<MemberOutcome?, Never>
    }

    /// What a member tells the leader when it hands the session back.
    enum MemberOutcome: Sendable {
        /// Its write is part of the group: it waits for the commit.
        case wrote(CheckedContinuation<Void, any Error>)
        /// Its write failed and was rolled back to its savepoint; the group goes on.
        case failed
        /// Its error ended the group's transaction: nothing of the group can be committed.
        case endedTheTransaction(any Error)
    }

    private struct State {
        var running = false
        var waiting: [CheckedContinuation<Role, Never>] = []
        var committed = 0
    }

    let maxWrites: Int
    let maxDuration: Duration
    private let state = Mutex(State())

    init(maxWrites: Int, maxDuration: Duration) {
        self.maxWrites = max(1, maxWrites)
        self.maxDuration = maxDuration
    }

    /// How many callers wait for a turn (tests).
    var waitingCount: Int { state.withLock { $0.waiting.count } }
    /// Whether a group is being written (tests).
    var isRunning: Bool { state.withLock { $0.running } }
    /// How many groups committed so far (tests).
    var committedCount: Int { state.withLock { $0.committed } }

    /// Waits until the caller may write: at once as the leader when no group is running, else in arrival order.
    func join() async -> Role {
        await withCheckedContinuation { continuation in
            let leads = state.withLock { state in
                if state.running {
                    state.waiting.append(continuation)
                    return false
                }
                state.running = true
                return true
            }
            if leads { continuation.resume(returning: .lead) }
        }
    }

    /// The leader hands the session to the next waiting caller and waits until it hands it back; nil when no one
    /// is waiting.
    func handTurn(session: any SQLDatabase) async -> MemberOutcome? {
        await withCheckedContinuation { handBack in
            let next = state.withLock { state in state.waiting.isEmpty ? nil : state.waiting.removeFirst() }
            if let next {
                next.resume(returning: .member(Turn(session: session, handBack: handBack)))
            } else {
                handBack.resume(returning: nil)
            }
        }
    }

    /// The leader's group committed.
    func countCommit() { state.withLock { $0.committed += 1 } }

    /// The leader's group is over (committed or not): the first waiting caller leads the next one.
    func finishGroup() {
        let next = state.withLock { state -> CheckedContinuation<Role, Never>? in
            if state.waiting.isEmpty {
                state.running = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: .lead)
    }
}

/// A write's error that ended the group's whole transaction (its savepoint is gone with it).
struct EndedTheTransaction: Error {
    let cause: any Error
}

extension SQLStore {
    /// Runs `body` as one write of a group (see ``WriteGroups``): in its own savepoint of the group's transaction,
    /// returning only once the group committed.
    func groupedWrite<T: Sendable>(_ groups: WriteGroups, _ body: (any SQLDatabase) async throws -> T) async throws
        -> T
    {
        switch await groups.join() {
        case .lead:
            defer { groups.finishGroup() }
            return try await writers.withSession { session in try await leadGroup(groups, session, body) }
        case .member(let turn):
            let result: T
            do {
                result = try await Self.inSavepoint(turn.session, body)
            } catch let ended as EndedTheTransaction {
                turn.handBack.resume(returning: .endedTheTransaction(ended.cause))
                throw ended.cause
            } catch {
                turn.handBack.resume(returning: .failed)
                throw error
            }
            try await withCheckedThrowingContinuation { committed in
                turn.handBack.resume(returning: .wrote(committed))
            }
            return result
        }
    }

    /// The leader's part: begin, write its own, let the waiting callers write theirs, commit, answer them.
    private func leadGroup<T: Sendable>(
        _ groups: WriteGroups,
        _ session: any SQLDatabase,
        _ body: (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await session.raw(SQLQueryString(flavor.beginWrite)).run()
        let began = ContinuousClock.now
        let generationBefore = generation.value
        var own: Result<T, any Error>
        var ended: (any Error)?
        do {
            own = .success(try await Self.inSavepoint(session, body))
        } catch let error as EndedTheTransaction {
            own = .failure(error.cause)
            ended = error.cause
        } catch {
            own = .failure(error)
        }
        var awaitingCommit: [CheckedContinuation<Void, any Error>] = []
        var writes = 1
        while ended == nil, writes < groups.maxWrites, ContinuousClock.now - began < groups.maxDuration,
            let outcome = await groups.handTurn(session: session)
        {
            writes += 1
            switch outcome {
            case .wrote(let committed): awaitingCommit.append(committed)
            case .failed: break
            case .endedTheTransaction(let error): ended = error
            }
        }
        do {
            if let ended { throw ended }
            try await Self.endingStatement(session, "COMMIT")
        } catch {
            try? await Self.endingStatement(session, "ROLLBACK")
            for member in awaitingCommit { member.resume(throwing: error) }
            if case .failure(let failure) = own { throw failure }
            throw error
        }
        // A principal read between the write and the commit saw the old rows: stale it again.
        if generation.value != generationBefore { generation.bump() }
        groups.countCommit()
        for member in awaitingCommit { member.resume() }
        return try own.get()
    }

    /// Runs a statement that ends a savepoint or the group's transaction outside the caller's task, so that a
    /// cancelled caller (a worker stopping, a client gone) cannot leave it undone: an open transaction would wedge
    /// the single writer, and every later write would fail with "cannot start a transaction within a transaction".
    /// SQLite's writer runs it in place when it can (no await, so nothing to cancel): a task of its own was a
    /// thread hand-off for each write's RELEASE and each group's COMMIT.
    static func endingStatement(_ session: any SQLDatabase, _ sql: String) async throws {
        if let sqlite = session as? SQLiteSession, try sqlite.endInPlace(sql) { return }
        try await Task { try await session.raw(SQLQueryString(sql)).run() }.value
    }

    /// Runs `body` in a savepoint: kept when it returns, rolled back alone when it throws. Throws
    /// ``EndedTheTransaction`` when the savepoint is gone (SQLite rolled back the whole transaction).
    static func inSavepoint<T: Sendable>(_ session: any SQLDatabase, _ body: (any SQLDatabase) async throws -> T)
        async throws -> T
    {
        try await session.raw("SAVEPOINT proctor_write").run()
        let result: T
        do {
            result = try await body(session)
        } catch let failure {
            do {
                try await Self.endingStatement(session, "ROLLBACK TO proctor_write")
                try await Self.endingStatement(session, "RELEASE proctor_write")
            } catch {
                throw EndedTheTransaction(cause: failure)
            }
            throw failure
        }
        do {
            try await Self.endingStatement(session, "RELEASE proctor_write")
        } catch {
            throw EndedTheTransaction(cause: error)
        }
        return result
    }
}
