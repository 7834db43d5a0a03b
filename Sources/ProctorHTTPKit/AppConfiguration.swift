import Foundation
import Logging
import ProctorCore

/// Everything `proctor serve` can be told. Tests build one by hand.
///
/// - `host` (default `127.0.0.1`), `port` (default 8080; 0 picks a free one)
/// - `dataDirectory` (default `./proctor-data`): the SQLite file `proctor.sqlite` and stored files
/// - `databaseURL`: `postgres://…` switches the store to PostgreSQL
/// - `adminToken`: the bootstrap admin's token on a fresh store (env `PROCTOR_ADMIN_TOKEN`)
/// - `maxJSONBytes` (1 MiB) and `maxFileBytes` (64 MiB): request size limits (413 beyond)
/// - `executorSlots`: local executor slots (default: the number of cores)
/// - `workspace`: where relative job files are found (default: the working directory)
/// - `imageBuilderCommand` (`docker build`) and `imageStoragePath` (`<dataDirectory>/images`): XPRESSO image builds
/// - `cdrouterBinary` (`cdrouter-cli`): the binary the `cdrouter` harness runs
/// - `leaseSeconds` (30), `maxRunAttempts` (3), `killGraceSeconds` (5): the queue's leases and the executor's
///   terminate-then-kill grace period
/// - `loginFailuresPerUser` (10), `loginFailuresPerAddress` (50), `loginWindowSeconds` (900): the limits of failed
///   password attempts on every door (``LoginThrottle``); `trustedProxies`: peers whose `X-Forwarded-For` is
///   believed when counting them per address (none by default)
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var dataDirectory: String
    public var databaseURL: String?
    public var adminToken: String?
    public var adminPassword: String?
    public var maxJSONBytes: Int
    public var maxFileBytes: Int
    public var executorSlots: Int
    public var logLevel: Logger.Level
    public var workspace: String = FileManager.default.currentDirectoryPath
    public var leaseSeconds: Int = 30
    public var maxRunAttempts: Int = 3
    public var killGraceSeconds: Double = 5
    /// The most jobs one KernelCI `/job` answer carries (`limit=0` means all, up to this).
    public var kernelciMaxLimit: Int = 1000
    /// The image builder (XPRESSO `polaris_build`), a shell command line given docker's build arguments.
    public var imageBuilderCommand: String = "docker build"
    /// Where built image tarballs go (default: `images` in the data directory).
    public var imageStoragePath: String?
    /// The `cdrouter-cli` binary the `cdrouter` harness runs (a path, or a name looked up on `PATH`).
    public var cdrouterBinary: String = "cdrouter-cli"
    /// The interpreter of `pytest` jobs whose definition names none (`serve --python`).
    public var pythonBinary: String = "python3"
    /// The `pyats` of pyATS jobs whose definition names none (`serve --pyats`).
    public var pyatsBinary: String = "pyats"
    /// The bearer token `GET /metrics` requires (nil: open; env `PROCTOR_METRICS_TOKEN`).
    public var metricsToken: String?
    /// How runs are isolated (bubblewrap by default; `--sandbox none` only by the operator's choice).
    public var sandbox = SandboxSettings()
    /// Where runs get their work directories: outside the data directory, which no run may see
    /// (default: `<dataDirectory>-work`; `proctor serve` uses `./proctor-work`).
    public var workRoot: String?
    /// Failed password attempts per user name within ``loginWindowSeconds`` before every attempt for that name
    /// is refused with 429 (``LoginThrottle``).
    public var loginFailuresPerUser: Int = 10
    /// Failed password attempts per client address within ``loginWindowSeconds``.
    public var loginFailuresPerAddress: Int = 50
    /// The sliding window of the login limits, in seconds.
    public var loginWindowSeconds: Int = 900
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client (exact IP addresses). From any other
    /// peer the header is ignored and the peer's own address is the client's.
    public var trustedProxies: [String] = []
    /// PostgreSQL: the most connections the pool opens (`serve --postgres-connections`).
    public var postgresConnections: Int = 8
    /// PostgreSQL: how long a request waits for a connection before a 503 (`serve --postgres-wait`).
    public var postgresWaitSeconds: Int = 10
    /// The longest request line and header fields; beyond, 414 or 431 at once (``RequestHeadLimits``).
    public var requestHeadLimits = RequestHeadLimits()
    /// Where runs' files are kept: nil for ``filesDirectory`` (the default), else an S3-compatible object store
    /// (`serve --file-store s3://…`), which every replica of a scaled-out server reads and writes alike.
    public var objectStore: ObjectStoreSettings?

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        dataDirectory: String = "./proctor-data",
        databaseURL: String? = nil,
        adminToken: String? = nil,
        adminPassword: String? = nil,
        maxJSONBytes: Int = 1 << 20,
        maxFileBytes: Int = 64 << 20,
        executorSlots: Int = 2,
        logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.adminToken = adminToken
        self.adminPassword = adminPassword
        self.maxJSONBytes = maxJSONBytes
        self.maxFileBytes = maxFileBytes
        self.executorSlots = executorSlots
        self.logLevel = logLevel
    }

    /// Where uploaded and collected files live.
    public var filesDirectory: URL {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("files", isDirectory: true)
    }

    /// Where runs get their fresh working directories.
    public var runsDirectory: URL {
        URL(
            fileURLWithPath: workRoot
                ?? (dataDirectory.hasSuffix("/") ? String(dataDirectory.dropLast()) : dataDirectory) + "-work"
        )
        .standardizedFileURL
    }

    /// The limits of failed password attempts, from the `login*` settings.
    public var loginLimits: LoginThrottle.Limits {
        LoginThrottle.Limits(
            failuresPerUser: loginFailuresPerUser,
            failuresPerAddress: loginFailuresPerAddress,
            windowSeconds: loginWindowSeconds
        )
    }

    /// How image builds run: the builder, the tarballs' folder, the workspace as build context.
    public var imageBuildOptions: ImageBuilds.Options {
        ImageBuilds.Options(
            builderCommand: imageBuilderCommand,
            storagePath: imageStoragePath ?? URL(fileURLWithPath: dataDirectory).appendingPathComponent("images").path,
            context: workspace,
            keepTarball: objectStore != nil
        )
    }

    /// The SQLite file inside the data directory.
    public var sqlitePath: String {
        (dataDirectory.hasSuffix("/") ? dataDirectory : dataDirectory + "/") + "proctor.sqlite"
    }
}
