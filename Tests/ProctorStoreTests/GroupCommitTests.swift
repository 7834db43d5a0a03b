import Foundation
import Logging
import NIOPosix
import ProctorCore
import ProctorStoreWriting
import ProctorTestSupport
import SQLKit
import Testing

@testable import ProctorStore

/// SQLite's group commit (``WriteGroups``): concurrent writes share one transaction, each in its own savepoint,
/// and each is answered only once its group committed.
@Suite struct GroupCommitTests {
    @Test(arguments: Backend.available)
    func concurrentWritersAreAllAcknowledgedAndStored(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let ids = try await withThrowingTaskGroup(of: [String].self) { tasks in
                for index in 0..<200 {
                    tasks.addTask {
                        if index.isMultiple(of: 2) {
                            return [try await store.insert(Record(.groups, ["name": .string("single-\(index)")])).id]
                        }
                        return try await store.transaction { tx in
                            [
                                try await tx.insert(Record(.groups, ["name": .string("first-\(index)")])).id,
                                try await tx.insert(Record(.groups, ["name": .string("second-\(index)")])).id,
                            ]
                        }
                    }
                }
                return try await tasks.reduce(into: []) { $0 += $1 }
            }
            #expect(ids.count == 300)
            #expect(try await store.count(.groups, query: Query(), scope: .everything) == 300)
            for id in ids { #expect(try await store.get(.groups, id: id) != nil) }
        }
    }

    /// Writes queued behind a held writer all join the holder's group: one commit for all of them, in which a
    /// constraint violation and a thrown error roll back only their own writes and reach only their callers.
    @Test func aFailingWriteInAGroupLeavesTheOthersCommitted() async throws {
        try await withGroupedStore(maxWrites: 100) { store, groups in
            struct Refused: Error {}
            _ = try await store.insert(Record(.groups, ["name": .string("taken")]))
            let (holder, release) = try await holdWriter(store, groups)
            let committedBefore = groups.committedCount
            let single = try await queued(groups) {
                try await store.insert(Record(.groups, ["name": .string("single")]))
            }
            let duplicate = try await queued(groups) {
                try await store.insert(Record(.groups, ["name": .string("taken")]))
            }
            let thrower = try await queued(groups) {
                try await store.transaction { tx in
                    _ = try await tx.insert(Record(.groups, ["name": .string("thrown-away")]))
                    throw Refused()
                }
            }
            let pair = try await queued(groups) {
                try await store.transaction { tx in
                    _ = try await tx.insert(Record(.groups, ["name": .string("pair-1")]))
                    _ = try await tx.insert(Record(.groups, ["name": .string("pair-2")]))
                }
            }
            release()
            try await holder.value
            #expect(try await single.value.name == "single")
            let refusal = await #expect(throws: ProctorError.self) { try await duplicate.value }
            #expect(refusal?.code == .conflict)
            await #expect(throws: Refused.self) { try await thrower.value }
            try await pair.value
            #expect(groups.committedCount == committedBefore + 1)
            let names = try await store.list(.groups, query: Query(sort: [SortKey("name")]), scope: .everything).items
                .compactMap(\.name)
            #expect(names == ["holder", "pair-1", "pair-2", "single", "taken"])
        }
    }

    /// A write whose error ends the group's whole transaction (here a ROLLBACK of its own; in life a disk-full or
    /// I/O error SQLite answers by rolling everything back) fails every write of the group not yet answered, and
    /// none of them is stored; the callers still waiting commit in the next group.
    @Test func aWriteThatEndsTheTransactionFailsItsWholeGroup() async throws {
        try await withGroupedStore(maxWrites: 100) { store, groups in
            let (holder, release) = try await holdWriter(store, groups)
            let committedBefore = groups.committedCount
            let before = try await queued(groups) {
                try await store.insert(Record(.groups, ["name": .string("before")]))
            }
            let ender = try await queued(groups) { try await store.execute("ROLLBACK") }
            let after = try await queued(groups) { try await store.insert(Record(.groups, ["name": .string("after")])) }
            release()
            for outcome in [
                await holder.result.map { _ in () }, await before.result.map { _ in () }, await ender.result,
            ] {
                #expect(throws: ProctorError.self) { try outcome.get() }
            }
            #expect(try await after.value.name == "after")
            #expect(groups.committedCount == committedBefore + 1)
            let names = try await store.list(.groups, query: Query(), scope: .everything).items.compactMap(\.name)
            #expect(names == ["after"])
        }
    }

