/// One page of a listing.
public struct Page: Sendable {
    public var items: [Record]
    /// Every match, when the query asked for it.
    public var total: Int?
    /// Resume after the last item (keyset), or nil on the last page.
    public var nextCursor: String?
    /// The page size the store applied after clamping.
    public var limit: Int

    public init(items: [Record], total: Int?, nextCursor: String?, limit: Int) {
        self.items = items
        self.total = total
        self.nextCursor = nextCursor
        self.limit = limit
    }
}

/// Health of the store, for `/healthz`.
public struct StoreHealth: Sendable {
    public var ok: Bool
    public var backend: String
    public var schemaVersion: Int
    public var message: String?

    public init(ok: Bool, backend: String, schemaVersion: Int, message: String?) {
        self.ok = ok
        self.backend = backend
        self.schemaVersion = schemaVersion
        self.message = message
    }
}

/// Where and how Proctor keeps its data. One SQL implementation serves SQLite and PostgreSQL.
///
/// Every method is tenancy-aware through a ``Scope``: a row outside the scope behaves exactly as a row that
/// does not exist (nil, not found), so that callers cannot learn about other groups' data.
public protocol Store: Sendable {
    /// `sqlite` or `postgres`.
    var backend: String { get }

    /// Brings the schema to ``Catalog/version``; returns the versions it applied.
    @discardableResult
    func migrate() async throws -> [Int]

    func health() async -> StoreHealth

    /// Moves on every committed write to who-may-do-what (users, tokens, memberships, groups, remote CIs): caches of
    /// principals compare it to know they are stale. Writes by other processes are not seen here.
    var accessGeneration: UInt64 { get }

    /// Inserts a new row, filling `id`, `seq`, timestamps, `etag` and defaults. A duplicate name is a conflict.
    func insert(_ record: Record) async throws -> Record

    /// Inserts many rows of one kind in large transactions; for bulk loads (benchmarks, imports).
    func insertMany(_ records: [Record]) async throws

    /// The row, or nil when it does not exist or is outside the scope.
    func get(_ kind: ResourceKind, id: String, scope: Scope) async throws -> Record?

    /// The first row whose fields equal the given values, within the scope.
    func first(_ kind: ResourceKind, matching: [String: Value], scope: Scope) async throws -> Record?

    /// Changes some fields. With `ifMatch`, only when the row's etag still equals it (else a conflict).
    func update(_ kind: ResourceKind, id: String, changes: [String: Value], ifMatch: String?, scope: Scope)
        async throws -> Record

    /// Deletes a row; false when there was none in scope.
    @discardableResult
    func delete(_ kind: ResourceKind, id: String, ifMatch: String?, scope: Scope) async throws -> Bool

    /// Deletes every row matching the query's filter within the scope; returns how many.
    @discardableResult
    func deleteAll(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int

    func list(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Page

    func count(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int

    /// The distinct values of one field (or `labels.<key>`) among the matching rows, sorted.
    func distinct(_ kind: ResourceKind, field: String, query: Query, scope: Scope) async throws -> [Value]

    /// Runs `body` in one write transaction: every store call made through its argument commits or
    /// rolls back together.
    func transaction<T: Sendable>(_ body: @Sendable (any Store) async throws -> T) async throws -> T

    /// Inside ``transaction(_:)``: locks one row until the transaction ends, so that another transaction that locks,
    /// changes or deletes it waits for this one to commit or roll back (PostgreSQL: `SELECT … FOR UPDATE`; SQLite's
    /// write transaction already keeps every other writer out). False when the row does not exist, for instance
    /// because a transaction that committed while this one waited deleted it.
    func lock(_ kind: ResourceKind, id: String) async throws -> Bool

    /// Atomically claims the next queued run the claimant may execute, or nil: see ``RunClaim``.
    /// At most one claimant ever gets a given run, across processes on the same database.
    func claimRun(_ claim: RunClaim) async throws -> Record?

    func shutdown() async

    /// How replicas sharing this store learn of each other's changes; nil when the store has one process only.
    var changeFeed: (any ChangeFeed)? { get }
}

/// A request for work from an executor (the local one or a remote agent).
///
/// The store picks a `new` run of the given executor kind whose `run_at` has come, whose testbed (if any) has
/// no run in progress and whose engine labels the claimant has; highest priority first, then oldest. It moves
/// it to `pre-run` under a lease (`claimed_by`, `lease_expires_at`, `attempts + 1`) and records the event.
public struct RunClaim: Sendable {
    public var claimant: String
    public var executor: String
    public var labels: Set<String>
    public var leaseSeconds: Int
    /// Only runs of these groups (an agent's token); nil for every group.
    public var groupIDs: [String]?

    public init(
        claimant: String,
        executor: String,
        labels: Set<String> = [],
        leaseSeconds: Int = 60,
        groupIDs: [String]? = nil
    ) {
        self.claimant = claimant
        self.executor = executor
        self.labels = labels
        self.leaseSeconds = leaseSeconds
        self.groupIDs = groupIDs
    }
}

extension Store {
    public var changeFeed: (any ChangeFeed)? { nil }

    public func get(_ kind: ResourceKind, id: String) async throws -> Record? {
        try await get(kind, id: id, scope: .everything)
    }

    public func first(_ kind: ResourceKind, matching: [String: Value]) async throws -> Record? {
        try await first(kind, matching: matching, scope: .everything)
    }

    /// The row or a not-found error in the resource's words.
    public func require(_ kind: ResourceKind, id: String, scope: Scope = .everything) async throws -> Record {
        guard let record = try await get(kind, id: id, scope: scope) else {
            throw ProctorError.notFound("no such \(kind.singular): \(id)")
        }
        return record
    }
}

/// Which groups a caller may see: every group (`nil`, the site admin and internal work) or a list.
public struct Scope: Sendable, Equatable {
    public var groupIDs: [String]?

    public init(groupIDs: [String]?) {
        self.groupIDs = groupIDs
    }

    public static let everything = Scope(groupIDs: nil)

    public static func groups(_ ids: [String]) -> Scope { Scope(groupIDs: ids) }
}
