import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ProctorCore
import ProctorExec
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore

extension Proctor {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the server (SQLite in the data dir by default).")

        @Option(
            help: """
                A YAML file of these options by name (port: 8080, database-url: …, trusted-proxy: [a, b]), or \
                PROCTOR_CONFIG. Each option is also read from PROCTOR_<NAME> (PROCTOR_DATABASE_URL for \
                --database-url; a list comma-separated). The command line wins over the variables, and they over \
                the file.
                """
        )
        var config: String?

        @Option(help: "Address to listen on.")
        var host = "127.0.0.1"

        @Option(help: "Port to listen on (0 picks a free one).")
        var port = 8080

        @OptionGroup var store: StoreOptions

        @Option(help: "Local executor slots (default: the number of cores).")
        var executorSlots: Int?

        @Option(help: "Seconds a claimed run's lease lives without a heartbeat.")
        var leaseSeconds = 30

        @Option(help: "Claims of a run before a lost lease fails it instead of requeueing it.")
        var maxRunAttempts = 3

        @Option(help: "Seconds between SIGTERM and SIGKILL when a run is stopped.")
        var killGrace: Double = 5

        @Option(help: "Where relative job files are found (default: the working directory).")
        var workspace: String?

        @Option(help: "The most jobs one KernelCI /job answer carries (limit=0 means all, up to this).")
        var kernelciMaxLimit = 1000

        @Option(help: "The largest JSON body accepted, in bytes (413 beyond).")
        var maxJsonBytes = 1 << 20

        @Option(help: "The largest uploaded file accepted, in bytes (413 beyond).")
        var maxFileBytes = 64 << 20

        @Option(
            help: """
                Where runs' files are kept: s3://bucket[/prefix] for an S3-compatible object store, shared by every \
                replica (default: <data-dir>/files).
                """
        )
        var fileStore: String?

        @Option(help: "The object store's URL, path-style, e.g. http://minio:9000 (or AWS_ENDPOINT_URL).")
        var s3Endpoint: String?

        @Option(help: "The object store's region (or AWS_REGION; default us-east-1).")
        var s3Region: String?

        @Option(help: "The object store's access key (or AWS_ACCESS_KEY_ID).")
        var s3AccessKey: String?

        @Option(help: "The object store's secret key (or AWS_SECRET_ACCESS_KEY).")
        var s3SecretKey: String?

        @Option(help: "Files larger than this go to the object store in parts of this many bytes (at least 5 MiB).")
        var s3PartSize = 16 << 20

        @Option(help: "The XPRESSO image builder, a shell command given docker's build arguments.")
        var imageBuilder = "docker build"

        @Option(help: "Where built image tarballs are written (default: <data-dir>/images).")
        var imageStorage: String?

        @OptionGroup var harness: HarnessOptions

        @OptionGroup var sandbox: SandboxOptions

        @Option(
            help:
                "A token GET /metrics then requires as Authorization: Bearer (or PROCTOR_METRICS_TOKEN; default: open)."
        )
        var metricsToken: String?

        @Option(help: "Where runs get their work directories; outside the data directory, which runs never see.")
        var workRoot = "./proctor-work"

        @Option(help: "Failed password attempts per user name within --login-window before it is refused (429).")
        var loginFailuresPerUser = 10

        @Option(help: "Failed password attempts per client address within --login-window before it is refused (429).")
        var loginFailuresPerAddress = 50

        @Option(help: "The sliding window of the login limits, in seconds.")
        var loginWindow = 900

        @Option(
            help: "A reverse proxy's IP address, whose X-Forwarded-For names the client for login limits (repeatable)."
        )
        var trustedProxy: [String] = []

        @Option(help: "PostgreSQL only: the most connections this server opens (its pool's limit).")
        var postgresConnections: Int = 8

        @Option(
            help:
                "PostgreSQL only: seconds a request waits for a connection before it is refused with 503 (database down or saturated)."
        )
        var postgresWait: Int = 10

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: LogLevel = .info

        @Option(help: "Log format on standard error: text, or json (one object per line, for log collectors).")
        var logFormat: LogFormat = .text

