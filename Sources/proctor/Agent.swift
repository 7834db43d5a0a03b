import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ProctorCore
import ProctorExec

extension Proctor {
    /// `proctor agent`: executes runs for a server on this machine, exactly like the local executor.
    struct Agent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Execute runs for a Proctor server on this machine.")

        @Option(help: "The server's URL (or PROCTOR_URL).")
        var server: String?

        @Option(
            help:
                "A file (mode 0600) holding the API token of a member of the groups whose runs to execute; or PROCTOR_TOKEN."
        )
        var tokenFile: String?

        /// Refused: a token on the command line is readable by every process of the machine (`/proc/PID/cmdline`).
        @Option(help: .hidden)
        var token: String?

        @Option(help: "The agent's name (default: the host name).")
        var name: String?

        @Option(name: .customLong("label"), help: "A label engines target (repeatable).")
        var labels: [String] = []

        @Option(help: "Runs executed at once.")
        var slots = 1

        @Option(help: "Directory for the runs' working directories.")
        var workDir = "./proctor-agent-work"

        @Option(help: "Where relative job files are found (default: the working directory).")
        var workspace: String?

        @Option(help: "Seconds between SIGTERM and SIGKILL when a run is stopped.")
        var killGrace: Double = 5

        @OptionGroup var harness: HarnessOptions

        @OptionGroup var sandbox: SandboxOptions

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: LogLevel = .info

        @Option(help: "Log format on standard error: text, or json (one object per line).")
        var logFormat: LogFormat = .text

        func validate() throws {
            guard slots >= 1 else { throw ValidationError("--slots must be at least 1") }
            if token != nil {
                throw ValidationError(
                    "the token is not taken on the command line, where every process of the machine can read it: "
                        + "set PROCTOR_TOKEN or write it to a file only this user can read and pass --token-file"
                )
            }
        }

        /// The token from `--token-file` (which must not be readable by others) or `PROCTOR_TOKEN`.
        private func readToken(_ environment: [String: String]) throws -> String {
            if let tokenFile {
                var info = stat()
                guard stat(tokenFile, &info) == 0 else {
                    throw CleanExit.message("cannot read --token-file \(tokenFile)")
                }
                guard info.st_mode & 0o077 == 0 else {
                    throw CleanExit.message("--token-file \(tokenFile) is readable by others; chmod 600 it")
                }
                let text = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines
                )
                guard !text.isEmpty else { throw CleanExit.message("--token-file \(tokenFile) is empty") }
                return text
            }
            guard let token = environment["PROCTOR_TOKEN"], !token.isEmpty else {
                throw CleanExit.message("give a token: PROCTOR_TOKEN or --token-file FILE")
            }
            return token
        }

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            guard let server = server ?? environment["PROCTOR_URL"] else {
                throw CleanExit.message("say which server: --server URL or PROCTOR_URL")
            }
            let token = try readToken(environment)
            logFormat.bootstrap()
            var logger = Logger(label: "proctor.agent")
            logger.logLevel = logLevel.level
            let client = APIClient(server: server, token: token)
            let agentName = name ?? ProcessInfo.processInfo.hostName
            let sandbox = try Sandbox.prepare(
                self.sandbox.settings,
                workRoot: URL(fileURLWithPath: workDir),
                hiddenPaths: tokenFile.map { [$0] } ?? []
            )
            try await sandbox.check()
            if sandbox.mode == .none { logger.warning("\(sandbox.summary)") } else { logger.info("\(sandbox.summary)") }
            let worker = RunWorker(
                workspace: URL(fileURLWithPath: workspace ?? FileManager.default.currentDirectoryPath),
                sandbox: sandbox,
                gracePeriod: killGrace,
                heartbeatInterval: 2,
                harness: harness.settings,
                logger: logger
            )
            let agentID = try await register(client, name: agentName, logger: logger)
            logger.info("agent \(agentName) (\(agentID)) serving \(server) with \(slots) slot(s), labels \(labels)")
            let agentLogger = logger
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<slots {
                    group.addTask {
                        await Self.claimLoop(client, agentID: agentID, worker: worker, logger: agentLogger)
                    }
                }
            }
        }

        /// Registers, retrying with backoff while the server is unreachable.
        private func register(_ client: APIClient, name: String, logger: Logger) async throws -> String {
            var delay = 0.5
            while true {
                do {
                    let reply = try await client.expect(
                        .POST,
                        "/api/v1/agents/register",
                        json: .object([
                            "name": .string(name), "labels": .array(labels.map(JSONValue.string)),
                            "version": .string(Proctor.configuration.version),
                            "slots": .number(Double(slots)),
                        ])
                    )
                    guard let id = reply.json?["id"]?.stringValue else {
                        throw CleanExit.message("the server did not return an agent id")
                    }
                    return id
                } catch let error as APIClient.Unreachable {
                    logger.warning("\(error); retrying in \(delay) s")
                    try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                    delay = min(delay * 2, 30)
                } catch let error as APIClient.ServerError {
                    throw CleanExit.message("cannot register: \(error.message)")
                }
            }
        }

        private static func claimLoop(_ client: APIClient, agentID: String, worker: RunWorker, logger: Logger) async {
            var delay = 0.5
            while !Task.isCancelled {
                do {
                    let reply = try await client.send(
                        .POST,
                        "/api/v1/agents/\(agentID)/claim?wait=20",
                        timeout: .seconds(40)
                    )
                    delay = 0.5
                    if reply.status == 204 { continue }
                    guard reply.status == 200, let json = reply.json, let runJSON = json["run"],
                        let claimant = json["claimant"]?.stringValue
                    else {
                        logger.warning("claim failed: \(reply.errorMessage)")
                        try await Task.sleep(for: .seconds(2))
                        continue
                    }
                    let run = Run(unchecked: try FieldCoding.record(.runs, from: runJSON))
                    logger.info("executing run \(run.id) (\(run.name ?? ""))")
                    await worker.execute(
                        run,
                        reporter: RemoteReporter(client: client, runID: run.id, claimant: claimant, logger: logger)
                    )
                } catch {
                    logger.warning("server unreachable (\(error)); retrying in \(delay) s")
                    try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                    delay = min(delay * 2, 30)
                }
            }
        }
    }
}

