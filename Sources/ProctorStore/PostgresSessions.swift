import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
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

/// PostgreSQL sessions from PostgresNIO's `PostgresClient`, the pool the driver maintains (idle timeouts,
/// keep-alives, back-off when the server is down), run for as long as the store is open.
///
/// A lease that waits longer than `leaseTimeout` fails as unavailable (503) instead of waiting for the pool's
/// own circuit breaker, which trips only after a minute of failed connection attempts.
final class PostgresSessions: SessionSource {
    let client: PostgresClient
    let leaseTimeout: Duration
    private let running: Task<Void, Never>

    init(configuration: PostgresClient.Configuration, leaseTimeout: Duration, logger: Logger) {
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
        // The body runs in a child task, so that a timer can cancel a lease still waiting. The group awaits its
        // tasks before returning, so the body neither outlives this call nor runs beside its caller.
        try await withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            let leased = LeaseFlag()
            let client = self.client
            let timeout = leaseTimeout
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    do {
                        return try await client.withConnection { connection in
                            leased.set()
                            return try await body(connection.sql(queryLogLevel: nil))
                        }
                    } catch  where !leased.isSet {
                        // The pool's own errors (shut down, circuit breaker open): the database cannot be had.
                        throw StoreUnavailable(message: "cannot connect to PostgreSQL: \(describe(error))")
                    }
                }
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

    static let unreachable = "no PostgreSQL connection could be had in time: the database is down or saturated"

    func renew() async {}

    func shutdown() async {
        running.cancel()
        _ = await running.value
    }
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
