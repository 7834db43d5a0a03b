import Foundation
import ProctorStoreWriting

/// The run machinery every front door shares: one event hub, so that a run launched, reported or logged
/// through any API wakes the followers of all of them.
public struct RunServices: Sendable {
    /// The store as doors see it: for reading. Writes go through the services below.
    public var store: any StoreReader { writer }
    /// The store's writing side, for the core's services only (doors do not depend on ProctorStoreWriting).
    public let writer: any Store
    public let events: EventHub
    /// What happens to runs, agents and the executor, told to the metrics and the log (``RunActivity``).
    public let activity: RunActivityFeed
    public let lifecycle: RunLifecycle
    public let queue: RunQueue
    public let logs: RunLogs
    public let files: RunFiles
    /// Token and password checks for every front door, with one cache of principals and one limiter of failed
    /// password attempts (``LoginThrottle``).
    public let authenticator: Authenticator

    public init(
        store: any Store,
        filesRoot: URL,
        maxFileBytes: Int = 64 << 20,
        fileStore: (any FileStore)? = nil,
        leaseSeconds: Int = 30,
        maxAttempts: Int = 3,
        loginLimits: LoginThrottle.Limits = LoginThrottle.Limits()
    ) {
        self.writer = store
        let events = EventHub(feed: store.changeFeed)
        self.events = events
        let activity = RunActivityFeed()
        self.activity = activity
        let lifecycle = RunLifecycle(store: store, events: events, activity: activity)
        self.lifecycle = lifecycle
        self.queue = RunQueue(lifecycle: lifecycle, leaseSeconds: leaseSeconds, maxAttempts: maxAttempts)
        self.logs = RunLogs(store: store, events: events)
        self.files = RunFiles(store: store, root: filesRoot, maxBytes: maxFileBytes, blobs: fileStore)
        self.authenticator = Authenticator(
            store: store,
            cache: PrincipalCache(),
            throttle: LoginThrottle(limits: loginLimits)
        )
    }
}

extension RunServices {
    /// The catalog's writes (products, topics, components, definitions, …), with their role checks.
    public var catalog: CatalogEditor { CatalogEditor(store: writer) }
    /// Remote agents: registration and "last seen".
    public var agents: AgentRegistry { AgentRegistry(store: writer, activity: activity) }
    /// `proctor apply`'s lab documents.
    public var labs: LabApplier { LabApplier(store: writer) }
    /// Users, tokens, memberships and dashboard sessions.
    public var accounts: Accounts { Accounts(store: writer) }
}
