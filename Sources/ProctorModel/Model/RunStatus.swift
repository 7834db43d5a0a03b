import Foundation

/// A run's status: DCI's set, which every dialect maps onto (CDRouter's pending/running/completed,
/// KernelCI's BUILD/PASS/FAIL, XPRESSO's job states).
public enum RunStatus: String, Sendable, CaseIterable, Codable {
    case new
    case preRun = "pre-run"
    case running
    case postRun = "post-run"
    case success
    case failure
    case killed
    case error

    /// The run will not change again on its own (Proctor's view; DCI does not count `killed` as final).
    public var isTerminal: Bool {
        switch self {
        case .success, .failure, .killed, .error: return true
        default: return false
        }
    }

    /// DCI's FINAL set: notifications fire on the first entry into one of these.
    public var isDCIFinal: Bool { self == .success || self == .failure || self == .error }

    /// Whether a run event announces anything (to webhooks): not when the run was already final before it, so
    /// a run that goes success → failure, or receives a second final status, notifies once (DCI's rule: side
    /// effects only on entering a final status from a non-final one). An event without a previous status (a
    /// run's creation) notifies.
    public static func notifies(event: RunEvent) -> Bool {
        guard let previous = event.previousStatus else { return true }
        return !previous.isDCIFinal
    }

    /// Claimed and executing (a testbed in one of these is busy).
    public var isActive: Bool { self == .preRun || self == .running || self == .postRun }

    public static let activeValues = [RunStatus.preRun, .running, .postRun].map(\.rawValue)
    /// SQL for "the run holds its testbed", as the partial index of busy testbeds is defined; the queue's
    /// queries use this same text, or SQLite would not see that the index applies.
    public static let activeCondition = IndexSpec.among("status", activeValues)

    /// The transitions of a run Proctor executes itself: forward through the phases, `killed` on cancel or
    /// timeout, `error` when execution itself fails, and back to `new` when a lease expires and it is requeued.
    public func canAdvance(to next: RunStatus) -> Bool {
        switch (self, next) {
        case (.new, .preRun), (.new, .killed), (.new, .error): return true
        case (.preRun, .running), (.preRun, .killed), (.preRun, .error), (.preRun, .new): return true
        case (.running, .postRun), (.running, .killed), (.running, .error), (.running, .new): return true
        case (.postRun, .success), (.postRun, .failure), (.postRun, .error), (.postRun, .killed), (.postRun, .new):
            return true
        default: return false
        }
    }

    public static func parse(_ text: String, field: String = "status") throws -> RunStatus {
        guard let status = RunStatus(rawValue: text.lowercased()) else {
            throw ProctorError.badRequest(
                "unknown status '\(text)'; valid statuses: \(allCases.map(\.rawValue).joined(separator: ", "))",
                field: field,
                details: ["valid": allCases.map(\.rawValue)]
            )
        }
        return status
    }
}

/// Who executes a run: Proctor's local executor, a remote agent, or the client that reports on it.
public enum RunExecutor: String, Sendable, CaseIterable {
    case local
    case agent
    case client
}
