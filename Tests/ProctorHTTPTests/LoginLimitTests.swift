import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import Synchronization
import Testing

/// Brute-force limits on every password entry point (issue #16): the native login, the dashboard's form,
/// CDRouter's `authenticate` and DCI's HTTP Basic share the server's one ``LoginThrottle``. Beyond the limit of
/// failures per user name, or per client address, every attempt (even with the right password) is a 429 with
/// `Retry-After`, in the door's own error shape.
@Suite struct LoginLimitTests {
    /// A door that takes a name and a password.
    enum Door: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case native, dashboard, cdrouter, dci

        var testDescription: String { rawValue }

        /// The status of a successful login through this door.
        var success: HTTPResponse.Status {
            switch self {
            case .native: return .created
            case .dashboard: return .seeOther
            case .cdrouter, .dci: return .ok
            }
        }

        /// One attempt: status, headers and body text.
        func attempt(_ client: any TestClientProtocol, _ name: String, _ password: String) async throws -> TestResponse
        {
            switch self {
            case .native:
                return try await client.execute(
                    uri: "/api/v1/auth/login",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"name": "\#(name)", "password": "\#(password)"}"#)
                )
            case .dashboard:
                let nonce = try await client.execute(uri: "/login", method: .get) { response in
                    DashboardTests.cookies(response)["proctor_login"] ?? ""
                }
                return try await client.execute(
                    uri: "/login",
                    method: .post,
                    headers: DashboardTests.formHeaders.merging([.cookie: "proctor_login=\(nonce)"]),
                    body: DashboardTests.form([("csrf", nonce), ("name", name), ("password", password)])
                )
            case .cdrouter:
                return try await client.execute(
                    uri: "/cdrouter/authenticate",
                    method: .post,
                    headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "username=\(name)&password=\(password)")
                )
            case .dci:
                return try await client.execute(
                    uri: "/dci/api/v1/identity",
                    method: .get,
                    headers: DCITests.basic(name, password)
                )
            }
        }

        /// Whether a refusal is a 429 in this door's shape, saying when to retry.
        func expectRefused(_ response: TestResponse, window: Int, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(response.status == .tooManyRequests, sourceLocation: sourceLocation)
            let retryAfter = response.headers[.retryAfter].flatMap { Int($0) }
            #expect(
                retryAfter.map { (1...window).contains($0) } == true,
                "Retry-After: \(String(describing: retryAfter))",
                sourceLocation: sourceLocation
            )
            let text = String(buffer: response.body)
            switch self {
            case .native:
                let body = try? JSONValue.decode(Data(text.utf8))
                #expect(body?["error"]?["code"] == .string("too_many_requests"), sourceLocation: sourceLocation)
                #expect(
                    body?["error"]?["message"]?.stringValue?.contains("too many failed login attempts") == true,
                    sourceLocation: sourceLocation
                )
                #expect(
                    body?["error"]?["retry_after"] == retryAfter.map { .number(Double($0)) },
                    sourceLocation: sourceLocation
                )
            case .dashboard:
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true, sourceLocation: sourceLocation)
                #expect(text.contains("Too many failed logins"), sourceLocation: sourceLocation)
                #expect(text.contains(#"name="password""#), "the login form again", sourceLocation: sourceLocation)
                #expect(DashboardTests.cookies(response)["proctor_session"] == nil, sourceLocation: sourceLocation)
            case .cdrouter:
                let body = try? JSONValue.decode(Data(text.utf8))
                #expect(
                    body?["error"]?.stringValue?.contains("too many failed login attempts") == true,
                    sourceLocation: sourceLocation
                )
                #expect(body?["timestamp"]?.stringValue != nil, sourceLocation: sourceLocation)
                #expect(body?["data"] == nil, sourceLocation: sourceLocation)
            case .dci:
                let body = (try? JSONValue.decode(Data(text.utf8))) ?? .null
                #expect(DCITests.isDCIError(body, 429), sourceLocation: sourceLocation)
                #expect(
                    body["message"]?.stringValue?.contains("too many failed login attempts") == true,
                    sourceLocation: sourceLocation
                )
            }
        }
    }

    static let window = 900

    /// An app with low limits and three users with passwords (`<name>-password`).
    static func makeApp(perUser: Int, perAddress: Int) async throws -> TestApp {
        var app = try await TestApp.make()
        app.configuration.loginFailuresPerUser = perUser
        app.configuration.loginFailuresPerAddress = perAddress
        app.configuration.loginWindowSeconds = window
        let accounts = Accounts(store: app.store)
        let admin = try await Authenticator(store: app.store).principal(forToken: TestApp.adminToken)
        for name in ["alice", "bob", "carol"] {
            _ = try await accounts.createUser(["name": .string(name)], password: "\(name)-password", by: admin)
        }
        return app
    }

    /// Per user name: a correct password works below the limit; past it, the next attempt and then the right
    /// password are refused (a remembered right password too), while another user from the same address still
    /// logs in. Then the per-address limit refuses a user who never failed.
    @Test(arguments: Door.allCases) func limitsFailedPasswordsPerUserAndPerAddress(_ door: Door) async throws {
        let app = try await Self.makeApp(perUser: 3, perAddress: 5)
        try await app.test { client in
            // Below the limit a correct password works (and is remembered by the principal cache).
            #expect(try await door.attempt(client, "alice", "alice-password").status == door.success)
            for _ in 0..<3 {
                #expect(try await door.attempt(client, "alice", "wrong-password").status == .unauthorized)
            }
            door.expectRefused(try await door.attempt(client, "alice", "wrong-password"), window: Self.window)
            door.expectRefused(try await door.attempt(client, "alice", "alice-password"), window: Self.window)

            // Another user from the same address: 3 failures so far, below the per-address limit of 5.
            #expect(try await door.attempt(client, "bob", "bob-password").status == door.success)
            for _ in 0..<2 {
                #expect(try await door.attempt(client, "bob", "wrong-password").status == .unauthorized)
            }
            // Now the address has 5 failures: a user who never failed is refused, with the right password.
            door.expectRefused(try await door.attempt(client, "carol", "carol-password"), window: Self.window)
            door.expectRefused(try await door.attempt(client, "bob", "bob-password"), window: Self.window)
            // Still refused: refusals do not count, but neither do they end the lockout.
            door.expectRefused(try await door.attempt(client, "alice", "alice-password"), window: Self.window)
        }
    }

    /// The doors share one limiter: failures through one door count on the others.
    @Test func theDoorsShareOneLimiter() async throws {
        let app = try await Self.makeApp(perUser: 4, perAddress: 100)
        try await app.test { client in
            for door in Door.allCases {
                #expect(try await door.attempt(client, "alice", "wrong-password").status == .unauthorized)
            }
            for door in Door.allCases {
                door.expectRefused(try await door.attempt(client, "alice", "alice-password"), window: Self.window)
            }
            for door in Door.allCases {
                #expect(try await door.attempt(client, "bob", "bob-password").status == door.success)
            }
        }
    }

    /// Tokens are not passwords: a locked user's existing token keeps working.
    @Test func aLockedUsersTokenStillWorks() async throws {
        let app = try await Self.makeApp(perUser: 2, perAddress: 100)
        try await app.test { client in
            let login = try await Door.native.attempt(client, "alice", "alice-password")
            let token = try #require(try json(login)["token"]?.stringValue)
            for _ in 0..<2 { _ = try await Door.native.attempt(client, "alice", "wrong-password") }
            Door.native.expectRefused(
                try await Door.native.attempt(client, "alice", "alice-password"),
                window: Self.window
            )
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func theOpenAPIDocumentDescribesThe429() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                let document = try json(response)
                let login = document["paths"]?["/api/v1/auth/login"]?["post"]?["responses"]
                #expect(login?["429"]?["$ref"] == .string("#/components/responses/TooManyRequests"))
                #expect(document["components"]?["responses"]?["TooManyRequests"]?["headers"]?["Retry-After"] != nil)
            }
        }
    }

    // MARK: The limiter itself

    /// A clock the test moves.
    final class TestClock: Sendable {
        let elapsed = Mutex<Duration>(.zero)
        func advance(_ seconds: Int) { elapsed.withLock { $0 += .seconds(seconds) } }
        var reading: @Sendable (ContinuousClock.Instant) -> Duration { { _ in self.elapsed.withLock { $0 } } }
    }

    static let wrong = ProctorError(.unauthorized, "invalid user name or password")

    /// One failed attempt; true when the check ran (was not refused).
    @discardableResult
    static func fail(_ throttle: LoginThrottle, _ user: String, _ address: String = "192.0.2.1") async -> Bool {
        var ran = false
        _ = try? await throttle.attempt(user: user, address: address) { () async throws -> Int in
            ran = true
            throw wrong
        }
        return ran
    }

    static func refusal(_ throttle: LoginThrottle, _ user: String, _ address: String = "192.0.2.1") async
        -> ProctorError?
    {
        do {
            _ = try await throttle.attempt(user: user, address: address) { 1 }
            return nil
        } catch {
            return error as? ProctorError
        }
    }

    @Test func aSlidingWindowPerKey() async throws {
        let clock = TestClock()
        let throttle = LoginThrottle(
            limits: .init(failuresPerUser: 2, failuresPerAddress: 100, windowSeconds: 60),
            elapsed: clock.reading
        )
        #expect(await Self.fail(throttle, "alice"))
        clock.advance(10)
        #expect(await Self.fail(throttle, "alice"))
        // Locked until the first failure is 60 seconds old; the check does not even run.
        #expect(!(await Self.fail(throttle, "alice")))
        let refused = await Self.refusal(throttle, "alice")
        #expect(refused?.code == .tooManyRequests)
        #expect(refused?.retryAfter == 50)
        clock.advance(49)
        #expect(await Self.refusal(throttle, "alice")?.retryAfter == 1)
        clock.advance(1)
        // The first failure left the window: one more attempt, which succeeds and resets nothing.
        #expect(await Self.refusal(throttle, "alice") == nil)
        #expect(await Self.fail(throttle, "alice"))
        #expect(await Self.refusal(throttle, "alice")?.retryAfter == 10)
        // Other names are not affected.
        #expect(await Self.refusal(throttle, "bob") == nil)
    }

    @Test func onlyWrongPasswordsCountAndAttemptsInFlightCountUntilDecided() async throws {
        let throttle = LoginThrottle(limits: .init(failuresPerUser: 1, failuresPerAddress: 100, windowSeconds: 60))
        // A store failure is not a failed password.
        await #expect(throws: ProctorError.self) {
            try await throttle.attempt(user: "alice", address: "a") { () async throws -> Int in
                throw ProctorError(.unavailable, "down")
            }
        }
        #expect(await Self.refusal(throttle, "alice") == nil)
        // While an attempt is being checked, a concurrent one for the same name is refused for a second.
        let inner = try await throttle.attempt(user: "alice", address: "a") {
            await Self.refusal(throttle, "alice", "b")
        }
        #expect(inner?.code == .tooManyRequests)
        #expect(inner?.retryAfter == 1)
        #expect(await Self.refusal(throttle, "alice") == nil)
    }

    @Test func memoryIsBoundedAndLockedKeysOutliveUnlockedOnes() async throws {
        let throttle = LoginThrottle(
            limits: .init(failuresPerUser: 2, failuresPerAddress: 10_000, windowSeconds: 60, maxTrackedKeys: 20)
        )
        await Self.fail(throttle, "victim")
        await Self.fail(throttle, "victim")
        for index in 0..<200 { await Self.fail(throttle, "name-\(index)", "198.51.100.\(index % 250)") }
        let tracked = throttle.trackedKeys
        #expect(tracked.users <= 20)
        #expect(tracked.addresses <= 20)
        #expect(await Self.refusal(throttle, "victim")?.code == .tooManyRequests)
    }

    @Test func longNamesAreKeptSmall() async throws {
        let throttle = LoginThrottle(limits: .init(failuresPerUser: 1, failuresPerAddress: 100, windowSeconds: 60))
        let long = String(repeating: "x", count: 10_000)
        await Self.fail(throttle, long)
        #expect(await Self.refusal(throttle, long)?.code == .tooManyRequests)
        #expect(await Self.refusal(throttle, long + "y") == nil)
    }

    // MARK: Client addresses

    @Test func clientAddressesIgnoreForwardedHeadersExceptFromTrustedProxies() throws {
        let plain = ClientAddresses()
        let peer = try SocketAddress(ipAddress: "203.0.113.7", port: 4000)
        #expect(plain.key(peer: peer, forwardedFor: ["198.51.100.1"]) == "203.0.113.7")
        #expect(plain.key(peer: nil, forwardedFor: ["198.51.100.1"]) == "unknown")

        let proxied = ClientAddresses(trustedProxies: ["203.0.113.7", "10.0.0.2", "not an address"])
        #expect(proxied.key(peer: peer, forwardedFor: ["198.51.100.1"]) == "198.51.100.1")
        // The nearest hop that is not a trusted proxy; what the client wrote further left is ignored.
        #expect(proxied.key(peer: peer, forwardedFor: ["1.1.1.1, 198.51.100.1", "10.0.0.2"]) == "198.51.100.1")
        #expect(proxied.key(peer: peer, forwardedFor: ["garbage"]) == "203.0.113.7")
        #expect(proxied.key(peer: peer, forwardedFor: []) == "203.0.113.7")
        let other = try SocketAddress(ipAddress: "192.0.2.9", port: 1)
        #expect(proxied.key(peer: other, forwardedFor: ["198.51.100.1"]) == "192.0.2.9")
        #expect(ClientAddresses(trustedProxies: ["nope"]).isEmpty)
    }

    @Test func ipv6ClientsAreCountedPerSlash64() throws {
        #expect(
            ClientAddresses.key(try SocketAddress(ipAddress: "2001:db8:1:2:3:4:5:6", port: 1)) == "2001:db8:1:2::/64"
        )
        #expect(
            ClientAddresses.key(try SocketAddress(ipAddress: "2001:db8:1:2:ffff::1", port: 1)) == "2001:db8:1:2::/64"
        )
        #expect(ClientAddresses.key(try SocketAddress(ipAddress: "::ffff:192.0.2.1", port: 1)) == "192.0.2.1")
        #expect(ClientAddresses.key(try SocketAddress(ipAddress: "192.0.2.1", port: 1)) == "192.0.2.1")
    }
}
