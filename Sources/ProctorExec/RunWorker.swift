import Foundation
import Logging
import ProctorCore
import Subprocess
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
    func advance(_ status: RunStatus, reason: String?, changes: [String: Value]) async throws
    /// Appends console output at byte `offset`.
    func appendLog(_ text: String, offset: Int64) async throws
    /// Extends the lease; says whether to go on, cancel, or stop because the run is no longer ours.
    func heartbeat() async throws -> RunQueue.Heartbeat
    /// Stores a result file and turns it into test results; returns the run's test summary so far.
    func attachResult(_ file: URL, name: String, format: RunPlan.ResultFormat) async throws -> TestSummary
}

/// Executes one claimed run: a fresh working directory, the harness's command in its own process group,
/// console streamed as it comes, heartbeats, cancel and `max_run_time` enforced (terminate, then kill after
/// a grace period), results collected, and the final status decided by exit status and test results.
public struct RunWorker: Sendable {
    public var workspace: URL
    public var workRoot: URL
    /// Seconds between SIGTERM and SIGKILL.
    public var gracePeriod: Double
    /// Seconds between heartbeats (and cancel checks).
    public var heartbeatInterval: Double
    /// What the harness adapters need from configuration (the `cdrouter-cli` binary).
    public var harness: HarnessSettings
    public var logger: Logger

    public init(
        workspace: URL, workRoot: URL, gracePeriod: Double = 5, heartbeatInterval: Double = 2,
        harness: HarnessSettings = HarnessSettings(), logger: Logger
    ) {
        self.workspace = workspace
        self.harness = harness
        self.workRoot = workRoot
        self.gracePeriod = gracePeriod
        self.heartbeatInterval = heartbeatInterval
        self.logger = logger
    }

    /// Why a process was stopped before it ended by itself.
    enum Stop: String, Sendable {
        case canceled
        case timeout
        case lost
        case shutdown
    }

    public func execute(_ run: Record, reporter: any RunReporter) async {
        let workdir = workRoot.appendingPathComponent(run.id, isDirectory: true)
        let plan: RunPlan
        do {
            try? FileManager.default.removeItem(at: workdir)
            try FileManager.default.createDirectory(at: workdir, withIntermediateDirectories: true)
            plan = try HarnessAdapter.plan(for: run, workspace: workspace, workdir: workdir, settings: harness)
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
        await console.flush()

        switch outcome {
        case .stopped(.lost):
            logger.info("run \(run.id): lease lost; abandoned")
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
            try await reporter.advance(.postRun, reason: nil, changes: outcome.exitCode.map { ["exit_code": .int(Int64($0))] } ?? [:])
        } catch {
            logger.warning("run \(run.id): cannot enter post-run: \(Self.describe(error))")
            return
        }
        var summary = TestSummary()
        var resultProblems: [String] = []
        for file in ResultFiles.find(in: workdir, globs: plan.resultGlobs) {
            let name = String(file.path.dropFirst(workdir.path.count + 1))
            do {
                summary = try await reporter.attachResult(file, name: name, format: plan.resultFormat)
            } catch {
                resultProblems.append("\(name): \(Self.describe(error))")
            }
        }

        let final: RunStatus
        var reason: String?
        switch outcome {
        case .stopped(let stop):
            final = .killed
            reason = stop.rawValue
        case .exited(let code):
            if code == 0 && summary.failed == 0 && summary.errored == 0 && resultProblems.isEmpty {
                final = .success
            } else {
                final = .failure
                if summary.failed + summary.errored > 0 {
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
        do {
            try await reporter.advance(final, reason: reason, changes: [:])
        } catch {
            logger.warning("run \(run.id): cannot finish: \(Self.describe(error))")
        }
        try? FileManager.default.removeItem(at: workdir.appendingPathComponent(".pytest_cache"))
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

    private func spawn(_ plan: RunPlan, workdir: URL, console: Console, reporter: any RunReporter, runID: String) async -> Outcome {
        var options = PlatformOptions()
        options.createSession = true  // its own process group: a stop kills every process it started
        let grace = gracePeriod
        let stopBox = StopBox()
        let heartbeatInterval = heartbeatInterval
        var environment: [Environment.Key: String?] = [:]
        for (key, value) in plan.environment { environment[Environment.Key(stringLiteral: key)] = value }
        let executable: Executable = plan.executable.contains("/") ? .path(FilePath(plan.executable)) : .name(plan.executable)
        do {
            let result = try await Subprocess.run(
                executable,
                arguments: Arguments(plan.arguments),
                environment: .inherit.updating(environment),
                workingDirectory: FilePath(workdir.path),
                platformOptions: options,
                input: .none,
                output: .sequence,
                error: .combinedWithOutput
            ) { execution in
                let pid = execution.processIdentifier.value
                await withTaskGroup(of: Void.self) { group in
                    // Supervisor: heartbeats, cancel, timeout.
                    group.addTask {
                        let started = ContinuousClock.now
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .milliseconds(Int(heartbeatInterval * 1000)))
                            if Task.isCancelled { return }
                            var stop: Stop?
                            if let limit = plan.maxRunTime, ContinuousClock.now - started >= .seconds(limit) { stop = .timeout }
                            if stop == nil {
                                switch try? await reporter.heartbeat() {
                                case .cancel: stop = .canceled
                                case .lost: stop = .lost
                                default: break
                                }
                            }
                            if let stop {
                                await stopBox.set(stop)
                                await Self.terminate(group: pid, grace: grace)
                                return
                            }
                        }
                    }
                    // Fine-grained timeout so that a short max_run_time is met within a second.
                    if let limit = plan.maxRunTime {
                        group.addTask {
                            try? await Task.sleep(for: .seconds(limit))
                            if Task.isCancelled { return }
                            await stopBox.set(.timeout)
                            await Self.terminate(group: pid, grace: grace)
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

    /// SIGTERM to the whole process group, then SIGKILL after the grace period if anything is left.
    static func terminate(group pid: pid_t, grace: Double) async {
        _ = kill(-pid, SIGTERM)
        let deadline = ContinuousClock.now + .milliseconds(Int(grace * 1000))
        while ContinuousClock.now < deadline {
            if kill(-pid, 0) != 0 { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        _ = kill(-pid, SIGKILL)
    }

    static func describe(_ error: any Error) -> String {
        if let failure = error as? ProctorError { return failure.message }
        return String(describing: error)
    }
}

/// Remembers why the supervisor stopped the process.
actor StopBox {
    private(set) var value: RunWorker.Stop?
    func set(_ stop: RunWorker.Stop) { if value == nil { value = stop } }
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
