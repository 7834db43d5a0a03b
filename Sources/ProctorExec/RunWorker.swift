import Foundation
import Logging
import ProctorCore
import Subprocess
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where an executing run reports to: the store directly (local executor) or the server's agent API
/// (remote agent). The worker does not know which, so both execute runs the same way.
public protocol RunReporter: Sendable {
    /// Moves the run to its next phase (`running`, `post-run`, a final status), with a reason and extra fields.
    func advance(_ status: RunStatus, reason: String?, changes: [Run.Field: Value]) async throws
    /// Appends console output at byte `offset`.
    func appendLog(_ text: String, offset: Int64) async throws
    /// Extends the lease; says whether to go on, cancel, or stop because the run is no longer ours.
    func heartbeat() async throws -> RunQueue.Heartbeat
    /// Stores a result file and turns it into test results; returns the run's test summary so far.
    func attachResult(_ file: URL, name: String, format: RunPlan.ResultFormat) async throws -> TestSummary
    /// Stores a file of the run as it is (pyATS's archive), not read as results.
    func attachFile(_ file: URL, name: String, mime: String) async throws
    /// The largest result file the server takes.
    var maxResultBytes: Int { get }
    /// Waits at most `limit` for something that may concern the run (the local executor wakes on the store's
    /// changes, so that a cancel is seen at once); a remote agent just sleeps until its next heartbeat.
    func waitForChange(upTo limit: Duration) async
    /// Whether a cancel was asked for, read without extending the lease.
    func cancelRequested() async -> Bool
}

extension RunReporter {
    public func waitForChange(upTo limit: Duration) async { try? await Task.sleep(for: limit) }
    public func cancelRequested() async -> Bool { false }
}

/// Executes one claimed run: a fresh work directory, the harness's command in the sandbox with an environment
/// built from an allow-list, console streamed as it comes, heartbeats, cancel and `max_run_time` enforced
/// (terminate every process of the run, kill what is left after a grace period), results collected, and the
/// final status decided by exit status and test results.
public struct RunWorker: Sendable {
    public var workspace: URL
    /// Isolates the run and owns the work directories.
    public var sandbox: Sandbox
    /// Seconds between SIGTERM and SIGKILL.
    public var gracePeriod: Double
    /// Seconds between heartbeats.
    public var heartbeatInterval: Double
    /// What the harness adapters need from configuration (the `cdrouter-cli` binary).
    public var harness: HarnessSettings
    public var logger: Logger

    public init(
        workspace: URL,
        sandbox: Sandbox,
        gracePeriod: Double = 5,
        heartbeatInterval: Double = 2,
        harness: HarnessSettings = HarnessSettings(),
        logger: Logger
    ) {
        self.workspace = workspace
        self.sandbox = sandbox
        self.harness = harness
        self.gracePeriod = gracePeriod
        self.heartbeatInterval = heartbeatInterval
        self.logger = logger
    }

    /// The variables every job gets before its own (definition `env`, profile envargs, `PROCTOR_RUN_*`): the
    /// system's `PATH`, `C.UTF-8`, `HOME` in the work directory, `/tmp` as `TMPDIR`. Fixed values, not the
    /// executor's: nothing of the server's or agent's environment reaches a job.
    static func baseEnvironment(workdir: URL) -> [String: String] {
        ["PATH": Sandbox.systemPath, "LANG": "C.UTF-8", "HOME": workdir.path, "TMPDIR": "/tmp"]
    }

    /// Why a process was stopped before it ended by itself.
    enum Stop: String, Sendable {
        case canceled
        case timeout
        case lost
        case shutdown
    }

