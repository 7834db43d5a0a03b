import Synchronization

/// Something that happened to a run, an agent or the executor, told by the core where it happens (after its
/// transaction committed) to every ``RunObserver``: the metrics count it, the log writes it. The core only records;
/// how it is rendered is the observer's business.
public enum RunActivity: Sendable, Equatable {
    /// A run changed status: `from` is nil when the run was just created. `durationSeconds` is the run's
    /// stored duration when it ended (`to` is terminal), else nil.
    case statusChanged(
        runID: String,
        from: RunStatus?,
        to: RunStatus,
        executor: String,
        reason: String?,
        durationSeconds: Double?
    )
    /// A run was claimed for the first time, `waitSeconds` after it could first be claimed (its launch, or its
    /// scheduled `run_at` if later). A requeued run's later claims are not told.
    case claimed(runID: String, claimant: String, executor: String, waitSeconds: Double)
    /// A run's lease expired without a heartbeat: its claimant is considered gone, and the run went back to the
    /// queue (`outcome` new), failed (error, past the attempts allowed) or ended killed (a cancel was pending).
    case leaseExpired(runID: String, claimant: String, attempts: Int, maxAttempts: Int, outcome: RunStatus)
    /// An agent registered: `isNew` when no agent of that name existed in its group.
    case agentRegistered(agentID: String, name: String, groupID: String, labels: [String], slots: Int, isNew: Bool)
    /// An agent was not seen for ``AgentRegistry/onlineWindowSeconds`` and is now offline (told once, by the
    /// replica whose sweep marked it).
    case agentLeft(agentID: String, name: String, groupID: String, silentSeconds: Int)
    /// The local executor's slots: how many execute a run now, of how many.
    case executorSlots(busy: Int, total: Int)
    /// A webhook delivery attempt failed; `willRetry` is false when the delivery is given up.
    case webhookFailed(
        deliveryID: String,
        webhookID: String,
        runID: String?,
        attempt: Int,
        error: String,
        willRetry: Bool
    )
}

/// Whoever wants to know what happens (``RunActivity``). Called synchronously, on the task that made the change:
/// keep it quick and never throw.
public protocol RunObserver: Sendable {
    func record(_ activity: RunActivity)
}

/// The observers of one set of run services; ``RunServices`` makes one and every service records into it.
public final class RunActivityFeed: Sendable {
    private let observers = Mutex<[any RunObserver]>([])

    public init() {}

    /// Adds an observer for everything recorded from now on.
    public func add(_ observer: any RunObserver) {
        observers.withLock { $0.append(observer) }
    }

    public func record(_ activity: RunActivity) {
        for observer in observers.withLock({ $0 }) { observer.record(activity) }
    }
}
