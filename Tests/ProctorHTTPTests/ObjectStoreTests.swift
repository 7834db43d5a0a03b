import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Synchronization
import Testing

@testable import ProctorObjectStore

/// The S3 peer of these tests: `PROCTOR_TEST_S3_URL` (scripts/test starts moto's server on loopback and sets it).
/// Without it the tests pass without testing anything, unless `PROCTOR_TEST_REQUIRE_S3=1`: then they fail.
enum S3Peer {
    struct Missing: Error, CustomStringConvertible {
        var description: String { "PROCTOR_TEST_REQUIRE_S3 is set but PROCTOR_TEST_S3_URL is not" }
    }

    /// Settings for a fresh bucket of the peer (created), or nil when there is no peer and none is required.
    static func freshBucket(partSize: Int = 16 << 20) async throws -> ObjectStoreSettings? {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["PROCTOR_TEST_S3_URL"], !url.isEmpty else {
            if environment["PROCTOR_TEST_REQUIRE_S3"] == "1" { throw Missing() }
            return nil
        }
        let settings = ObjectStoreSettings(
            bucket: "proctor-\(UUID().uuidString.prefix(8).lowercased())",
            prefix: "files",
            endpoint: url,
            accessKey: "testing",
            secretKey: "testing",
            partSize: partSize
        )
        try await S3FileStore(settings: settings).createBucket()
        return settings
    }
}

/// Runs' files in an S3-compatible object store: two servers over one database serve each other's uploads,
/// results are ingested from the store, large files go up in parts, and a store that cannot be reached is a 503
/// that records nothing.
@Suite struct ObjectStoreTests {
    static let admin: HTTPFields = [.authorization: "Bearer \(TestApp.adminToken)"]

    /// A server's configuration over the SQLite file in `database`, with its own data directory (so that nothing is
    /// shared through the local disk) and no executor.
    static func configuration(database: URL, objectStore: ObjectStoreSettings?) -> AppConfiguration {
        var configuration = AppConfiguration(
            host: "127.0.0.1",
            port: 0,
            dataDirectory: database.path,
            adminToken: TestApp.adminToken,
            executorSlots: 0
        )
        configuration.objectStore = objectStore
        return configuration
    }

    /// Runs `body` against an application over the SQLite file of `database`, files in `objectStore`, with its own
    /// data directory for uploads in progress.
    static func withApp(
        database: URL,
        objectStore: ObjectStoreSettings?,
        maxFileBytes: Int = 64 << 20,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var configuration = Self.configuration(database: database, objectStore: objectStore)
        configuration.maxFileBytes = maxFileBytes
        let store = try await openStore(configuration, logger: logger)
        _ = try await Bootstrap.run(store: store, adminToken: TestApp.adminToken)
        // The other replica's data directory: uploads are streamed there, and nothing else is kept.
        configuration.dataDirectory = database.path + "-replica-\(UUID().uuidString.prefix(8))"
        try await TestApp(store: store, configuration: configuration).test(body)
    }