    public func execute(_ run: Run, reporter: any RunReporter) async {
        let workdir: URL
        let plan: RunPlan
        do {
            workdir = try sandbox.makeWorkDirectory(for: run.id)
            plan = try HarnessAdapter.plan(for: run, workspace: workspace, workdir: workdir, settings: harness)
            for path in plan.writablePaths { try sandbox.makeWritable(path) }
        } catch {
            try? await reporter.advance(.error, reason: Self.describe(error), changes: [:])
            return
        }
        do {
            try await reporter.advance(.running, reason: nil, changes: [:])
        } catch {
            logger.warning("run \(run.id): cannot start: \(Self.describe(error))")
            return
        }

        let console = Console(reporter: reporter, logger: logger)
        let outcome = await spawn(plan, workdir: workdir, console: console, reporter: reporter, runID: run.id)
        // The lease is kept until the run's end is written: reading its results can outlast a lease, and a run
        // whose lease expired in post-run would be requeued and executed again.
        let leaseKeeper = LeaseKeeper()
        keepLease(reporter, until: leaseKeeper)
        defer { leaseKeeper.stop() }
        await console.flush()

        switch outcome {
        case .stopped(.lost):
            logger.warning("run lease lost; process abandoned", metadata: ["run_id": .string(run.id)])
            return
        case .stopped(.shutdown):
            try? await reporter.advance(.new, reason: "executor shut down; requeued", changes: [:])
            return
        case .failedToStart(let message):
            try? await reporter.advance(.error, reason: message, changes: [:])
            return
        default:
            break
        }

        do {
            try await reporter.advance(
                .postRun,
                reason: nil,
                changes: outcome.exitCode.map { [.exitCode: .int(Int64($0))] } ?? [:]
            )
        } catch {
            logger.warning("run \(run.id): cannot enter post-run: \(Self.describe(error))")
            return
        }
        var summary = TestSummary()
        var resultProblems: [String] = []
        for file in ResultFiles.find(in: workdir, globs: plan.resultGlobs) {
            let name = String(file.path.dropFirst(workdir.path.count + 1))
            do {
                if plan.resultFormat == .pyats, PyATSArchive.isArchive(file) {
                    // Kept as pyATS wrote it (for download), and its results.json read as the run's results.
                    try await reporter.attachFile(file, name: name, mime: "application/zip")
                    let results = file.deletingLastPathComponent().appendingPathComponent("results.json")
                    try PyATSArchive.extractResults(from: file, to: results, maxBytes: reporter.maxResultBytes)
                    summary = try await reporter.attachResult(results, name: "results.json", format: .pyats)
                } else {
                    summary = try await reporter.attachResult(file, name: name, format: plan.resultFormat)
                }
            } catch {
                resultProblems.append("\(name): \(Self.describe(error))")
            }
        }

        // A successful job's kept files (an image build's tarball) become the run's files; one that cannot be
        // stored fails the run, which would otherwise claim an image the other replicas cannot serve.
        var keptProblems: [String] = []
        if case .exited(0) = outcome {
            for path in plan.keptFiles {
                let file = URL(fileURLWithPath: path)
                do {
                    let mime = file.pathExtension == "tar" ? "application/x-tar" : "application/octet-stream"
                    try await reporter.attachFile(file, name: file.lastPathComponent, mime: mime)
                } catch {
                    keptProblems.append("\(file.lastPathComponent) could not be stored: \(Self.describe(error))")
                }
            }
        }

        let final: RunStatus
        var reason: String?
        switch outcome {
        case .stopped(let stop):
            final = .killed
            reason = stop.rawValue
        case .exited(let code):
            if code == 0 && summary.failed == 0 && summary.errored == 0 && resultProblems.isEmpty
                && keptProblems.isEmpty
            {
                final = .success
            } else {
                final = .failure
                if !keptProblems.isEmpty {
                    reason = keptProblems.joined(separator: "; ")
                } else if summary.failed + summary.errored > 0 {
                    reason = "\(summary.failed) failed, \(summary.errored) errored of \(summary.total) tests"
                } else if code != 0 {
                    reason = "exit status \(code)"
                } else {
                    reason = "unreadable results: " + resultProblems.joined(separator: "; ")
                }
            }
        case .signaled(let signal):
            final = .failure
            reason = "terminated by signal \(signal)"
        case .failedToStart:
            return
        }
        await finish(run.id, final, reason: reason, reporter: reporter)
        try? FileManager.default.removeItem(at: workdir.appendingPathComponent(".pytest_cache"))
    }

    /// Heartbeats after the process ended until `keeper` is stopped. Stopped by a flag, never cancelled: a
    /// cancelled heartbeat could be cut off in the middle of its write.
    private func keepLease(_ reporter: any RunReporter, until keeper: LeaseKeeper) {
        let interval = heartbeatInterval
        Task {
            while !keeper.isStopped {
                await Self.pause(seconds: interval)
                if keeper.isStopped { return }
                if (try? await reporter.heartbeat()) == .lost { return }
            }
        }
    }

    /// Writes the run's end; a failure that is not a conflict (the store briefly unavailable, a full writer queue)
    /// is retried with back-off for about half a minute, because a lost end leaves the run `post-run` until its
    /// lease expires and it runs again.
    private func finish(_ runID: String, _ final: RunStatus, reason: String?, reporter: any RunReporter) async {
        var delay = 0.25
        for attempt in 1...8 {
            do {
                try await reporter.advance(final, reason: reason, changes: [:])
                return
            } catch let failure as ProctorError where failure.code == .conflict || failure.code == .notFound {
                logger.warning("run \(runID): cannot finish: \(failure.message)")
                return
            } catch {
                guard attempt < 8 else {
                    logger.error("run \(runID): cannot finish after \(attempt) attempts: \(Self.describe(error))")
                    return
                }
                logger.warning("run \(runID): cannot finish yet (\(Self.describe(error))); retrying in \(delay) s")
                await Self.pause(seconds: delay)
                delay = min(delay * 2, 8)
            }
        }
    }

