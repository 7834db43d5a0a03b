import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
import ProctorCore
import SQLKit
import Synchronization

/// Where the store leases its sessions: ``SessionPool`` for SQLite's own connections, ``PostgresSessions`` for
/// PostgresNIO's pool.
protocol SessionSource: Sendable {
    /// Runs `body` with a session of its own, returned when `body` ends.
    func withSession<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    /// Replaces the sessions as they come back (SQLite reloads the planner's statistics when it opens one).
    func renew() async
    func shutdown() async
}

extension SessionPool: SessionSource {}

/// PostgreSQL sessions from PostgresNIO's `PostgresClient`, the pool the driver maintains (reconnection, back-off
/// when the server is down), run for as long as the store is open.
///
/// A lease that waits longer than `leaseTimeout` fails as unavailable (503) instead of waiting for the pool's
/// own circuit breaker, which trips only after a minute of failed connection attempts. Timing a lease takes a
/// child task and a timer, which cost a fair part of a small query (0.2–0.35 ms of p50 on the 2-core machine),
/// so a lease is timed only when it may wait: when the store does not know of an open connection that none of
/// its sessions holds (``Occupancy``).
final class PostgresSessions: SessionSource {
    /// Connections the pool keeps open while idle: the one that serves requests one at a time. Returning it
    /// schedules no idle-timeout timer in the pool (the others are closed after a minute idle, and each return of
    /// one re-arms its timer, about 0.05 ms). One, not more: each is held for as long as the store is open, and
    /// PostgreSQL's `max_connections` is shared by every replica (and by the test suite's parallel stores).
    static let keptOpen = 1

    let client: PostgresClient
    let leaseTimeout: Duration
    private let running: Task<Void, Never>
    private let occupancy = Mutex(Occupancy())

    /// The pool's connections the store has seen and not seen close, and how many sessions it holds or awaits:
    /// while there are more of the first, one of them is idle and a lease is served at once.
    private struct Occupancy {
        var open: Set<PostgresConnection.ID> = []
        var sessions = 0
    }

    /// `configuration`'s pool keeps ``keptOpen`` connection open and sends no keep-alive queries: each idle
    /// connection's keep-alive is a timer the pool re-arms every time the connection comes back. A connection
    /// that broke while idle fails its next statement (the request answers unavailable) and is replaced.
    init(configuration: PostgresClient.Configuration, leaseTimeout: Duration, logger: Logger) {
        var configuration = configuration
        configuration.options.minimumConnections = min(Self.keptOpen, configuration.options.maximumConnections)
        configuration.options.keepAliveBehavior = nil
        let client = PostgresClient(
            configuration: configuration,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            backgroundLogger: logger
        )
        self.client = client
        self.leaseTimeout = leaseTimeout
        self.running = Task { await client.run() }
    }

    func withSession<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let idleKnown = beginSession()
        defer { endSession() }
        if idleKnown { return try await lease(body, leased: nil) }
        return try await leaseInTime(body)
    }

    // The session count is kept out of line: `Mutex.withLock` inlined into `withSession` twice, around its
    // `await`, crashed the release build ("Call to unlock Mutex on a thread which hasn't acquired the lock",
    // Swift 6.3.1), the thread's id read for the first lock apparently reused for the second on another thread.

    /// Counts a session in; whether a connection known to be open is idle.
    @inline(never)
    private func beginSession() -> Bool {
        occupancy.withLock { occupancy in
            defer { occupancy.sessions += 1 }
            return occupancy.sessions < occupancy.open.count
        }
    }

    @inline(never)
    private func endSession() {
        occupancy.withLock { $0.sessions -= 1 }
    }

    /// Leases a connection for `body`, `leased` set once it is had; the pool's own errors before that (shut
    /// down, circuit breaker open) say that the database cannot be had.
    private func lease<T: Sendable>(
        _ body: (any SQLDatabase) async throws -> T,
        leased: LeaseFlag?
    ) async throws -> T {
        var isLeased = false
        do {
            return try await client.withConnection { connection in
                isLeased = true
                leased?.set()
                noteOpen(connection)
                return try await body(PostgresSession(connection: connection, base: connection.sql(queryLogLevel: nil)))
            }
        } catch  where !isLeased {
            throw StoreUnavailable(message: "cannot connect to PostgreSQL: \(describe(error))")
        }
    }

    /// ``lease(_:leased:)`` in a child task, which a timer cancels if no connection is had within `leaseTimeout`.
    /// The group awaits its tasks before returning, so the body neither outlives this call nor runs beside its
    /// caller.
    private func leaseInTime<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            let leased = LeaseFlag()
            let timeout = leaseTimeout
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await self.lease(body, leased: leased) }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    if !leased.isSet { throw StoreUnavailable(message: Self.unreachable) }
                    return nil
                }
                while let next = try await group.next() {
                    if let result = next {
                        group.cancelAll()
                        return result
                    }
                }
                throw StoreUnavailable(message: Self.unreachable)
            }
        }
    }

    /// Counts `connection` among the open ones from its first lease until it closes.
    private func noteOpen(_ connection: PostgresConnection) {
        let id = connection.id
        guard occupancy.withLock({ $0.open.insert(id).inserted }) else { return }
        connection.closeFuture.whenComplete { [weak self] _ in
            _ = self?.occupancy.withLock { $0.open.remove(id) }
        }
    }

    /// The pool's connections seen open and not closed since (tests).
    var openConnections: Int { occupancy.withLock { $0.open.count } }

    static let unreachable = "no PostgreSQL connection could be had in time: the database is down or saturated"

    func renew() async {}

    func shutdown() async {
        running.cancel()
        _ = await running.value
    }
}

