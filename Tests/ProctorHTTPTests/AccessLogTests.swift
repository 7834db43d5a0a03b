import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Synchronization
import Testing

/// What an operator's log collector reads: one JSON object per line, and an access-log line per request with the
/// route template (never the raw path), the status an error was rendered with, and the authenticated caller.
@Suite struct AccessLogTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [JSONValue] { lines.withLock { $0 }.compactMap { JSONValue.decode($0) } }
    }

    @Test func everyRequestIsOneJSONLineWithRouteStatusAndCaller() async throws {
        let app = try await TestApp.make()
        let captured = Lines()
        var logger = Logger(label: "proctor") { label in
            JSONLogHandler(label: label) { line in captured.lines.withLock { $0.append(line) } }
        }
        logger.logLevel = .info
        let application = try await buildApplication(configuration: app.configuration, store: app.store, logger: logger)
        try await application.test(.router) { client in
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: bearer(TestApp.adminToken)) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/api/v1/runs/secret-id?token=x", method: .get) {
                #expect($0.status == .unauthorized)
            }
        }
        await app.store.shutdown()
        let requests = captured.all.filter { $0["message"] == .string("request") }
        #expect(requests.count == 2, "\(captured.lines.withLock { $0 })")
        #expect(requests.first?["route"] == .string("/api/v1/whoami"))
        #expect(requests.first?["status"] == .number(200))
        #expect(requests.first?["principal"] == .string("user:admin"))
        #expect(requests.first?["method"] == .string("GET"))
        #expect(requests.first?["level"] == .string("info"))
        #expect(requests.first?["ts"]?.stringValue?.hasSuffix("Z") == true)
        #expect(Double(requests.first?["duration_ms"]?.stringValue ?? "") != nil)
        #expect(requests.last?["route"] == .string("/api/v1/runs/{id}"))
        #expect(requests.last?["status"] == .number(401))
        #expect(requests.last?["principal"] == nil)
        #expect(captured.lines.withLock { $0 }.allSatisfy { $0.hasSuffix("\n") && !$0.dropLast().contains("\n") })
        #expect(!captured.lines.withLock { $0 }.contains { $0.contains("secret-id") })
    }
}
