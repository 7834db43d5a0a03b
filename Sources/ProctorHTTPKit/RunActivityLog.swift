import Logging
import ProctorCore

/// Writes what the core tells (``RunActivity``) to the log, one line each, with its facts as metadata (one JSON
/// object per line under `--log-format json`):
///
/// - `run created` and `run status changed` (info): `run_id`, `from` (not on creation), `to`, `executor`, and
///   `reason` and `duration_s` when there are;
/// - `run lease expired` (warning): `run_id`, `claimant`, `attempts`, `max_attempts`, `outcome` (requeued,
///   failed or killed);
/// - `agent joined` (info): `agent_id`, `agent`, `group_id`, `labels`, `slots`, `new`;
/// - `agent left` (info): `agent_id`, `agent`, `group_id`, `silent_s` (not seen for that long);
/// - `webhook delivery failed` (warning): `delivery_id`, `webhook_id`, `run_id`, `attempt`, `error`, `will_retry`;
/// - `run claimed` (debug): `run_id`, `claimant`, `executor`, `wait_s`.
///
/// The executor's slot counts are for the metrics only.
public struct RunActivityLog: RunObserver {
    public let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func record(_ activity: RunActivity) {
        switch activity {
        case .statusChanged(let runID, let from, let to, let executor, let reason, let duration):
            var metadata: Logger.Metadata = [
                "run_id": .string(runID), "to": .string(to.rawValue), "executor": .string(executor),
            ]
            if let from { metadata["from"] = .string(from.rawValue) }
            if let reason { metadata["reason"] = .string(reason) }
            if let duration { metadata["duration_s"] = .stringConvertible(duration) }
            logger.info(from == nil ? "run created" : "run status changed", metadata: metadata)
        case .claimed(let runID, let claimant, let executor, let wait):
            logger.debug(
                "run claimed",
                metadata: [
                    "run_id": .string(runID), "claimant": .string(claimant), "executor": .string(executor),
                    "wait_s": .stringConvertible(wait),
                ]
            )
        case .leaseExpired(let runID, let claimant, let attempts, let maxAttempts, let outcome):
            let result =
                switch outcome {
                case .new: "requeued"
                case .killed: "killed"
                default: "failed"
                }
            logger.warning(
                "run lease expired",
                metadata: [
                    "run_id": .string(runID), "claimant": .string(claimant),
                    "attempts": .stringConvertible(attempts), "max_attempts": .stringConvertible(maxAttempts),
                    "outcome": .string(result),
                ]
            )
        case .agentRegistered(let agentID, let name, let groupID, let labels, let slots, let isNew):
            logger.info(
                "agent joined",
                metadata: [
                    "agent_id": .string(agentID), "agent": .string(name), "group_id": .string(groupID),
                    "labels": .array(labels.map { .string($0) }), "slots": .stringConvertible(slots),
                    "new": .stringConvertible(isNew),
                ]
            )
        case .agentLeft(let agentID, let name, let groupID, let silent):
            logger.info(
                "agent left",
                metadata: [
                    "agent_id": .string(agentID), "agent": .string(name), "group_id": .string(groupID),
                    "silent_s": .stringConvertible(silent),
                ]
            )
        case .webhookFailed(let deliveryID, let webhookID, let runID, let attempt, let error, let willRetry):
            var metadata: Logger.Metadata = [
                "delivery_id": .string(deliveryID), "webhook_id": .string(webhookID),
                "attempt": .stringConvertible(attempt), "error": .string(error),
                "will_retry": .stringConvertible(willRetry),
            ]
            if let runID { metadata["run_id"] = .string(runID) }
            logger.warning("webhook delivery failed", metadata: metadata)
        case .executorSlots:
            break
        }
    }
}
