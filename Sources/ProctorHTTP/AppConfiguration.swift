import Logging

/// Everything `proctor serve` can be told. Tests build one by hand.
///
/// - `host` (default `127.0.0.1`), `port` (default 8080; 0 picks a free one)
/// - `dataDirectory` (default `./proctor-data`): the SQLite file `proctor.sqlite` and stored files
/// - `databaseURL`: `postgres://…` switches the store to PostgreSQL
/// - `adminToken`: the bootstrap admin's token on a fresh store (env `PROCTOR_ADMIN_TOKEN`)
/// - `maxJSONBytes` (1 MiB) and `maxFileBytes` (64 MiB): request size limits (413 beyond)
/// - `executorSlots`: local executor slots (default: the number of cores)
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

    /// The SQLite file inside the data directory.
    public var sqlitePath: String {
        (dataDirectory.hasSuffix("/") ? dataDirectory : dataDirectory + "/") + "proctor.sqlite"
    }
}