/// A PostgreSQL session of the store: SQLKit's database over a pooled connection, for everything, plus the
/// connection itself for what SQLKit does not speak (`COPY … FROM STDIN`, the bulk import's path).
struct PostgresSession: ForwardingSQLDatabase {
    let connection: PostgresConnection
    let base: any SQLDatabase
}

/// Set once a session is leased.
private final class LeaseFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

extension PostgresClient.Configuration {
    /// The client configuration for a parsed `postgres://` URL, its TLS mode kept.
    init(_ connection: PostgresConnection.Configuration) throws {
        let tls: TLS
        if connection.tls.isEnforced {
            tls = .require(.makeClientConfiguration())
        } else if connection.tls.isAllowed {
            tls = .prefer(.makeClientConfiguration())
        } else {
            tls = .disable
        }
        if let host = connection.host {
            self.init(
                host: host,
                port: connection.port ?? 5432,
                username: connection.username,
                password: connection.password,
                database: connection.database,
                tls: tls
            )
        } else if let socket = connection.unixSocketPath {
            self.init(
                unixSocketPath: socket,
                username: connection.username,
                password: connection.password,
                database: connection.database
            )
        } else {
            throw StoreUnavailable(message: "a PostgreSQL URL must name a host or a socket")
        }
    }
}

/// PostgreSQL's LISTEN/NOTIFY as the store's ``ChangeFeed``: each change is a `pg_notify` on the store's channel
/// (one per database and schema), and a dedicated connection listens for the other replicas' notifications.
final class PostgresChangeFeed: ChangeFeed {
    let connection: PostgresConnection.Configuration
    let sessions: PostgresSessions
    /// Notifications carry the sender's origin, so a replica does not wake itself twice for its own change.
    let origin = UUID().uuidString
    let channel: String
    /// The store's keyset anchors, dropped when another replica announces a change.
    let anchors: PageAnchors
    let logger: Logger
    private let state = Mutex<(listener: PostgresConnection?, isShutDown: Bool)>((nil, false))

    init(
        connection: PostgresConnection.Configuration,
        sessions: PostgresSessions,
        schema: String?,
        anchors: PageAnchors,
        logger: Logger
    ) {
        self.connection = connection
        self.sessions = sessions
        self.anchors = anchors
        self.channel = "proctor_changes" + (schema.map { "_\($0.lowercased())" } ?? "")
        self.logger = logger
    }

    /// A notification's payload: `<origin> <topic>`.
    func announce(_ topic: ChangeTopic) async {
        do {
            try await sessions.withSession { db in
                try await db.raw("SELECT pg_notify(\(bind: channel), \(bind: origin + " " + topic.rawValue))").run()
            }
        } catch {
            // The change is stored; the other replicas' waits still end at their timeouts.
            logger.debug("could not announce a change to the other replicas: \(describe(error))")
        }
    }

    func follow(_ onChange: @escaping @Sendable (ChangeTopic?) async -> Void) async {
        var attempt = 0
        while !state.withLock({ $0.isShutDown }) {
            do {
                let listener = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.any(),
                    configuration: connection,
                    id: 0,
                    logger: logger
                )
                let kept = state.withLock { state -> Bool in
                    if state.isShutDown { return false }
                    state.listener = listener
                    return true
                }
                guard kept else {
                    try? await listener.close()
                    return
                }
                let notifications = try await listener.listen(channel)
                attempt = 0
                anchors.invalidateAll()
                await onChange(nil)  // whatever happened while no one listened
                for try await notification in notifications {
                    let parts = notification.payload.split(separator: " ", maxSplits: 1).map(String.init)
                    guard parts.first != origin else { continue }
                    anchors.invalidateAll()
                    // A payload without a known topic (an older replica's) may be about anything.
                    await onChange(parts.count == 2 ? ChangeTopic(rawValue: parts[1]) : nil)
                }
            } catch {
                if !state.withLock({ $0.isShutDown }) {
                    logger.warning("listening for the other replicas' changes failed, retrying: \(describe(error))")
                }
            }
            attempt += 1
            try? await Task.sleep(for: .milliseconds(min(5_000, 250 * attempt)))
        }
    }

    func shutdown() async {
        let listener = state.withLock { state -> PostgresConnection? in
            state.isShutDown = true
            defer { state.listener = nil }
            return state.listener
        }
        try? await listener?.close()
    }
}
