import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import ProctorCore
import ProctorStoreWriting
import SQLKit
import SQLiteKit
import Synchronization

/// The ``Store`` over SQL: SQLite (embedded default: WAL, foreign keys on, one writer and a few readers)
/// or PostgreSQL (a pool of connections shared by reads and writes).
public struct SQLStore: Store {
    public let flavor: SQLFlavor
    public var backend: String { flavor.rawValue }
    /// The largest page a list returns, whatever the client asks.
    public let maxPageSize: Int
    public let defaultPageSize: Int
    let readers: any SessionSource
    let writers: any SessionSource
    /// Set inside ``transaction(_:)``: every call goes to this one session.
    let pinned: (any SQLDatabase)?
    /// SQLite only: reads of one row by id, inline (see ``SQLitePointReader``).
    let pointReader: SQLitePointReader?
    /// PostgreSQL only: how the replicas sharing the database learn of each other's changes.
    let feed: PostgresChangeFeed?
    /// SQLite only: the database file, for the connections the store opens itself (imports).
    let sqlitePath: String?
    let generation: AccessGenerationCounter
    /// SQLite only: writes committed in groups on the single writer (see ``WriteGroups``).
    let writeGroups: WriteGroups?
    let statistics = StatisticsSchedule()
    /// Keyset continuations of pages asked by offset (see ``PageAnchors``), shared by the store's transactions.
    let anchors: PageAnchors
    /// The public JSON of rows pages wrote, for the pages that hold them again (see ``RowJSONCache``); nil writes
    /// every page from its rows.
    let rowJSON: RowJSONCache?
    let logger: Logger

    init(
        flavor: SQLFlavor,
        readers: any SessionSource,
        writers: any SessionSource,
        pinned: (any SQLDatabase)?,
        pointReader: SQLitePointReader? = nil,
        feed: PostgresChangeFeed? = nil,
        sqlitePath: String? = nil,
        logger: Logger,
        maxPageSize: Int,
        defaultPageSize: Int,
        generation: AccessGenerationCounter = AccessGenerationCounter(),
        writeGroups: WriteGroups? = nil,
        anchors: PageAnchors = PageAnchors(),
        rowJSON: RowJSONCache? = RowJSONCache()
    ) {
        self.generation = generation
        self.anchors = anchors
        self.rowJSON = rowJSON
        self.writeGroups = writeGroups
        self.pointReader = pointReader
        self.feed = feed
        self.sqlitePath = sqlitePath
        self.flavor = flavor
        self.readers = readers
        self.writers = writers
        self.pinned = pinned
        self.logger = logger
        self.maxPageSize = maxPageSize
        self.defaultPageSize = defaultPageSize
    }

