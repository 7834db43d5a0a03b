import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ProctorCore
import ProctorExec
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Testing

/// A live application over a fresh SQLite store with the bootstrap admin.
struct TestApp {
    static let adminToken = "pt_test_admin_token_0000000000"

    let store: SQLStore
    var configuration: AppConfiguration

    /// Where tests put scripts that jobs execute: in the checkout's build folder, since a run's sandbox has a
    /// private /tmp and its user must be able to reach them.
    static let scriptsDirectory: URL = {
        let directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
            ".build/test-scripts"
        )
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }()

    static func make() async throws -> TestApp {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "proctor-http-\(UUID().uuidString)"
        )
        var configuration = AppConfiguration(
            host: "127.0.0.1",
            port: 0,
            dataDirectory: directory.path,
            adminToken: adminToken
        )
        // scripts/test sets it when the sandbox user cannot read the checkout.
        if let user = ProcessInfo.processInfo.environment["PROCTOR_SANDBOX_USER"] { configuration.sandbox.user = user }
        let store = try await openStore(configuration, logger: logger)
        _ = try await Bootstrap.run(store: store, adminToken: adminToken)
        return TestApp(store: store, configuration: configuration)
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let app = try await buildApplication(configuration: configuration, store: store, logger: logger)
        do {
            try await app.test(.router, body)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    /// Runs `body` against a live server with its services (the local executor) running.
    func testLive(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let app = try await buildApplication(configuration: configuration, store: store, logger: logger)
        do {
            try await app.test(.live, body)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }
}

func bearer(_ token: String) -> HTTPFields {
    [.authorization: "Bearer \(token)", .contentType: "application/json"]
}

func json(_ response: TestResponse) throws -> JSONValue {
    try JSONValue.decode(Data(response.body.readableBytesView))
}

extension ByteBuffer {
    init(json: String) { self.init(string: json) }
}