    /// Sleeps even in a cancelled task (whose `Task.sleep` returns at once), so that a wait loop never spins.
    static func pause(seconds: Double) async {
        await Task.detached { try? await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }.value
    }

    enum Outcome: Sendable {
        case exited(Int32)
        case signaled(Int32)
        case stopped(Stop)
        case failedToStart(String)

        var exitCode: Int32? {
            if case .exited(let code) = self { return code }
            return nil
        }
    }

    private func spawn(_ plan: RunPlan, workdir: URL, console: Console, reporter: any RunReporter, runID: String) async
        -> Outcome
    {
        var options = PlatformOptions()
        // Its own process group, so that even an unsandboxed run can be stopped whole. (A root executor starts
        // bubblewrap through setpriv as the sandbox user: the job is an unprivileged user on the host too.)
        options.createSession = true
        let sandboxed = sandbox.mode == .bwrap
        var environment = Self.baseEnvironment(workdir: workdir)
        for (key, value) in plan.environment { environment[key] = value }
        let command = sandbox.command(
            executable: plan.executable,
            arguments: plan.arguments,
            environment: environment,
            workdir: workdir,
            readable: [workspace.standardizedFileURL.path],
            writable: plan.writablePaths,
            network: plan.network
        )
        var processEnvironment: [Environment.Key: String] = [:]
        if !sandboxed {
            for (key, value) in environment { processEnvironment[Environment.Key(stringLiteral: key)] = value }
        }
        let grace = gracePeriod
        let stopBox = StopBox()
        let heartbeatInterval = Duration.milliseconds(Int(heartbeatInterval * 1000))
        let executable: Executable =
            command.executable.contains("/") ? .path(FilePath(command.executable)) : .name(command.executable)
        do {
            let result = try await Subprocess.run(
                executable,
                arguments: Arguments(command.arguments),
                environment: .custom(processEnvironment),
                workingDirectory: FilePath(workdir.path),
                platformOptions: options,
                input: .none,
                output: .sequence,
                error: .combinedWithOutput
            ) { execution in
                let pid = execution.processIdentifier.value
                let started = ContinuousClock.now
                /// Stops the run once, for the first reason found; a timeout that finds a cancel asked for says so.
                @Sendable func stop(_ reason: Stop) async {
                    var reason = reason
                    if reason == .timeout, await reporter.cancelRequested() { reason = .canceled }
                    guard await stopBox.set(reason) else { return }
                    await Self.terminate(root: pid, sandboxed: sandboxed, grace: grace)
                }
                await withTaskGroup(of: Void.self) { group in
                    // Supervisor: heartbeats, and a cancel seen as soon as the store says so (locally) or at the
                    // next heartbeat (agents).
                    group.addTask {
                        var lastBeat = ContinuousClock.now
                        while !Task.isCancelled {
                            let nextBeat = lastBeat + heartbeatInterval
                            await reporter.waitForChange(upTo: max(.milliseconds(10), nextBeat - ContinuousClock.now))
                            if Task.isCancelled { return }
                            if let limit = plan.maxRunTime, ContinuousClock.now - started >= .seconds(limit) {
                                await stop(.timeout)
                                return
                            }
                            if ContinuousClock.now >= nextBeat {
                                lastBeat = ContinuousClock.now
                                switch try? await reporter.heartbeat() {
                                case .cancel:
                                    await stop(.canceled)
                                    return
                                case .lost:
                                    await stop(.lost)
                                    return
                                default: break
                                }
                            } else if await reporter.cancelRequested() {
                                await stop(.canceled)
                                return
                            }
                        }
                    }
                    // Fine-grained timeout so that a short max_run_time is met within a second.
                    if let limit = plan.maxRunTime {
                        group.addTask {
                            try? await Task.sleep(for: .seconds(limit))
                            if Task.isCancelled { return }
                            await stop(.timeout)
                        }
                    }
                    do {
                        for try await buffer in execution.standardOutput {
                            let bytes = buffer.withUnsafeBytes { Array($0) }
                            await console.write(bytes)
                        }
                    } catch {
                        logger.debug("run \(runID): output stream ended: \(error)")
                    }
                    group.cancelAll()
                }
                // The job's main process has ended. In the sandbox its exit took every other process with it;
                // without one, what is left of its process group goes now.
                if !sandboxed { _ = kill(-pid, SIGKILL) }
            }
            if let stop = await stopBox.value { return .stopped(stop) }
            switch result.terminationStatus {
            case .exited(let code): return .exited(Int32(code))
            case .signaled(let signal): return .signaled(Int32(signal))
            }
        } catch is CancellationError {
            return .stopped(.shutdown)
        } catch {
            if Task.isCancelled { return .stopped(.shutdown) }
            if let stop = await stopBox.value { return .stopped(stop) }
            return .failedToStart("cannot start \(plan.executable): \(Self.describe(error))")
        }
    }