    /// A group takes at most its limit of writes; the callers left waiting form the next group.
    @Test func aGroupStopsAtItsWriteLimit() async throws {
        try await withGroupedStore(maxWrites: 3) { store, groups in
            let (holder, release) = try await holdWriter(store, groups)
            let committedBefore = groups.committedCount
            var writers: [Task<Record, any Error>] = []
            for index in 0..<5 {
                writers.append(
                    try await queued(groups) { try await store.insert(Record(.groups, ["name": .string("w\(index)")])) }
                )
            }
            release()
            try await holder.value
            for writer in writers { _ = try await writer.value }
            // The holder's group takes two of the five; the third leads the next with the last two.
            #expect(groups.committedCount == committedBefore + 2)
            #expect(try await store.count(.groups, query: Query(), scope: .everything) == 6)
        }
    }

    /// The WAL is copied into the database as it grows, by the store's checkpointer on a connection of its own
    /// beside the writer, long before the commit that reaches the threshold would: the database file fills while
    /// the WAL is still far from it. Every write is stored, and still there once the store reopens.
    @Test func theWALIsCopiedIntoTheDatabaseBesideTheWriter() async throws {
        let pageBytes = 16384
        func size(_ path: String) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        }
        // 300 commits of a few pages each, a quarter of the way to the writer's own checkpoint: the checkpointer
        // is woken every eighth of the way.
        try await withGroupedStore(maxWrites: 100, walCheckpointPages: 4000) { store, _ in
            let path = try #require(store.sqlitePath)
            for index in 0..<300 {
                _ = try await store.insert(Record(.groups, ["name": .string("g\(index)")]))
            }
            // The schema's tables and indexes alone are dozens of pages; without a checkpoint the file has none.
            var polls = 0
            while try size(path) < 20 * pageBytes, polls < 6000 {
                try await Task.sleep(for: .milliseconds(10))
                polls += 1
            }
            #expect(try size(path) >= 20 * pageBytes)
            await store.shutdown()
            let reopened = try await SQLStore.sqlite(path: path)
            let count = try await reopened.count(.groups, query: Query(), scope: .everything)
            await reopened.shutdown()
            #expect(count == 300)
        }
    }

    /// Commits run on their caller's thread; the one that takes the WAL to the threshold leaves the checkpoint
    /// owed, and the next commit crosses to the pool and makes it, so the WAL starts again and stays short.
    @Test func aCheckpointOwedByACommitInPlaceIsMadeByTheNext() async throws {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        // Only the flags are looked at here: the checkpointer it wakes has no database to open.
        let checkpointer = WALCheckpointer(path: "/nonexistent/proctor.sqlite", thresholdPages: 100, logger: quiet)
        defer { Task { await checkpointer.shutdown() } }
        #expect(checkpointer.commitInPlace { checkpointer.walHolds(pages: 60) } == false)
        #expect(checkpointer.commitInPlace { checkpointer.walHolds(pages: 120) } == false)
        // Owed: the next commit is not run in place.
        var ran = false
        #expect(checkpointer.commitInPlace { ran = true } == nil)
        #expect(!ran)
        // On the pool it checkpoints, and commits run in place again.
        #expect(checkpointer.walHolds(pages: 125))
        #expect(checkpointer.commitInPlace { checkpointer.walHolds(pages: 3) } == false)
        // The WAL started again before the owed checkpoint was made: nothing is owed any more.
        #expect(checkpointer.commitInPlace { checkpointer.walHolds(pages: 100) } == false)
        #expect(checkpointer.walHolds(pages: 4) == false)
        #expect(checkpointer.commitInPlace { 1 } == 1)

        try await withGroupedStore(maxWrites: 1, walCheckpointPages: 40) { store, _ in
            let path = try #require(store.sqlitePath)
            for index in 0..<400 {
                _ = try await store.insert(Record(.groups, ["name": .string("g\(index)")]))
            }
            // 400 commits of a few 16 KiB pages each: without the owed checkpoints the WAL would hold over a
            // thousand frames.
            let walBytes = try #require(try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int)
            #expect(walBytes < 200 * (16384 + 24))
            #expect(try await store.count(.groups, query: Query(), scope: .everything) == 400)
        }
    }

    /// A write whose BEGIN finds the write lock taken (another process's writer, an import) waits for it, as
    /// SQLite's busy timeout says, rather than failing: only the attempt without waiting runs in place.
    @Test func aWriteWaitsForALockAnotherConnectionHolds() async throws {
        try await withGroupedStore(maxWrites: 1) { store, _ in
            let path = try #require(store.sqlitePath)
            // A thread of its own: the writer's BEGIN waits on one of the shared pool's, and under a busy test run
            // the other connection's COMMIT must not queue behind it.
            let thread = NIOThreadPool(numberOfThreads: 1)
            thread.start()
            defer { Task { try? await thread.shutdownGracefully() } }
            let other = try await SQLiteSession.open(path: path, logger: Logger(label: "other"), threadPool: thread)
            try await other.raw("BEGIN IMMEDIATE").run()
            let write = Task { try await store.insert(Record(.groups, ["name": .string("after the lock")])) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(
                try await store.count(
                    .groups,
                    query: Query(filter: .equal("name", "after the lock")),
                    scope: .everything
                ) == 0
            )
            try await other.raw("COMMIT").run()
            await other.close()
            let stored = try await write.value
            #expect(try await store.get(.groups, id: stored.id)?.name == "after the lock")
        }
    }

    /// A store whose groups close only at `maxWrites` (no time limit that a slow test machine could reach).
    func withGroupedStore(
        maxWrites: Int,
        walCheckpointPages: Int32 = 1000,
        _ body: (SQLStore, WriteGroups) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proctor-test-\(UUID())")
        let store = try await SQLStore.sqlite(
            path: directory.appendingPathComponent("proctor.sqlite").path,
            logger: logger,
            maxGroupWrites: maxWrites,
            maxGroupDuration: .seconds(3600),
            walCheckpointPages: walCheckpointPages
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try await store.migrate()
            try await body(store, try #require(store.writeGroups))
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    /// Starts a transaction that inserts a group named "holder" and keeps the writer, leading its group, until
    /// `release` is called.
    func holdWriter(_ store: SQLStore, _ groups: WriteGroups) async throws -> (
        holder: Task<Void, any Error>, release: @Sendable () -> Void
    ) {
        let gate = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await store.transaction { tx in
                _ = try await tx.insert(Record(.groups, ["name": .string("holder")]))
                for await _ in gate.stream { break }
            }
        }
        try await waitUntil(groups, waiting: 0, running: true)
        return (holder, { gate.continuation.yield() })
    }

    /// Starts `write` and returns once it waits for its turn behind the callers already waiting.
    func queued<T: Sendable>(_ groups: WriteGroups, _ write: @escaping @Sendable () async throws -> T) async throws
        -> Task<T, any Error>
    {
        let waiting = groups.waitingCount
        let task = Task { try await write() }
        try await waitUntil(groups, waiting: waiting + 1)
        return task
    }

    /// Waits (polling, no deadline) until `waiting` callers queue for a turn, and a group runs if `running`.
    func waitUntil(_ groups: WriteGroups, waiting: Int, running: Bool = false) async throws {
        while groups.waitingCount != waiting || (running && !groups.isRunning) {
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