    static func freshDatabase() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("proctor-s3-\(UUID().uuidString)")
    }

    static func newRun(_ client: any TestClientProtocol) async throws -> String {
        try await client.execute(
            uri: "/api/v1/runs",
            method: .post,
            headers: bearer(TestApp.adminToken),
            body: ByteBuffer(string: #"{"name": "reported"}"#)
        ) { try json($0)["id"]?.stringValue ?? "" }
    }

    /// Requests are signed as AWS's own SDK signs them: the vector is botocore's `S3SigV4Auth` over
    /// `UNSIGNED-PAYLOAD` for the same request and time (moto, the test peer, does not check signatures).
    @Test func requestsAreSignedAsBotocoreSignsThem() throws {
        let store = S3FileStore(
            settings: ObjectStoreSettings(
                bucket: "my-bucket",
                endpoint: "https://127.0.0.1:9000",
                accessKey: "AKIAIOSFODNN7EXAMPLE",
                secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            )
        )
        let path = store.path(of: "lab 1/file.tar")
        #expect(path == "/my-bucket/lab%201/file.tar")
        let query = S3FileStore.canonicalQuery(["uploadId": "abc/def", "partNumber": "2"])
        #expect(query == "partNumber=2&uploadId=abc%2Fdef")
        let headers = SigV4.sign(
            method: "PUT",
            path: path,
            query: query,
            host: "127.0.0.1:9000",
            region: "us-east-1",
            accessKey: "AKIAIOSFODNN7EXAMPLE",
            secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            date: Date(timeIntervalSince1970: 1_714_564_800)  // 2024-05-01T12:00:00Z
        )
        let byName = Dictionary(uniqueKeysWithValues: headers)
        #expect(byName["x-amz-date"] == "20240501T120000Z")
        #expect(byName["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD")
        #expect(
            byName["authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                + "Signature=f657b2fc96aad42a7c32af7fa48e355701696a6763776506f117df73e8f5acf2"
        )
    }

    /// Bytes that are not all alike (so that a part sent twice or out of order shows).
    static func payload(_ count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        var value: UInt32 = 2_463_534_242
        while buffer.readableBytes < count {
            value ^= value << 13
            value ^= value >> 17
            value ^= value << 5
            buffer.writeInteger(value)
        }
        buffer.moveWriterIndex(to: count)
        return buffer
    }

    /// Uploads `body` through app A, downloads it through app B (another data directory, the same database).
    func roundTrip(_ body: ByteBuffer, partSize: Int) async throws {
        guard let settings = try await S3Peer.freshBucket(partSize: partSize) else { return }
        let database = Self.freshDatabase()
        let fileID = LockedValue("")
        try await Self.withApp(database: database, objectStore: settings) { client in
            let run = try await Self.newRun(client)
            let id = try await client.execute(
                uri: "/api/v1/runs/\(run)/files?name=blob.bin",
                method: .post,
                headers: Self.admin,
                body: body
            ) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                return try json(response)["file"]?["id"]?.stringValue ?? ""
            }
            fileID.set(id)
        }
        // Nothing of the file was kept on the receiving server's disk.
        let kept =
            FileManager.default.enumerator(atPath: database.appendingPathComponent("files").path)?
            .compactMap { $0 as? String }.filter { !$0.hasPrefix(".incoming") } ?? []
        #expect(kept.filter { $0.contains(fileID.get()) }.isEmpty)
        try await Self.withApp(database: database, objectStore: settings) { client in
            try await client.execute(
                uri: "/api/v1/files/\(fileID.get())/content",
                method: .get,
                headers: Self.admin
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentLength] == String(body.readableBytes))
                #expect(response.body.readableBytes == body.readableBytes)
                #expect(response.body == body, "the bytes differ")
            }
        }
    }

    @Test func aFileUploadedThroughOneServerDownloadsThroughAnother() async throws {
        try await roundTrip(Self.payload(300_000), partSize: 16 << 20)
    }

    /// 40 MB in parts of 5 MiB: a multipart upload of 8 parts, the last one short.
    @Test func aFileOverThePartSizeGoesUpInPartsAndComesBackWhole() async throws {
        try await roundTrip(Self.payload(40_000_000), partSize: 5 << 20)
    }

    /// A JUnit file stored in the object store is parsed (from a copy) into the run's cases.
    @Test func aJUnitUploadIsIngestedFromTheObjectStore() async throws {
        guard let settings = try await S3Peer.freshBucket() else { return }
        try await Self.withApp(database: Self.freshDatabase(), objectStore: settings) { client in
            let run = try await Self.newRun(client)
            let answer = try await client.execute(
                uri: "/api/v1/runs/\(run)/files?name=junit.xml&results=junit",
                method: .post,
                headers: Self.admin,
                body: ByteBuffer(string: ResultUploadTests.junit(cases: 1_200, failing: 3))
            ) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                return try json(response)
            }
            #expect(answer["results"]?["total"] == .number(1_200))
            #expect(answer["results"]?["failed"] == .number(3))
            let failed = try await client.execute(
                uri: "/api/v1/runs/\(run)/tests?count=true&limit=1&filter=status=failed",
                method: .get,
                headers: Self.admin
            ) { try json($0)["total"] }
            #expect(failed == .number(3))
        }
        // The same file sent again replaces the first (its object deleted with it) without counting twice.
    }

    /// A store on a closed port: the upload is a 503 naming the store, and the run has no file.
    @Test func anUnreachableStoreIsA503AndRecordsNothing() async throws {
        let environment = ProcessInfo.processInfo.environment
        if environment["PROCTOR_TEST_S3_URL"] == nil, environment["PROCTOR_TEST_REQUIRE_S3"] == "1" {
            throw S3Peer.Missing()
        }
        // A refused connection is not retried until the request's deadline (an hour for a file's PUT).
        let configuration = S3FileStore.clientConfiguration
        #expect(configuration.connectionPool.retryConnectionEstablishment == false)
        #expect(configuration.timeout.connect == .seconds(5))
        let port = try closedPort()
        let settings = ObjectStoreSettings(
            bucket: "nowhere",
            endpoint: "http://127.0.0.1:\(port)",
            accessKey: "testing",
            secretKey: "testing"
        )
        try await Self.withApp(database: Self.freshDatabase(), objectStore: settings) { client in
            let run = try await Self.newRun(client)
            try await client.execute(
                uri: "/api/v1/runs/\(run)/files?name=junit.xml&results=junit",
                method: .post,
                headers: Self.admin,
                body: ByteBuffer(string: ResultUploadTests.junit(cases: 2))
            ) { response in
                #expect(response.status == .serviceUnavailable)
                let error = try json(response)["error"]
                #expect(error?["code"] == .string("unavailable"))
                let message = error?["message"]?.stringValue ?? ""
                #expect(message.contains("the file store at http://127.0.0.1:\(port) is unreachable"), "\(message)")
            }
            let items = try await client.execute(uri: "/api/v1/runs/\(run)/files", method: .get, headers: Self.admin) {
                try json($0)["items"]
            }
            #expect(items?.arrayValue?.isEmpty == true)
            try await client.execute(
                uri: "/api/v1/runs/\(run)/tests?count=true&limit=1",
                method: .get,
                headers: Self.admin
            ) { response in
                let total = try json(response)["total"]
                #expect(total == .number(0))
            }
        }
    }

    /// DCI's upload with the store unreachable: a 503 in DCI's shape (`status_code`, `message`), and the job has
    /// no file.
    @Test func anUnreachableStoreIsA503InDCIsShape() async throws {
        var app = try await DCITests.makeApp()
        let port = try closedPort()
        app.configuration.objectStore = ObjectStoreSettings(
            bucket: "nowhere",
            endpoint: "http://127.0.0.1:\(port)",
            accessKey: "testing",
            secretKey: "testing"
        )
        try await app.test { client in
            let id = try #require(try await DCITests.createJob(client)["id"]?.stringValue)
            let uri = "/dci/api/v1/files"
            var headers = DCITests.signed(.post, uri, body: DCITests.junit)
            headers[HTTPField.Name("DCI-NAME")!] = "junit.xml"
            headers[HTTPField.Name("DCI-MIME")!] = "application/junit"
            headers[HTTPField.Name("DCI-JOB-ID")!] = id
            try await client.execute(
                uri: uri,
                method: .post,
                headers: headers,
                body: ByteBuffer(string: DCITests.junit)
            ) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try json(response)
                #expect(body["status_code"] == .number(503))
                let message = body["message"]?.stringValue ?? ""
                #expect(message.contains("the file store at http://127.0.0.1:\(port) is unreachable"), "\(message)")
            }
            let (_, files, _) = try await DCITests.call(client, .get, "jobs/\(id)/files")
            #expect(files["files"]?.arrayValue?.isEmpty == true, "\(files)")
        }
    }

    /// A loopback port nothing listens on (bound, then closed).
    func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw ProctorError(.internal, "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A value set in one test closure and read in another.
final class LockedValue<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func set(_ new: Value) { value.withLock { $0 = new } }
    func get() -> Value { value.withLock { $0 } }
}