/// Reports a run to the server's API. While the server is unreachable it keeps retrying with backoff, so a
/// run that finished while the agent was cut off is reported once the server is back.
struct RemoteReporter: RunReporter {
    let client: APIClient
    let runID: String
    let claimant: String
    let logger: Logger

    func advance(_ status: RunStatus, reason: String?, changes: [Run.Field: Value]) async throws {
        var fields: [String: JSONValue] = ["claimant": .string(claimant), "status": .string(status.rawValue)]
        if let reason { fields["reason"] = .string(reason) }
        if let code = changes[.exitCode]?.intValue { fields["exit_code"] = .number(Double(code)) }
        let body = JSONValue.object(fields)
        _ = try await retrying { try await client.expect(.POST, "/api/v1/runs/\(runID)/advance", json: body) }
    }

    func appendLog(_ text: String, offset: Int64) async throws {
        _ = try await retrying {
            try await client.expect(
                .POST,
                "/api/v1/runs/\(runID)/log?offset=\(offset)",
                body: .bytes(ByteBuffer(string: text)),
                contentType: "text/plain"
            )
        }
    }

    func heartbeat() async throws -> RunQueue.Heartbeat {
        do {
            let reply = try await client.expect(
                .POST,
                "/api/v1/runs/\(runID)/heartbeat",
                json: .object(["claimant": .string(claimant)])
            )
            switch reply.json?["action"]?.stringValue {
            case "cancel": return .cancel
            case "lost": return .lost
            default: return .keep
            }
        } catch is APIClient.Unreachable {
            return .keep  // keep running while the server is away; the final report waits for it
        }
    }

    /// Asked when a run reaches its timeout between two heartbeats, so that a cancel sent before it says `canceled`.
    func cancelRequested() async -> Bool {
        (try? await heartbeat()) == .cancel
    }

    func attachResult(_ file: URL, name: String, format: RunPlan.ResultFormat) async throws -> TestSummary {
        let reply = try await upload(
            file,
            query: "name=\(queryEscape(name))&results=\(format.rawValue)",
            contentType: format == .junit ? "application/junit" : "application/json"
        )
        let totals = reply.json?["run_totals"]
        func count(_ key: String) -> Int {
            if case .number(let n) = totals?[key] ?? .null { return Int(n) }
            return 0
        }
        return TestSummary(
            total: count("total"),
            passed: count("passed"),
            failed: count("failed"),
            errored: count("errored"),
            skipped: count("skipped")
        )
    }

    func attachFile(_ file: URL, name: String, mime: String) async throws {
        _ = try await upload(file, query: "name=\(queryEscape(name))", contentType: mime)
    }

    /// The server's default file limit (`serve --max-file-bytes`); a server set lower answers 413 on upload.
    var maxResultBytes: Int { 64 << 20 }

    private func upload(_ file: URL, query: String, contentType: String) async throws -> APIClient.Reply {
        try await retrying {
            let data = try Data(contentsOf: file)
            return try await client.expect(
                .POST,
                "/api/v1/runs/\(runID)/files?\(query)",
                body: .bytes(ByteBuffer(data: data)),
                contentType: contentType,
                timeout: .seconds(300)
            )
        }
    }

    /// Retries while the server is unreachable (up to an hour, backing off to 30 s); server errors are final.
    private func retrying<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        var delay = 0.5
        let deadline = ContinuousClock.now + .seconds(3600)
        while true {
            do {
                return try await body()
            } catch let error as APIClient.Unreachable {
                guard ContinuousClock.now < deadline else { throw error }
                logger.warning("\(error); retrying in \(delay) s")
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 30)
            }
        }
    }
}