    /// Stops every process of a run: SIGTERM to each (in the sandbox, every process of its PID namespace,
    /// `setsid` ones included; without one, its process group), then SIGKILL after the grace period to what is
    /// left. Returns as soon as no process of the run is alive; zombies do not count.
    static func terminate(root pid: pid_t, sandboxed: Bool, grace: Double) async {
        let sandboxInit = sandboxed ? ProcessTable.sandboxInit(root: pid) : nil
        /// In the sandbox the run is over when its init is: the kernel kills the rest of the namespace with it.
        func over() -> Bool {
            if sandboxed { return !ProcessTable.isLive(sandboxInit ?? pid) }
            return ProcessTable.members(root: pid, sandboxed: false).isEmpty
        }
        if let sandboxInit {
            // The sandbox's init ignores SIGTERM; every other process of the namespace gets it.
            for member in ProcessTable.members(root: pid, sandboxed: true) where member != sandboxInit {
                _ = kill(member, SIGTERM)
            }
        } else {
            _ = kill(sandboxed ? pid : -pid, SIGTERM)
        }
        // The waits below also run in a cancelled task (the output ended while stopping, or a shutdown), where
        // `Task.sleep` returns at once: `pause` sleeps regardless, so the polls never spin a core.
        let deadline = ContinuousClock.now + .milliseconds(Int(grace * 1000))
        while ContinuousClock.now < deadline {
            if over() { return }
            await pause(seconds: 0.02)
        }
        // Killing the sandbox's init kills its whole namespace at once.
        if let sandboxInit { _ = kill(sandboxInit, SIGKILL) }
        _ = kill(sandboxed ? pid : -pid, SIGKILL)
        let gone = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < gone && !over() {
            await pause(seconds: 0.02)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let failure = error as? ProctorError { return failure.message }
        return String(describing: error)
    }
}

/// Tells a lease keeper to stop.
final class LeaseKeeper: Sendable {
    private let stopped = Atomic<Bool>(false)
    var isStopped: Bool { stopped.load(ordering: .acquiring) }
    func stop() { stopped.store(true, ordering: .releasing) }
}

/// Remembers why the supervisor stopped the process.
actor StopBox {
    private(set) var value: RunWorker.Stop?
    /// Records the reason unless one was recorded first; says whether this call did.
    func set(_ stop: RunWorker.Stop) -> Bool {
        guard value == nil else { return false }
        value = stop
        return true
    }
}

/// Batches console output into log chunks: at most every 200 ms or 64 KiB, never splitting a UTF-8 character.
actor Console {
    private let reporter: any RunReporter
    private let logger: Logger
    private var pending: [UInt8] = []
    private var offset: Int64 = 0
    private var lastFlush = ContinuousClock.now

    init(reporter: any RunReporter, logger: Logger) {
        self.reporter = reporter
        self.logger = logger
    }

    func write(_ bytes: [UInt8]) async {
        pending.append(contentsOf: bytes)
        if pending.count >= 64 << 10 || ContinuousClock.now - lastFlush >= .milliseconds(200) {
            await flush(keepPartial: true)
        }
    }

    func flush() async { await flush(keepPartial: false) }

    private func flush(keepPartial: Bool) async {
        lastFlush = ContinuousClock.now
        guard !pending.isEmpty else { return }
        var cut = pending.count
        if keepPartial, let partial = RunLogs.incompleteTail(pending) { cut -= partial }
        let chunk = Array(pending[..<cut])
        pending.removeFirst(cut)
        let text = String(decoding: chunk, as: UTF8.self)
        for attempt in 1...5 {
            do {
                try await reporter.appendLog(text, offset: offset)
                break
            } catch {
                logger.warning("cannot store console output (attempt \(attempt)): \(error)")
                try? await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
        offset += Int64(text.utf8.count)
    }
}