    /// Opens (creating if needed) the SQLite file at `path`. Writes are committed in groups (see ``WriteGroups``)
    /// of at most `maxGroupWrites`, to which no write is added once `maxGroupDuration` has passed since the
    /// group began. The commit that takes the WAL to `walCheckpointPages` (1,000 is SQLite's own threshold) copies
    /// it into the database, a checkpointer beside the writer having copied most of it already (see
    /// ``WALCheckpointer``).
    public static func sqlite(
        path: String,
        readers: Int = 4,
        logger: Logger = Logger(label: "proctor.store"),
        maxPageSize: Int = 1000,
        defaultPageSize: Int = 50,
        maxGroupWrites: Int = 256,
        maxGroupDuration: Duration = .milliseconds(20),
        walCheckpointPages: Int32 = 1000
    ) async throws -> SQLStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ProctorError(
                    .unavailable,
                    "cannot create the data directory \(directory): \(error.localizedDescription)"
                )
            }
            guard FileManager.default.isWritableFile(atPath: directory) else {
                throw ProctorError(.unavailable, "the data directory \(directory) is not writable")
            }
        }
        let open: @Sendable (_ writer: Bool) async throws -> SessionPool.Session = { writer in
            let database = try await SQLiteSession.open(
                path: path,
                logger: logger,
                inlineInTransaction: writer,
                checkpointer: writer
                    ? WALCheckpointer(path: path, thresholdPages: walCheckpointPages, logger: logger) : nil
            )
            // 16 KiB pages (set before a new file has its first table; an existing store keeps its size): index
            // entries of UUIDs and timestamps fill pages quickly, and larger pages split, balance and log less; a
            // million-run import took 15% less time than with 4 KiB pages, and the long scans of lists and
            // counts read fewer pages.
            for pragma in [
                "PRAGMA page_size = 16384", "PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = \(SQLiteSession.busyTimeoutMilliseconds)",
                "PRAGMA synchronous = NORMAL", "PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY",
            ] {
                do {
                    try await database.raw(SQLQueryString(pragma)).run()
                } catch {
                    await database.close()
                    throw error
                }
            }
            return SessionPool.Session(
                database: database,
                isClosed: { database.isClosed },
                close: { await database.close() }
            )
        }
        // Open one connection first so the file and WAL mode exist before readers race for them.
        let writers = SessionPool(capacity: 1, open: { try await open(true) })
        try await writers.withSession { _ in () }
        return SQLStore(
            flavor: .sqlite,
            readers: SessionPool(capacity: readers, open: { try await open(false) }),
            writers: writers,
            pinned: nil,
            pointReader: SQLitePointReader(path: path, capacity: readers),
            sqlitePath: path,
            logger: logger,
            maxPageSize: maxPageSize,
            defaultPageSize: defaultPageSize,
            writeGroups: WriteGroups(maxWrites: maxGroupWrites, maxDuration: maxGroupDuration)
        )
    }

    /// A connection's configuration from a `postgres://` URL; TLS only when the URL asks for it (`sslmode` or
    /// `tlsmode`).
    static func postgresConnection(url: String) throws -> PostgresConnection.Configuration {
        var configuration: SQLPostgresConfiguration
        do {
            configuration = try SQLPostgresConfiguration(url: url)
        } catch {
            throw ProctorError.badRequest(
                "invalid PostgreSQL URL '\(url)': expected postgres://user:password@host:port/database"
            )
        }
        if !url.contains("sslmode") && !url.contains("tlsmode") {
            configuration.coreConfiguration.tls = .disable
        }
        return configuration.coreConfiguration
    }

    /// A private schema's name: letters, digits and underscores (it is written into statements as it is).
    static func checkSchemaName(_ schema: String) throws {
        if !schema.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw ProctorError.badRequest("invalid schema name '\(schema)'")
        }
    }

    /// Drops a private schema that ``postgres(url:connections:leaseTimeout:schema:logger:maxPageSize:defaultPageSize:)``
    /// was opened on, with everything in it, once its stores are shut down: benchmarks share a server that would
    /// otherwise keep every run's data.
    public static func dropPostgresSchema(_ schema: String, url: String, logger: Logger) async throws {
        try checkSchemaName(schema)
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(),
            configuration: try postgresConnection(url: url),
            id: 0,
            logger: logger
        )
        do {
            try await connection.sql(queryLogLevel: nil)
                .raw(SQLQueryString("DROP SCHEMA IF EXISTS \(unsafeRaw: schema) CASCADE")).run()
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// Connects to PostgreSQL at a `postgres://user:pass@host:port/db` URL.
    public static func postgres(
        url: String,
        connections: Int = 8,
        leaseTimeout: Duration = .seconds(10),
        schema: String? = nil,
        logger: Logger = Logger(label: "proctor.store"),
        maxPageSize: Int = 1000,
        defaultPageSize: Int = 50
    ) async throws -> SQLStore {
        if let schema { try checkSchemaName(schema) }
        let core = try postgresConnection(url: url)
        do {
            // One connection of its own first: a clear error when the server cannot be reached, and the private
            // schema (tests and benchmarks share one server without seeing each other) made before any session
            // asks for it at startup.
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(),
                configuration: core,
                id: 0,
                logger: logger
            )
            defer { Task { try? await connection.close() } }
            if let schema {
                try await connection.sql(queryLogLevel: nil)
                    .raw(SQLQueryString("CREATE SCHEMA IF NOT EXISTS \(unsafeRaw: schema)")).run()
            }
        } catch {
            throw ProctorError(.unavailable, "cannot connect to PostgreSQL at \(redacted(url)): \(describe(error))")
        }
        var client = try PostgresClient.Configuration(core)
        client.options.maximumConnections = max(1, connections)
        client.options.minimumConnections = 0
        if let schema { client.options.additionalStartupParameters = [("search_path", schema)] }
        let pool = PostgresSessions(configuration: client, leaseTimeout: leaseTimeout, logger: logger)
        let anchors = PageAnchors()
        let feed = PostgresChangeFeed(
            connection: core,
            sessions: pool,
            schema: schema,
            anchors: anchors,
            logger: logger
        )
        return SQLStore(
            flavor: .postgres,
            readers: pool,
            writers: pool,
            pinned: nil,
            feed: feed,
            logger: logger,
            maxPageSize: maxPageSize,
            defaultPageSize: defaultPageSize,
            anchors: anchors
        )
    }

    public var accessGeneration: UInt64 { generation.value }

    /// Called after a write of `kind` succeeded.
    func wrote(_ kind: ResourceKind) {
        if AccessGenerationCounter.kinds.contains(kind) { generation.bump() }
        anchors.invalidate(kind)
    }

    public var changeFeed: (any ChangeFeed)? { feed }

    public func shutdown() async {
        await feed?.shutdown()
        pointReader?.shutdown()
        await readers.shutdown()
        await writers.shutdown()
    }

    // MARK: Sessions

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let pinned { return try await body(pinned) }
        return try await mapErrors { try await readers.withSession(body) }
    }

    /// Runs `body`'s statements on the writer: on SQLite as one write of a group (its own savepoint of a group
    /// commit), on PostgreSQL each statement in its own transaction.
    func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let pinned { return try await body(pinned) }
        defer { refreshStatisticsWhenDue() }
        if let writeGroups { return try await mapErrors { try await groupedWrite(writeGroups, body) } }
        return try await mapErrors { try await writers.withSession(body) }
    }

    /// Runs `body` inside one transaction: on SQLite one write of a group commit, which is all or nothing as a
    /// transaction of its own is (see ``WriteGroups``); on PostgreSQL a transaction on one pooled session.
    ///
    /// PostgreSQL is left ungrouped: its sessions write in parallel, and the server already shares one WAL flush
    /// among the commits that wait for it at the same time.
    func inTransaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let pinned { return try await body(pinned) }
        defer { refreshStatisticsWhenDue() }
        // A page read between a write and the commit counted the old rows: its anchors go again.
        let written = anchors.writes
        defer { if anchors.writes != written { anchors.invalidateAll() } }
        if let writeGroups { return try await mapErrors { try await groupedWrite(writeGroups, body) } }
        return try await mapErrors {
            try await writers.withSession { db in
                try await db.raw(SQLQueryString(flavor.beginWrite)).run()
                let before = generation.value
                do {
                    let result = try await body(db)
                    try await db.raw("COMMIT").run()
                    // A principal read between the write and the commit saw the old rows: stale it again.
                    if generation.value != before { generation.bump() }
                    return result
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any Store) async throws -> T) async throws -> T {
        try await inTransaction { db in try await body(pinned(to: db)) }
    }

    /// This store with every call sent to one session (inside a transaction).
    func pinned(to db: any SQLDatabase) -> SQLStore {
        SQLStore(
            flavor: flavor,
            readers: readers,
            writers: writers,
            pinned: db,
            pointReader: pointReader,
            feed: feed,
            sqlitePath: sqlitePath,
            logger: logger,
            maxPageSize: maxPageSize,
            defaultPageSize: defaultPageSize,
            generation: generation,
            writeGroups: writeGroups,
            anchors: anchors,
            rowJSON: rowJSON
        )
    }

    /// Driver errors never reach clients: constraint violations become conflicts, the rest unavailability.
    func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreUnavailable {
            throw ProctorError(.unavailable, error.message)
        } catch  where error is SQLiteFailure || error is PSQLError {
            let text = describe(error)
            let postgresDiskFull = (error as? PSQLError)?.serverInfo?[.sqlState] == "53100"
            if let full = postgresDiskFull ? ProctorError.diskFullError : ProctorError.diskFull(from: error) {
                logger.error("store error: \(text)")
                throw full
            }
            if text.contains("UNIQUE constraint failed") || text.contains("23505") {
                throw ProctorError.conflict("a row with the same identity already exists")
            }
            if text.contains("FOREIGN KEY constraint failed") || text.contains("23503") {
                throw ProctorError.conflict(
                    "the row is referenced by, or refers to, a row that does not exist or still exists"
                )
            }
            logger.error("store error: \(text)")
            throw ProctorError(.unavailable, "the store failed: \(text.prefix(200))")
        }
    }
}