        func validate() throws {
            guard leaseSeconds >= 2 else { throw ValidationError("--lease-seconds must be at least 2") }
            guard maxRunAttempts >= 1 else { throw ValidationError("--max-run-attempts must be at least 1") }
            guard killGrace >= 0 else { throw ValidationError("--kill-grace cannot be negative") }
            guard kernelciMaxLimit >= 1 else { throw ValidationError("--kernelci-max-limit must be at least 1") }
            guard maxJsonBytes >= 1024 else { throw ValidationError("--max-json-bytes must be at least 1024") }
            guard maxFileBytes >= 1024 else { throw ValidationError("--max-file-bytes must be at least 1024") }
            guard !imageBuilder.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("--image-builder cannot be empty")
            }
            guard s3PartSize >= 5 << 20 else {
                throw ValidationError("--s3-part-size must be at least 5 MiB (5242880)")
            }
            guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
            if let executorSlots, executorSlots < 0 { throw ValidationError("--executor-slots cannot be negative") }
            guard loginFailuresPerUser >= 1 else {
                throw ValidationError("--login-failures-per-user must be at least 1")
            }
            guard loginFailuresPerAddress >= 1 else {
                throw ValidationError("--login-failures-per-address must be at least 1")
            }
            guard loginWindow >= 1 else { throw ValidationError("--login-window must be at least 1") }
            guard (1...1000).contains(postgresConnections) else {
                throw ValidationError("--postgres-connections must be between 1 and 1000")
            }
            guard (1...3600).contains(postgresWait) else {
                throw ValidationError("--postgres-wait must be between 1 and 3600 seconds")
            }
            for proxy in trustedProxy where ClientAddresses(trustedProxies: [proxy]).isEmpty {
                throw ValidationError("--trusted-proxy must be an IP address, not '\(proxy)'")
            }
        }

        func run() async throws {
            AllocatorTuning.apply()
            let environment = ProcessInfo.processInfo.environment
            var configuration = AppConfiguration(
                host: host,
                port: port,
                dataDirectory: store.dataDir,
                databaseURL: store.databaseURL ?? environment["PROCTOR_DATABASE_URL"],
                adminToken: environment["PROCTOR_ADMIN_TOKEN"],
                adminPassword: environment["PROCTOR_ADMIN_PASSWORD"],
                executorSlots: executorSlots ?? ProcessInfo.processInfo.activeProcessorCount,
                logLevel: logLevel.level
            )
            configuration.leaseSeconds = leaseSeconds
            configuration.maxRunAttempts = maxRunAttempts
            configuration.killGraceSeconds = killGrace
            if let workspace { configuration.workspace = workspace }
            configuration.kernelciMaxLimit = kernelciMaxLimit
            configuration.maxJSONBytes = maxJsonBytes
            configuration.maxFileBytes = maxFileBytes
            if let fileStore {
                do {
                    var settings = try ObjectStoreSettings.parse(
                        fileStore,
                        endpoint: s3Endpoint,
                        region: s3Region,
                        accessKey: s3AccessKey,
                        secretKey: s3SecretKey,
                        environment: environment
                    )
                    settings.partSize = s3PartSize
                    configuration.objectStore = settings
                } catch let error as ProctorError {
                    throw ValidationError(error.message)
                }
            }
            configuration.imageBuilderCommand = imageBuilder
            configuration.imageStoragePath = imageStorage
            configuration.cdrouterBinary = harness.settings.cdrouterBinary
            configuration.pythonBinary = harness.settings.python
            configuration.pyatsBinary = harness.settings.pyats
            configuration.metricsToken = metricsToken ?? environment["PROCTOR_METRICS_TOKEN"]
            configuration.sandbox = sandbox.settings
            configuration.workRoot = workRoot
            configuration.loginFailuresPerUser = loginFailuresPerUser
            configuration.loginFailuresPerAddress = loginFailuresPerAddress
            configuration.loginWindowSeconds = loginWindow
            configuration.trustedProxies = trustedProxy
            configuration.postgresConnections = postgresConnections
            configuration.postgresWaitSeconds = postgresWait
            logFormat.bootstrap()
            var logger = Logger(label: "proctor")
            logger.logLevel = configuration.logLevel
            try await failingCleanly {
                // Before the store: a first start that cannot sandbox its runs must not have created (and printed
                // once, to no one) the admin's token.
                if configuration.executorSlots > 0 { try await configuration.makeSandbox().check() }
                let store = try await openStore(configuration, logger: logger)
                let outcome = try await Bootstrap.run(
                    store: store,
                    adminToken: configuration.adminToken,
                    adminPassword: configuration.adminPassword
                )
                if outcome.created {
                    if let token = outcome.generatedToken {
                        let kept = AdminTokenFile.keep(token, in: configuration.dataDirectory)
                        writeAtOnce(
                            "Created the site admin 'admin' in group 'default'. Its API token (shown once; \(kept)):\n\(token)\n"
                        )
                    } else {
                        writeAtOnce(
                            "Created the site admin 'admin' in group 'default' with the token from PROCTOR_ADMIN_TOKEN.\n"
                        )
                    }
                }
                let app = try await buildApplication(configuration: configuration, store: store, logger: logger)
                do {
                    try await app.runService()
                } catch {
                    await store.shutdown()
                    throw error
                }
                await store.shutdown()
            }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bring the store's schema up to date, then exit.")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await failingCleanly {
                let configuration = AppConfiguration(dataDirectory: store.dataDir, databaseURL: store.databaseURL)
                let opened = try await openStore(configuration, logger: Logger(label: "proctor"))
                let health = await opened.health()
                print("store \(health.backend) at schema version \(health.schemaVersion)")
                await opened.shutdown()
            }
        }
    }
}

