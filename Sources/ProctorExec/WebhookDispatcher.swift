import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ProctorCore
import ProctorStoreWriting
import ServiceLifecycle

/// Per-group webhooks: every run event of a group that ``RunStatus/notifies(event:)`` is posted to the group's active webhooks (optionally only
/// some statuses), signed with HMAC-SHA256 of the body under the webhook's secret, retried with exponential
/// backoff, and recorded in a delivery log (`webhook_deliveries`).
///
/// Safe with several replicas: a delivery row is unique per (webhook, event), and a delivery is sent by the
/// replica whose conditional update took it.
public struct WebhookDispatcher: Service {
    let services: RunServices
    let logger: Logger
    let maxAttempts: Int
    let timeout: TimeAmount

    public init(services: RunServices, logger: Logger, maxAttempts: Int = 8, timeout: TimeAmount = .seconds(10)) {
        self.services = services
        self.logger = logger
        self.maxAttempts = maxAttempts
        self.timeout = timeout
    }

    var store: any Store { services.writer }

    public func run() async throws {
        // Start after the newest event: history is not replayed on restart.
        var after = try await latestEventSeq()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let generation = await services.events.generation
            do {
                after = try await enqueue(after: after)
                try await deliverDue()
            } catch {
                logger.warning("webhooks: \(error)")
            }
            await services.events.wait(after: generation, timeout: .seconds(1))
        }
    }

    private func latestEventSeq() async throws -> Int64 {
        try await store.list(
            .runEvents,
            query: Query(sort: [SortKey("seq", descending: true)], limit: 1, fields: ["seq"]),
            scope: .everything
        )
        .items.first?.seq ?? 0
    }

    /// Records a pending delivery for each (event after `after`, matching webhook); returns the last event seen.
    func enqueue(after: Int64) async throws -> Int64 {
        var last = after
        while true {
            let events = try await store.list(
                .runEvents,
                query: Query(
                    filter: .predicate(Condition("seq", .greater, String(last))),
                    sort: [SortKey("seq")],
                    limit: 200
                ),
                scope: .everything
            ).items
            guard !events.isEmpty else { return last }
            var hooksByGroup: [String: [Record]] = [:]
            for event in events {
                last = event.seq
                guard let groupID = event.groupID, RunStatus.notifies(event: event) else { continue }
                if hooksByGroup[groupID] == nil {
                    hooksByGroup[groupID] = try await store.list(
                        .webhooks,
                        query: Query(filter: .equal("active", "true"), limit: 100),
                        scope: .groups([groupID])
                    ).items
                }
                for hook in hooksByGroup[groupID] ?? [] {
                    let statuses = hook.strings("statuses")
                    if !statuses.isEmpty && !statuses.contains(event.string("status") ?? "") { continue }
                    do {
                        _ = try await store.insert(
                            Record(
                                .webhookDeliveries,
                                [
                                    "group_id": .string(groupID), "webhook_id": .string(hook.id),
                                    "event_seq": .int(event.seq),
                                    "run_id": event["run_id"], "next_attempt_at": .timestamp(Timestamp.now()),
                                ]
                            )
                        )
                    } catch let failure as ProctorError where failure.code == .conflict {
                        continue  // another replica recorded it
                    }
                }
            }
        }
    }

    /// Sends every pending delivery whose time has come.
    func deliverDue() async throws {
        let now = Timestamp.rfc3339(micros: Timestamp.now())
        let due = try await store.list(
            .webhookDeliveries,
            query: Query(
                filter: .equal("status", "pending") && .predicate(Condition("next_attempt_at", .lessOrEqual, now)),
                sort: [SortKey("next_attempt_at")],
                limit: 50
            ),
            scope: .everything
        ).items
        for delivery in due { try await deliver(delivery) }
    }

    private func deliver(_ delivery: Record) async throws {
        // Take it: only one replica's conditional update succeeds.
        let taken: Record
        do {
            taken = try await store.update(
                .webhookDeliveries,
                id: delivery.id,
                changes: ["status": .string("sending")],
                ifMatch: delivery.etag,
                scope: .everything
            )
        } catch let failure as ProctorError where failure.code == .conflict || failure.code == .notFound {
            return
        }
        guard let hook = try await store.get(.webhooks, id: taken.string("webhook_id") ?? ""),
            let secret = hook.string("secret"), let url = hook.string("url")
        else {
            _ = try await store.update(
                .webhookDeliveries,
                id: taken.id,
                changes: ["status": .string("failed"), "error": .string("the webhook is gone")],
                ifMatch: nil,
                scope: .everything
            )
            return
        }
        let body = try await payload(taken)
        let signature = Self.signature(body: body, secret: secret)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Proctor-Webhook")
        request.headers.add(name: "X-Proctor-Signature", value: "sha256=\(signature)")
        request.headers.add(name: "X-Proctor-Delivery", value: taken.id)
        request.headers.add(name: "X-Proctor-Event", value: "run.\(body["event"]?["status"]?.stringValue ?? "changed")")
        request.body = .bytes(ByteBuffer(string: body.encodedString()))
        let attempts = (taken.int("attempts") ?? 0) + 1
        var changes: [String: Value] = ["attempts": .int(attempts)]
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 << 10)
            changes["response_code"] = .int(Int64(response.status.code))
            if (200..<300).contains(response.status.code) {
                changes["status"] = .string("delivered")
                changes["delivered_at"] = .timestamp(Timestamp.now())
                changes["error"] = .null
            } else {
                changes.merge(retry(attempts: attempts, error: "HTTP \(response.status.code)")) { $1 }
            }
        } catch {
            changes.merge(retry(attempts: attempts, error: String(describing: error).prefix(300).description)) { $1 }
        }
        _ = try await store.update(.webhookDeliveries, id: taken.id, changes: changes, ifMatch: nil, scope: .everything)
        if changes["status"] != .string("delivered") {
            services.activity.record(
                .webhookFailed(
                    deliveryID: taken.id,
                    webhookID: hook.id,
                    runID: taken.string("run_id"),
                    attempt: Int(attempts),
                    error: changes["error"]?.stringValue ?? "",
                    willRetry: changes["status"] == .string("pending")
                )
            )
        }
    }

    /// Exponential backoff (1 s, 2 s, 4 s… at most an hour); after `maxAttempts`, failed for good.
    private func retry(attempts: Int64, error: String) -> [String: Value] {
        if attempts >= Int64(maxAttempts) { return ["status": .string("failed"), "error": .string(error)] }
        let delay = min(3600, Int64(1) << min(attempts - 1, 12))
        return [
            "status": .string("pending"), "error": .string(error),
            "next_attempt_at": .timestamp(Timestamp.now() + delay * 1_000_000),
        ]
    }

    private func payload(_ delivery: Record) async throws -> JSONValue {
        let seq = delivery.int("event_seq") ?? 0
        let event = try await store.list(
            .runEvents,
            query: Query(filter: .equal("seq", String(seq)), limit: 1),
            scope: .everything
        ).items.first
        let run = try await store.get(.runs, id: delivery.string("run_id") ?? "")
        return .object([
            "delivery": .string(delivery.id), "event": event?.publicJSON() ?? .null, "run": run?.publicJSON() ?? .null,
        ])
    }

    /// Lower-case hex HMAC-SHA256 of the exact body bytes, as receivers verify it.
    public static func signature(body: JSONValue, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data(body.encodedString().utf8),
            using: SymmetricKey(data: Data(secret.utf8))
        )
        return mac.map { String(format: "%02x", $0) }.joined()
    }
}
