import ProctorModel

/// Where and how Proctor keeps its data: the reads of ``StoreReader`` and the writes, which only the core's
/// services make (doors do not depend on this module). One SQL implementation serves SQLite and PostgreSQL.
public protocol Store: StoreReader {
    /// Brings the schema to ``Catalog/version``; returns the versions it applied.
    @discardableResult
    func migrate() async throws -> [Int]

    /// Inserts a new row, filling `id`, `seq`, timestamps, `etag` and defaults. A duplicate name is a conflict.
    func insert(_ record: Record) async throws -> Record

    /// Inserts many rows of one kind in large transactions; for bulk loads (benchmarks, imports).
    func insertMany(_ records: [Record]) async throws

    /// Changes some fields. With `ifMatch`, only when the row's etag still equals it (else a conflict).
    func update(_ kind: ResourceKind, id: String, changes: [String: Value], ifMatch: String?, scope: Scope)
        async throws -> Record

    /// Deletes a row; false when there was none in scope.
    @discardableResult
    func delete(_ kind: ResourceKind, id: String, ifMatch: String?, scope: Scope) async throws -> Bool

    /// Deletes every row matching the query's filter within the scope; returns how many.
    @discardableResult
    func deleteAll(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int

    /// Runs `body` in one write transaction: every store call made through its argument commits or
    /// rolls back together.
    func transaction<T: Sendable>(_ body: @Sendable (any Store) async throws -> T) async throws -> T

    /// Inside ``transaction(_:)``: locks one row until the transaction ends, so that another transaction that locks,
    /// changes or deletes it waits for this one to commit or roll back (PostgreSQL: `SELECT … FOR UPDATE`; SQLite's
    /// write transaction already keeps every other writer out). False when the row does not exist, for instance
    /// because a transaction that committed while this one waited deleted it.
    func lock(_ kind: ResourceKind, id: String) async throws -> Bool

    /// Whether write transactions run one after another, never beside each other (SQLite's single writer): a
    /// transaction then sees every row an earlier one wrote, and rows it inserts need no lock to be ordered.
    var serializesWrites: Bool { get }

    /// Atomically claims the next queued run the claimant may execute, or nil: see ``RunClaim``.
    /// At most one claimant ever gets a given run, across processes on the same database.
    func claimRun(_ claim: RunClaim) async throws -> Record?

    func shutdown() async
}

extension Store {
    public var serializesWrites: Bool { false }
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
