import Logging
import NIOPosix
import SQLKit
import Synchronization

/// Copies SQLite's write-ahead log into the database file ahead of the store's single writer, on a connection
/// and a thread of its own, so that the writer's own checkpoint finds almost nothing left to copy.
///
/// Why: SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages. That commit copies all of them
/// into the database file and syncs both files while every write queued behind it waits for the writer. Under
/// 200 clients writing flat out (`Benchmarks/writes.sh`), with a group commit writing tens of pages, that was a
/// commit every second or so and the whole of the writes' p99: 108–115 ms with it, 82 ms without it.
///
/// The writer's commit still finishes the checkpoint at `thresholdPages`, as SQLite's own would (the first commit
/// on NIO's thread pool at or past it: the usual commit runs on its caller's thread, see ``commitInPlace(_:)``),
/// because only a checkpoint during which nothing is appended can copy every frame, and only then does the next
/// write start the WAL again from its beginning (the file stays about `thresholdPages` long). But every eighth of the way there,
/// the commit wakes this checkpointer, which runs a PASSIVE checkpoint beside the writer: it takes no lock a
/// writer or reader waits for and copies, and syncs, the frames committed so far while the writer goes on
/// appending. The writer's checkpoint then copies and syncs only the last few commits. Durability is SQLite's:
/// no frame is dropped from the WAL before it is in the database file and that file is synced.
final class WALCheckpointer: Sendable {
    let thresholdPages: Int32
    /// How much the WAL grows between two wake-ups of the checkpointer.
    let stepPages: Int32
    private let wakeUps: AsyncStream<Void>.Continuation
    private let loop: Task<Void, Never>
    /// The WAL's length when the checkpointer was last woken, in steps (the writer's thread only).
    private let lastStep = Atomic<Int32>(0)
    /// Set while a COMMIT runs on the writer's caller thread rather than the pool's (``commitInPlace(_:)``).
    private let committingInPlace = Atomic<Bool>(false)
    /// The WAL reached `thresholdPages` during a commit in place: the next commit crosses to the pool and
    /// checkpoints there.
    private let checkpointDue = Atomic<Bool>(false)

    /// Starts the checkpointer of the database at `path`; its connection is opened at its first checkpoint.
    init(path: String, thresholdPages: Int32, logger: Logger) {
        self.thresholdPages = max(1, thresholdPages)
        self.stepPages = max(1, self.thresholdPages / 8)
        let (wakeUps, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wakeUps = continuation
        loop = Task {
            // A thread of its own: a checkpoint syncs two files, and the shared pool's threads serve every other
            // statement of the store (the writer's COMMIT among them).
            let thread = NIOThreadPool(numberOfThreads: 1)
            thread.start()
            var session: SQLiteSession?
            var failing = false
            for await _ in wakeUps {
                do {
                    if session == nil {
                        session = try await SQLiteSession.open(path: path, logger: logger, threadPool: thread)
                    }
                    try await session?.raw("PRAGMA wal_checkpoint(PASSIVE)").run()
                    failing = false
                } catch {
                    // Said once while it lasts: the writer's own checkpoints go on meanwhile.
                    if !failing { logger.warning("the WAL checkpoint beside the writer failed: \(error)") }
                    failing = true
                }
            }
            await session?.close()
            try? await thread.shutdownGracefully()
        }
    }

    /// Told by SQLite, on the writer's thread inside its COMMIT, how many pages the WAL holds now: true when the
    /// commit is to finish the checkpoint itself.
    func walHolds(pages: Int32) -> Bool {
        if pages >= thresholdPages {
            // Not on a caller's thread: the WAL may outgrow the threshold by one commit.
            if committingInPlace.load(ordering: .relaxed) {
                checkpointDue.store(true, ordering: .relaxed)
                return false
            }
            checkpointDue.store(false, ordering: .relaxed)
            return true
        }
        // Below it (the WAL started again meanwhile, say): no checkpoint is owed.
        checkpointDue.store(false, ordering: .relaxed)
        let step = pages / stepPages
        if lastStep.exchange(step, ordering: .relaxed) < step { wakeUps.yield() }
        return false
    }

    /// Runs `commit` (a COMMIT on the writer's connection) on the caller's thread unless the WAL is due for the
    /// writer's checkpoint, which syncs both files and is left to a commit on the pool: nil then, nothing run.
    /// The writer runs one statement at a time, so the flag is the commit's own.
    func commitInPlace<T>(_ commit: () throws -> T) rethrows -> T? {
        guard !checkpointDue.load(ordering: .relaxed) else { return nil }
        committingInPlace.store(true, ordering: .relaxed)
        defer { committingInPlace.store(false, ordering: .relaxed) }
        return try commit()
    }

    /// Stops after the checkpoint under way, closing the connection.
    func shutdown() async {
        wakeUps.finish()
        await loop.value
    }
}
