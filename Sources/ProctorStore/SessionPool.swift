import Logging
import SQLKit

/// A small fixed-capacity pool of database sessions.
///
/// sqlite-kit has no pooled `SQLDatabase`, and an explicit session is what transactions need anyway,
/// so both dialects go through this one pool: a session is leased for the length of a closure.
actor SessionPool {
    struct Session: Sendable {
        let database: any SQLDatabase
        let isClosed: @Sendable () -> Bool
        let close: @Sendable () async -> Void
    }

    private let capacity: Int
    private let open: @Sendable () async throws -> Session
    private var idle: [(session: Session, epoch: Int)] = []
    private var opened = 0
    /// Sessions opened before ``renew()`` are closed instead of reused.
    private var epoch = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var isShutDown = false

    init(capacity: Int, open: @escaping @Sendable () async throws -> Session) {
        self.capacity = max(1, capacity)
        self.open = open
    }

    deinit {
        // A pool dropped without shutdown() still closes what it holds.
        for (session, _) in idle {
            let close = session.close
            Task { await close() }
        }
    }

    private func acquire() async throws -> (session: Session, epoch: Int) {
        while true {
            if isShutDown { throw StoreUnavailable(message: "the store is shut down") }
            if let (session, opening) = idle.popLast() {
                if session.isClosed() || opening != epoch {
                    opened -= 1
                    if opening != epoch { Task { await session.close() } }
                    continue
                }
                return (session, opening)
            }
            if opened < capacity {
                opened += 1
                let opening = epoch
                do {
                    return (try await open(), opening)
                } catch {
                    opened -= 1
                    resumeOneWaiter()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    private func release(_ session: Session, epoch opening: Int) {
        if session.isClosed() || isShutDown || opening != epoch {
            opened -= 1
            if isShutDown || opening != epoch { Task { await session.close() } }
        } else {
            idle.append((session, opening))
        }
        resumeOneWaiter()
    }

    /// Replaces every session, as each comes back: the next ones are opened afresh (SQLite connections load
    /// the planner's statistics when they open).
    func renew() {
        epoch += 1
        let stale = idle
        idle.removeAll()
        opened -= stale.count
        for (session, _) in stale { Task { await session.close() } }
        for _ in stale { resumeOneWaiter() }
    }

    private func resumeOneWaiter() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }

    /// Runs `body` with a leased session and returns it to the pool afterwards.
    nonisolated func withSession<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let (session, epoch) = try await acquire()
        do {
            let result = try await body(session.database)
            await release(session, epoch: epoch)
            return result
        } catch {
            await release(session, epoch: epoch)
            throw error
        }
    }

    func shutdown() async {
        isShutDown = true
        let sessions = idle
        idle.removeAll()
        opened -= sessions.count
        for (session, _) in sessions { await session.close() }
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

/// The database could not be reached or is shut down.
struct StoreUnavailable: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
