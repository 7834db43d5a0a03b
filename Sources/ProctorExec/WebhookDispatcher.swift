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

    /// The dispatcher's own client: a receiver that is down must fail an attempt at once (connection refused),
    /// not after the shared client's retries of the connection until the request's timeout, which held every
    /// other delivery up for 10 s.
    static var clientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return configuration
    }

    public func run() async throws {
        // Start after the newest event: history is not replayed on restart.
        var after = try await latestEventSeq()
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let generation = await services.events.runGeneration
            do {
                after = try await anyActiveWebhook() ? try await enqueue(after: after) : try await latestEventSeq()
                try await deliverDue(through: client)
            } catch {
                logger.warning("webhooks: \(error)")
            }
            // Under a steady stream of writes the generation moves all the time: a pass at most every
            // `passInterval` reads the events of many writes at once, instead of a pass per write (a tenth of the
            // server's instructions under 200 writing clients).
            try? await Task.sleep(for: Self.passInterval)
            await services.events.waitForRuns(after: generation, timeout: .seconds(1))
        }
        try? await client.shutdown()
    }

    /// The shortest time between two passes over new events and due deliveries.
    static let passInterval: Duration = .milliseconds(100)

    /// Whether any group has an active webhook: when none has, a pass skips the new events (no one is told of
    /// them) instead of reading each.
    private func anyActiveWebhook() async throws -> Bool {
        try await !store.list(
            .webhooks,
            query: Query(filter: .equal("active", "true"), limit: 1, fields: ["id"]),
            scope: .everything
        ).items.isEmpty
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
                RunEvent.self,
                query: Query(
                    filter: .predicate(Condition("seq", .greater, String(last))),
                    sort: [SortKey("seq")],
                    limit: 200
                ),
                scope: .everything
            )
            guard !events.isEmpty else { return last }
            var hooksByGroup: [String: [Webhook]] = [:]
            for event in events {
                last = event.seq
                guard let groupID = event.groupID, RunStatus.notifies(event: event) else { continue }
                if hooksByGroup[groupID] == nil {
                    hooksByGroup[groupID] = try await store.list(
                        Webhook.self,
                        query: Query(filter: .equal("active", "true"), limit: 100),
                        scope: .groups([groupID])
                    )
                }
                for hook in hooksByGroup[groupID] ?? [] {
                    let statuses = hook.statuses
                    if !statuses.isEmpty && !statuses.contains(event.string(.status) ?? "") { continue }
                    do {
                        _ = try await store.insert(
                            WebhookDelivery([
                                .groupID: .string(groupID), .webhookID: .string(hook.id), .eventSeq: .int(event.seq),
                                .runID: event[.runID], .nextAttemptAt: .timestamp(Timestamp.now()),
                            ]).record
                        )
                    } catch let failure as ProctorError where failure.code == .conflict {
                        continue  // another replica recorded it
                    }
                }
            }
        }
    }

    /// Sends every pending delivery whose time has come.
    func deliverDue(through client: HTTPClient) async throws {
        let now = Timestamp.rfc3339(micros: Timestamp.now())
        let due = try await store.list(
            WebhookDelivery.self,
            query: Query(
                filter: .equal("status", "pending") && .predicate(Condition("next_attempt_at", .lessOrEqual, now)),
                sort: [SortKey("next_attempt_at")],
                limit: 50
            ),
            scope: .everything
        )
        for delivery in due { try await deliver(delivery, through: client) }
    }

    private func deliver(_ delivery: WebhookDelivery, through client: HTTPClient) async throws {
        // Take it: only one replica's conditional update succeeds.
        let taken: WebhookDelivery
        do {
            taken = WebhookDelivery(
                unchecked: try await store.update(
                    .webhookDeliveries,
                    id: delivery.id,
                    changes: WebhookDelivery.changes([.status: .string("sending")]),
                    ifMatch: delivery.etag,
                    scope: .everything
                )
            )
        } catch let failure as ProctorError where failure.code == .conflict || failure.code == .notFound {
            return
        }
        guard let hook = try await store.get(Webhook.self, id: taken.webhookID),
            let secret = hook.string(.secret), let url = hook.string(.url)
        else {
            _ = try await store.update(
                .webhookDeliveries,
                id: taken.id,
                changes: WebhookDelivery.changes([.status: .string("failed"), .error: .string("the webhook is gone")]),
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
        let attempts = taken.attempts + 1
        var changes: [WebhookDelivery.Field: Value] = [.attempts: .int(attempts)]
        do {
            let response = try await client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 << 10)
            changes[.responseCode] = .int(Int64(response.status.code))
            if (200..<300).contains(response.status.code) {
                changes[.status] = .string("delivered")
                changes[.deliveredAt] = .timestamp(Timestamp.now())
                changes[.error] = .null
            } else {
                changes.merge(retry(attempts: attempts, error: "HTTP \(response.status.code)")) { $1 }
            }
        } catch {
            changes.merge(retry(attempts: attempts, error: String(describing: error).prefix(300).description)) { $1 }
        }
        _ = try await store.update(
            .webhookDeliveries,
            id: taken.id,
            changes: WebhookDelivery.changes(changes),
            ifMatch: nil,
            scope: .everything
        )
        if changes[.status] != .string("delivered") {
            services.activity.record(
                .webhookFailed(
                    deliveryID: taken.id,
                    webhookID: hook.id,
                    runID: taken.runID,
                    attempt: Int(attempts),
                    error: changes[.error]?.stringValue ?? "",
                    willRetry: changes[.status] == .string("pending")
                )
            )
        }
    }

    /// Exponential backoff (1 s, 2 s, 4 s… at most an hour); after `maxAttempts`, failed for good.
    private func retry(attempts: Int64, error: String) -> [WebhookDelivery.Field: Value] {
        if attempts >= Int64(maxAttempts) { return [.status: .string("failed"), .error: .string(error)] }
        let delay = min(3600, Int64(1) << min(attempts - 1, 12))
        return [
            .status: .string("pending"), .error: .string(error),
            .nextAttemptAt: .timestamp(Timestamp.now() + delay * 1_000_000),
        ]
    }

    private func payload(_ delivery: WebhookDelivery) async throws -> JSONValue {
        let seq = delivery.eventSeq
        let event = try await store.list(
            .runEvents,
            query: Query(filter: .equal("seq", String(seq)), limit: 1),
            scope: .everything
        ).items.first
        let run = try await store.get(Run.self, id: delivery.runID ?? "")
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
