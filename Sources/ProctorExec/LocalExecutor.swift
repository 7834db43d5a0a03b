import Foundation
import Logging
import ProctorCore
import ServiceLifecycle

/// The executor inside `proctor serve`: claims local runs from the queue while it has free slots, runs
/// each with a ``RunWorker``, and sweeps expired leases (which also covers remote agents that vanished).
///
/// On shutdown it stops claiming, kills its processes and puts their runs back in the queue.
public struct LocalExecutor: Service {
    public let queue: RunQueue
    public let files: RunFiles
    public let logs: RunLogs
    public let slots: Int
    public let worker: RunWorker
    public let claimant: String
    public let logger: Logger

    /// The remote agents, whose silent ones each sweep marks offline (none in tests that build an executor alone).
    public let agents: AgentRegistry?

    public init(
        queue: RunQueue,
        files: RunFiles,
        logs: RunLogs,
        slots: Int,
        worker: RunWorker,
        claimant: String? = nil,
        agents: AgentRegistry? = nil
    ) {
        self.agents = agents
        self.queue = queue
        self.files = files
        self.logs = logs
        self.slots = max(0, slots)
        self.worker = worker
        self.claimant = claimant ?? "local@\(ProcessInfo.processInfo.hostName):\(getpid())"
        self.logger = worker.logger
    }

    public func run() async throws {
        queue.lifecycle.activity.record(.executorSlots(busy: 0, total: slots))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await sweepLeases() }
            if slots > 0 { group.addTask { await claimLoop() } }
            await group.next()
            group.cancelAll()
        }
    }

    private func claimLoop() async {
        let busy = SlotCounter(total: slots, activity: queue.lifecycle.activity)
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let generation = await queue.lifecycle.events.runGeneration
                if await busy.count < slots {
                    do {
                        if let run = try await queue.claim(claimant: claimant, executor: .local) {
                            await busy.add(1)
                            group.addTask {
                                await worker.execute(
                                    run,
                                    reporter: LocalReporter(
                                        run: run,
                                        claimant: claimant,
                                        queue: queue,
                                        files: files,
                                        logs: logs
                                    )
                                )
                                await busy.add(-1)
                                await queue.lifecycle.events.publish()
                            }
                            continue
                        }
                    } catch is CancellationError {
                        break  // shutting down
                    } catch {
                        logger.warning("cannot claim a run: \(error)")
                    }
                }
                await queue.lifecycle.events.waitForRuns(after: generation, timeout: .seconds(1))
            }
            group.cancelAll()
        }
    }

    private func sweepLeases() async {
        // After a restart, give executors that kept running while this server was down one lease period to
        // report back before their runs are taken from them.
        await pause(seconds: queue.leaseSeconds)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await queue.expireLeases()
            } catch {
                logger.warning("cannot sweep expired leases: \(error)")
            }
            do {
                try await agents?.markSilentOffline()
            } catch {
                logger.warning("cannot mark silent agents offline: \(error)")
            }
            await pause(seconds: max(1, queue.leaseSeconds / 4))
        }
    }

    /// Sleeps, but wakes at once when the server shuts down gracefully (a 30 s lease wait used to hold up
    /// the shutdown of a server with no executor slots, whose only task this is).
    private func pause(seconds: Int) async {
        _ = try? await cancelWhenGracefulShutdown {
            try await Task.sleep(for: .seconds(seconds))
        }
    }
}

/// The executor's busy slots, told to the run activity's observers at every change.
actor SlotCounter {
    private(set) var count = 0
    let total: Int
    let activity: RunActivityFeed

    init(total: Int, activity: RunActivityFeed) {
        self.total = total
        self.activity = activity
    }

    func add(_ delta: Int) {
        count += delta
        activity.record(.executorSlots(busy: count, total: total))
    }
}

/// Reports a run executed inside the server straight to the core services.
public struct LocalReporter: RunReporter {
    let run: Run
    let claimant: String
    let queue: RunQueue
    let files: RunFiles
    let logs: RunLogs

    public init(run: Run, claimant: String, queue: RunQueue, files: RunFiles, logs: RunLogs) {
        self.run = run
        self.claimant = claimant
        self.queue = queue
        self.files = files
        self.logs = logs
    }

    /// The claim this worker executes under: a run requeued meanwhile (its lease expired) and claimed again is
    /// another attempt, which this worker must not report on.
    var claim: RunQueue.Claim { RunQueue.Claim(claimant: claimant, attempt: run.int(.attempts)) }

    public func advance(_ status: RunStatus, reason: String?, changes: [Run.Field: Value]) async throws {
        try await queue.lifecycle.advance(runID: run.id, to: status, reason: reason, changes: changes, claim: claim)
    }

    public func appendLog(_ text: String, offset: Int64) async throws {
        try await logs.append(runID: run.id, groupID: run.groupID ?? "", text: text, offset: offset)
    }

    public func heartbeat() async throws -> RunQueue.Heartbeat {
        try await queue.heartbeat(runID: run.id, claim: claim)
    }

    /// Wakes on any change to runs the store announces, so that a cancel stops the run at once (not at the run's
    /// own log lines).
    public func waitForChange(upTo limit: Duration) async {
        let events = queue.lifecycle.events
        await events.waitForRuns(after: await events.runGeneration, timeout: limit)
    }

    public func cancelRequested() async -> Bool {
        (try? await queue.store.get(Run.self, id: run.id))?.cancelRequested == true
    }

    public func attachResult(_ file: URL, name: String, format: RunPlan.ResultFormat) async throws -> TestSummary {
        let stored = try await store(
            file,
            name: name,
            mime: format == .junit ? "application/junit" : "application/json"
        )
        let current = try await queue.store.require(.runs, id: run.id)
        return try await files.ingest(stored, run: current, format: format == .junit ? .junit : .pyats).run
    }

    public func attachFile(_ file: URL, name: String, mime: String) async throws {
        _ = try await store(file, name: name, mime: mime)
    }

    public var maxResultBytes: Int { files.maxBytes }

    /// A copy of the work directory's file, recorded as one of the run's files.
    private func store(_ file: URL, name: String, mime: String) async throws -> Record {
        let copy = try files.temporaryURL()
        try FileManager.default.copyItem(at: file, to: copy)
        return try await files.store(moving: copy, runID: run.id, groupID: run.groupID ?? "", name: name, mime: mime)
    }
}
