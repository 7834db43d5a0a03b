import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import ProctorCore

/// Runs' files in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, moto…), addressed path-style
/// (`<endpoint>/<bucket>/<prefix>/<key>`, which self-hosted stores answer without wildcard DNS).
///
/// Uploads stream from the local file in chunks of 1 MiB: a file up to ``ObjectStoreSettings/partSize`` in one
/// `PUT`, a larger one as a multipart upload of parts of that size (aborted when a part fails, so no half object is
/// left to pay for). Downloads stream the response body to the consumer. No file is ever held in memory whole.
///
/// Requests are signed with AWS Signature Version 4 over `UNSIGNED-PAYLOAD`: signing the body's sha256 would need a
/// second pass over each part before sending it (or the part in memory), while the body's integrity is already
/// the transport's (TLS) and the server records the file's sha256 and md5 itself, computed as it was received.
public struct S3FileStore: FileStore {
    public let settings: ObjectStoreSettings
    let client: HTTPClient
    /// The longest one request may take, its body included (a part going up, a file going down to a slow client).
    let requestTimeout: TimeAmount

    /// The process's client for object stores (``clientConfiguration``). Never shut down, like `HTTPClient.shared`.
    public static let defaultClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: clientConfiguration
    )

    /// A refused connection fails at once, and connecting gives up after 5 s: the pool's default retries a refused
    /// connection until the request's deadline (an hour here), and a store that is down must be a prompt 503.
    static var clientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    public init(
        settings: ObjectStoreSettings,
        client: HTTPClient = S3FileStore.defaultClient,
        requestTimeout: TimeAmount = .hours(1)
    ) {
        self.settings = settings
        self.client = client
        self.requestTimeout = requestTimeout
    }

    public var description: String {
        "s3://\(settings.bucket)\(settings.prefix.isEmpty ? "" : "/" + settings.prefix) at \(settings.endpoint)"
    }

    // MARK: FileStore

    public func put(_ key: String, from source: URL, size: Int) async throws {
        if size <= settings.partSize {
            let response = try await send(
                "PUT",
                key: key,
                body: .stream(FileChunks(url: source, offset: 0, length: size), length: .known(Int64(size))),
                doing: "storing a file"
            )
            try await expectSuccess(response, doing: "storing a file")
            return
        }
        let uploadID = try await startMultipart(key)
        do {
            var parts: [String] = []
            var offset = 0
            while offset < size {
                let length = min(settings.partSize, size - offset)
                let number = parts.count + 1
                let response = try await send(
                    "PUT",
                    key: key,
                    query: ["partNumber": String(number), "uploadId": uploadID],
                    body: .stream(
                        FileChunks(url: source, offset: offset, length: length),
                        length: .known(Int64(length))
                    ),
                    doing: "storing part \(number) of a file"
                )
                try await expectSuccess(response, doing: "storing part \(number) of a file")
                guard let etag = response.headers.first(name: "etag") else {
                    throw unavailable("gave no ETag for part \(number) of a file")
                }
                parts.append(etag)
                offset += length
            }
            var xml = "<CompleteMultipartUpload>"
            for (index, etag) in parts.enumerated() {
                xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(Self.escape(etag))</ETag></Part>"
            }
            xml += "</CompleteMultipartUpload>"
            let response = try await send(
                "POST",
                key: key,
                query: ["uploadId": uploadID],
                body: .bytes(ByteBuffer(string: xml)),
                doing: "completing a multipart upload"
            )
            // S3 may answer 200 with an error document once it has started answering.
            let text = try await Self.text(of: response)
            guard (200..<300).contains(response.status.code), !text.contains("<Error>") else {
                throw refused(response.status, text, doing: "completing a multipart upload")
            }
        } catch {
            _ = try? await send("DELETE", key: key, query: ["uploadId": uploadID], doing: "aborting an upload")
            throw error
        }
    }

    public func open(_ key: String) async throws -> StoredContent {
        let response = try await send("GET", key: key, doing: "reading a file")
        if response.status == .notFound {
            _ = try? await Self.text(of: response)
            throw ProctorError.notFound("the file's content is gone")
        }
        guard (200..<300).contains(response.status.code) else {
            throw refused(response.status, try await Self.text(of: response), doing: "reading a file")
        }
        let size = response.headers.first(name: "content-length").flatMap(Int.init) ?? 0
        let body = response.body
        return StoredContent(size: size) {
            var iterator = body.makeAsyncIterator()
            return StoredContent.AsyncIterator { try await iterator.next().map { Array($0.readableBytesView) } }
        }
    }

    public func download(_ key: String, to destination: URL) async throws {
        let content = try await open(key)
        guard FileManager.default.createFile(atPath: destination.path, contents: nil) else {
            throw ProctorError(.unavailable, "cannot create a temporary file for a stored file")
        }
        let handle = try FileHandle(forWritingTo: destination)
        defer { try? handle.close() }
        for try await chunk in content { try handle.write(contentsOf: chunk) }
    }

    public func delete(_ key: String) async throws {
        let response = try await send("DELETE", key: key, doing: "deleting a file")
        guard response.status == .notFound else {
            try await expectSuccess(response, doing: "deleting a file")
            return
        }
        _ = try? await Self.text(of: response)
    }

    /// Creates the bucket (tests, and first runs against an empty self-hosted store); an existing bucket of
    /// the same owner is no error.
    public func createBucket() async throws {
        let response = try await send("PUT", path: "/\(Self.encode(settings.bucket))", doing: "creating the bucket")
        let text = try await Self.text(of: response)
        guard (200..<300).contains(response.status.code) || text.contains("BucketAlreadyOwnedByYou") else {
            throw refused(response.status, text, doing: "creating the bucket")
        }
    }

    // MARK: Requests

    private func startMultipart(_ key: String) async throws -> String {
        let response = try await send("POST", key: key, query: ["uploads": ""], doing: "starting a multipart upload")
        let text = try await Self.text(of: response)
        guard (200..<300).contains(response.status.code), let id = Self.element("UploadId", in: text) else {
            throw refused(response.status, text, doing: "starting a multipart upload")
        }
        return id
    }

    /// The path of a key: `/<bucket>/<prefix>/<key>`, each segment URI-encoded.
    func path(of key: String) -> String {
        let full = settings.prefix.isEmpty ? key : settings.prefix + "/" + key
        return "/"
            + ([settings.bucket] + full.split(separator: "/").map(String.init)).map(Self.encode).joined(
                separator: "/"
            )
    }

    private func send(
        _ method: String,
        key: String,
        query: [String: String] = [:],
        body: HTTPClientRequest.Body? = nil,
        doing: String
    ) async throws -> HTTPClientResponse {
        try await send(method, path: path(of: key), query: query, body: body, doing: doing)
    }

    private func send(
        _ method: String,
        path: String,
        query: [String: String] = [:],
        body: HTTPClientRequest.Body? = nil,
        doing: String
    ) async throws -> HTTPClientResponse {
        guard let base = URL(string: settings.endpoint), let host = base.host else {
            throw ProctorError(.unavailable, "the file store's endpoint \(settings.endpoint) is not a URL")
        }
        let hostHeader = base.port.map { "\(host):\($0)" } ?? host
        let queryString = Self.canonicalQuery(query)
        var request = HTTPClientRequest(url: settings.endpoint + path + (queryString.isEmpty ? "" : "?" + queryString))
        request.method = HTTPMethod(rawValue: method)
        let signed = SigV4.sign(
            method: method,
            path: path,
            query: queryString,
            host: hostHeader,
            region: settings.region,
            accessKey: settings.accessKey,
            secretKey: settings.secretKey,
            date: Date()
        )
        for (name, value) in signed { request.headers.add(name: name, value: value) }
        if let body { request.body = body }
        do {
            return try await client.execute(request, timeout: requestTimeout)
        } catch let error as ProctorError {
            throw error
        } catch {
            throw ProctorError(
                .unavailable,
                "the file store at \(settings.endpoint) is unreachable (\(doing)): \(error)"
            )
        }
    }

    /// Throws the store's refusal unless the answer is a success, whose (small) body is read to its end so that
    /// the connection goes back to the pool.
    private func expectSuccess(_ response: HTTPClientResponse, doing: String) async throws {
        let text = try await Self.text(of: response)
        guard !(200..<300).contains(response.status.code) else { return }
        throw refused(response.status, text, doing: doing)
    }

    private func refused(_ status: HTTPResponseStatus, _ text: String, doing: String) -> ProctorError {
        let code = Self.element("Code", in: text).map { " \($0)" } ?? ""
        let message = Self.element("Message", in: text).map { ": \($0)" } ?? ""
        return ProctorError(
            .unavailable,
            "the file store at \(settings.endpoint) refused \(doing): \(status.code)\(code)\(message)"
        )
    }

    private func unavailable(_ what: String) -> ProctorError {
        ProctorError(.unavailable, "the file store at \(settings.endpoint) \(what)")
    }

    /// A small answer (an error or an upload's document) as text; at most 1 MiB is read.
    static func text(of response: HTTPClientResponse) async throws -> String {
        do {
            let buffer = try await response.body.collect(upTo: 1 << 20)
            return String(buffer: buffer)
        } catch {
            return ""
        }
    }

    static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"),
            let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;")
    }

    /// URI-encodes as SigV4 wants: everything but `A-Z a-z 0-9 - . _ ~`, upper-case hex.
    static func encode(_ text: String) -> String { Credentials.percentEncodedUnreserved(text) }

    static func canonicalQuery(_ query: [String: String]) -> String {
        query.map { (encode($0.key), encode($0.value)) }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(
            separator: "&"
        )
    }
}