/// Where a generated bootstrap token is kept besides standard output, which no one may be reading (a service
/// under systemd or nohup): `admin-token` in the data directory, which runs never see.
enum AdminTokenFile {
    static let name = "admin-token"

    /// Writes the token to a new file of mode 0600 (never over an existing one, which may be another server's) and
    /// says where, or why not, for the line that shows the token.
    static func keep(_ token: String, in dataDirectory: String) -> String {
        let directory = URL(fileURLWithPath: dataDirectory).standardizedFileURL
        let path = directory.appendingPathComponent(name).path
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            return "not written to \(path): \(oneLine(error))"
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "that file already exists" : String(cString: strerror(errno))
            return "not written to \(path): \(reason)"
        }
        defer { close(descriptor) }
        let bytes = Array((token + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fchmod(descriptor, 0o600) == 0 else {
            unlink(path)
            return "not written to \(path): \(String(cString: strerror(errno)))"
        }
        return "also in \(path), mode 0600: delete it once the token is kept elsewhere"
    }
}

/// Writes to standard output at once: `print` is buffered when the output is a file or a pipe, and a line of a
/// long-running server would only show when it exits.
func writeAtOnce(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// Log levels as the command line spells them.
/// How `serve` and `agent` write their logs.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json

    /// Installs the handler every logger of the process gets; once, before any logger is made.
    func bootstrap() {
        switch self {
        case .text: LoggingSystem.bootstrap(StreamLogHandler.standardError)
        case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        }
    }
}

enum LogLevel: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}

/// Runs a command body so that any failure is one clear line on stderr and exit status 1, never a trace.
func failingCleanly(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ProctorError {
        throw CleanExit.message(error.message)
    } catch let error as CleanExit {
        throw error
    } catch let error as ExitCode {
        throw error
    } catch {
        throw CleanExit.message(oneLine(error))
    }
}

/// A failure to print as one line.
enum CleanExit: Error, CustomStringConvertible {
    case message(String)
    var description: String {
        switch self {
        case .message(let text): return text
        }
    }
}

func oneLine(_ error: any Error) -> String {
    let text = String(describing: error)
    if text.contains("Permission denied") || text.contains("EACCES") { return "permission denied: \(text.prefix(200))" }
    return String(text.split(separator: "\n").first ?? "failed")
}
