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

/// One page of a listing written as JSON while it was read (``StoreReader/listJSON(_:query:scope:)``).
public struct JSONPage: Sendable {
    /// The page's rows as a JSON array of their public fields, as ``Record/writePublicJSON(into:)`` writes them.
    public var items: [UInt8]
    /// How many rows `items` holds.
    public var count: Int
    /// Every match, when the query asked for it.
    public var total: Int?
    /// Resume after the last item (keyset), or nil on the last page.
    public var nextCursor: String?
    /// The page size the store applied after clamping.
    public var limit: Int

    public init(items: [UInt8], count: Int, total: Int?, nextCursor: String?, limit: Int) {
        self.items = items
        self.count = count
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

/// What a door may do with the store: read. Every method is tenancy-aware through a ``Scope``: a row outside the
/// scope behaves exactly as a row that does not exist (nil, not found), so that callers cannot learn about other
/// groups' data.
///
/// Writing (``Store`` in ProctorStoreWriting) is the core's: a door target does not depend on that module, so the
/// compiler keeps doors from writing (docs/architecture.md).
public protocol StoreReader: Sendable {
    /// `sqlite` or `postgres`.
    var backend: String { get }

    func health() async -> StoreHealth

    /// Moves on every committed write to who-may-do-what (users, tokens, memberships, groups, remote CIs): caches of
    /// principals compare it to know they are stale. Writes by other processes are not seen here.
    var accessGeneration: UInt64 { get }

    /// The row, or nil when it does not exist or is outside the scope.
    func get(_ kind: ResourceKind, id: String, scope: Scope) async throws -> Record?

    /// ``get(_:id:scope:)``'s row as its public JSON (``Record/publicJSONBytes()``) and its etag, or nil: for
    /// readers that only write the row out, which a store may answer without decoding it.
    func getJSON(_ kind: ResourceKind, id: String, scope: Scope) async throws -> (json: [UInt8], etag: String)?

    /// The first row whose fields equal the given values, within the scope.
    func first(_ kind: ResourceKind, matching: [String: Value], scope: Scope) async throws -> Record?

    func list(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Page

    /// ``list(_:query:scope:)`` written as JSON as its rows are read, without a ``Record`` per row: the same page,
    /// cursor and total, each row's public fields (those of the query's `fields` and `id` when it names some).
    func listJSON(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> JSONPage

    /// Visits the rows matching `query` (its filter, sort and limit; no page size applies, no cursor, no offset) in
    /// order, each read in place (``ScannedRow``, columns in the order of `fields`), folding them into `state`:
    /// for readers that write many rows straight out, without a ``Record`` per row. `body` runs on the store's
    /// reading thread, once per row, while the statement stands on it; it should not block.
    func scan<State: Sendable>(
        _ kind: ResourceKind,
        fields: [String],
        query: Query,
        scope: Scope,
        into state: State,
        _ body: @escaping @Sendable (inout State, any ScannedRow) throws -> Void
    ) async throws -> State

    func count(_ kind: ResourceKind, query: Query, scope: Scope) async throws -> Int

    /// How many matching rows hold each value of one sortable field (not a label), in one statement: tallies such
    /// as a run's test results by status, which would otherwise take a count per value. Values no row holds are
    /// absent.
    func count(_ kind: ResourceKind, by field: String, query: Query, scope: Scope) async throws -> [Value: Int]

    /// The distinct values of one field (or `labels.<key>`) among the matching rows, sorted.
    func distinct(_ kind: ResourceKind, field: String, query: Query, scope: Scope) async throws -> [Value]

    /// How replicas sharing this store learn of each other's changes; nil when the store has one process only.
    var changeFeed: (any ChangeFeed)? { get }
}

extension StoreReader {
    public var changeFeed: (any ChangeFeed)? { nil }

    public func getJSON(_ kind: ResourceKind, id: String, scope: Scope) async throws -> (json: [UInt8], etag: String)? {
        try await get(kind, id: id, scope: scope).map { ($0.publicJSONBytes(), $0.etag) }
    }

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

/// Carries "something changed" between processes that share one database (several `serve` replicas on
/// PostgreSQL, through its LISTEN/NOTIFY), so that a follower on one replica wakes at a change made through another.
public protocol ChangeFeed: Sendable {
    /// Tells the other processes that something changed: `topic` says what (``ChangeTopic``).
    func announce(_ topic: ChangeTopic) async
    /// Calls `onChange` whenever another process announces a change, with its topic (and with nil once after each
    /// reconnection, in case something was missed), until the store shuts down.
    func follow(_ onChange: @escaping @Sendable (ChangeTopic?) async -> Void) async
}

/// What a change was about, so that a waiter wakes only for what it waits for: a claimer long-polling for a run
/// has nothing to do when a running job appends to its log.
public enum ChangeTopic: String, Sendable, CaseIterable {
    /// A run was created, changed state, was claimed, cancelled or deleted.
    case runs
    /// A run's log grew.
    case logs
}