/// AWS Signature Version 4 for S3, over `UNSIGNED-PAYLOAD` (see ``S3FileStore``).
enum SigV4 {
    /// The headers to add: `host`, `x-amz-date`, `x-amz-content-sha256` and `authorization`.
    static func sign(
        method: String,
        path: String,
        query: String,
        host: String,
        region: String,
        accessKey: String,
        secretKey: String,
        date: Date
    ) -> [(String, String)] {
        let amzDate = Credentials.basicUTCStamp(date)
        let day = String(amzDate.prefix(8))
        let payload = "UNSIGNED-PAYLOAD"
        let headers = [("host", host), ("x-amz-content-sha256", payload), ("x-amz-date", amzDate)]
        let signedHeaders = headers.map(\.0).joined(separator: ";")
        let canonical = [
            method, path, query, headers.map { "\($0.0):\($0.1)\n" }.joined(), signedHeaders, payload,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/s3/aws4_request"
        let toSign = ["AWS4-HMAC-SHA256", amzDate, scope, Credentials.hex(SHA256.hash(data: Data(canonical.utf8)))]
            .joined(
                separator: "\n"
            )
        var key = SymmetricKey(data: Data("AWS4\(secretKey)".utf8))
        for part in [day, region, "s3", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Credentials.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return headers + [("authorization", authorization)]
    }

}

/// `length` bytes of a local file from `offset`, read 1 MiB at a time as the HTTP client asks for them.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let url: URL
    let offset: Int
    let length: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let url: URL
        let offset: Int
        var remaining: Int
        var handle: FileHandle?

        mutating func next() async throws -> ByteBuffer? {
            guard remaining > 0 else {
                try? handle?.close()
                handle = nil
                return nil
            }
            if handle == nil {
                let opened = try FileHandle(forReadingFrom: url)
                try opened.seek(toOffset: UInt64(offset))
                handle = opened
            }
            guard let chunk = try handle?.read(upToCount: Swift.min(remaining, 1 << 20)), !chunk.isEmpty else {
                throw ProctorError(.internal, "a file being stored got shorter")
            }
            remaining -= chunk.count
            return ByteBuffer(bytes: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(url: url, offset: offset, remaining: length, handle: nil)
    }
}