/// Compiled regular expressions, so that a filter is compiled once, not once per row.
final class RegexCache: Sendable {
    static let shared = RegexCache()
    private let cache = Mutex<[String: NSRegularExpression]>([:])

    func regex(_ pattern: String) -> NSRegularExpression? {
        if let hit = cache.withLock({ $0[pattern] }) { return hit }
        guard let compiled = try? NSRegularExpression(pattern: pattern) else { return nil }
        cache.withLock { cache in
            if cache.count > 256 { cache.removeAll() }
            cache[pattern] = compiled
        }
        return compiled
    }
}

func describe(_ error: any Error) -> String {
    String(reflecting: error)
}

func redacted(_ url: String) -> String {
    guard var components = URLComponents(string: url) else { return "the given URL" }
    if components.password != nil { components.password = "***" }
    return components.string ?? "the given URL"
}

/// The shared counter behind ``SQLStore/accessGeneration`` (one per opened store, shared by its transactions).
/// When SQLite's statistics are next due for a refresh (see ``SQLStore/refreshStatistics()``).
final class StatisticsSchedule: Sendable {
    static let interval: Int64 = 3_600_000_000
    private let next = Atomic<Int64>(Timestamp.now() + interval)

    /// True for one caller once the time has come; schedules the next.
    func claim(now: Int64 = Timestamp.now()) -> Bool {
        let due = next.load(ordering: .acquiring)
        guard now >= due else { return false }
        return next.compareExchange(expected: due, desired: now + Self.interval, ordering: .acquiringAndReleasing)
            .exchanged
    }
}

final class AccessGenerationCounter: Sendable {
    /// The kinds whose rows decide who a caller is and what it may do.
    static let kinds: Set<ResourceKind> = [.users, .tokens, .memberships, .groups, .remotecis]
    private let counter = Atomic<UInt64>(0)

    var value: UInt64 { counter.load(ordering: .acquiring) }
    func bump() { counter.add(1, ordering: .releasing) }
}
