import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where the bytes of runs' files live: the data directory's `files` folder (``LocalFileStore``, the embedded
/// default) or an S3-compatible object store (`ProctorObjectStore`), so that every replica of a scaled-out
/// server serves every file, whichever replica received it.
///
/// Keys are the `storage_path` of the `files` rows (`<group>/<first two hex digits of the id>/<id>`; files stored by
/// earlier builds keep theirs, `<group>/<run>/<id>`). A store never holds a file in memory:
/// it takes it from a local file and hands it back in chunks or into a local file. A store that cannot be reached
/// throws ``ProctorError/Code/unavailable`` (503 at every door), naming it.
public protocol FileStore: Sendable {
    /// Where the files are, for messages and logs (`/data/files`, `s3://bucket/prefix at http://…`).
    var description: String { get }

    /// Stores the local file `source` under `key`; `source` may be moved away (the local store renames it), else it
    /// stays for the caller to delete.
    func put(_ key: String, from source: URL, size: Int) async throws

    /// Opens a stored file for reading; ``ProctorError/Code/notFound`` when it is not there.
    func open(_ key: String) async throws -> StoredContent

    /// Copies a stored file to the local file `destination` (for parsers that read files).
    func download(_ key: String, to destination: URL) async throws

    /// A local file holding the stored file, and whether it is a copy that the caller deletes.
    func localFile(_ key: String, temporary: @Sendable () throws -> URL) async throws -> (url: URL, isCopy: Bool)

    /// Deletes a stored file; deleting one that is not there is no error.
    func delete(_ key: String) async throws

    /// Writes bytes held in memory straight to their place when the store can (a local directory), saving the
    /// temporary file: false when the caller should write one and ``put(_:from:size:)`` it.
    func put(_ key: String, data: Data) async throws -> Bool
}

extension FileStore {
    public func put(_ key: String, data: Data) async throws -> Bool { false }

    public func localFile(_ key: String, temporary: @Sendable () throws -> URL) async throws -> (url: URL, isCopy: Bool)
    {
        let url = try temporary()
        do {
            try await download(key, to: url)
        } catch {
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        return (url, true)
    }
}

/// A stored file opened for reading: its size, then its bytes in chunks, each read only when the consumer asks for
/// it (so a slow client never makes the server buffer the file). Iterated once.
public struct StoredContent: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public let size: Int
    private let makeIterator: @Sendable () -> AsyncIterator

    public init(size: Int, makeIterator: @escaping @Sendable () -> AsyncIterator) {
        self.size = size
        self.makeIterator = makeIterator
    }

    public func makeAsyncIterator() -> AsyncIterator { makeIterator() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private let nextChunk: () async throws -> [UInt8]?

        /// - Parameter next: the next chunk, nil at the end.
        public init(next: @escaping () async throws -> [UInt8]?) { self.nextChunk = next }

        public mutating func next() async throws -> [UInt8]? { try await nextChunk() }
    }
}

/// Files in a local directory: the behaviour of a single server (and of replicas sharing one volume).
public struct LocalFileStore: FileStore {
    public let root: URL

    public init(root: URL) { self.root = root }

    public var description: String { root.path }

    func url(_ key: String) throws -> URL {
        guard !key.contains("..") else { throw ProctorError.notFound("the file has no content") }
        return root.appendingPathComponent(key)
    }

    public func put(_ key: String, from source: URL, size: Int) async throws {
        let destination = try url(key)
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try FileManager.default.moveItem(at: source, to: destination)
    }

    /// Creates the file (never over an existing one) and its folders only when they are missing: the usual upload
    /// makes no `mkdir` and no `stat`. A failed write leaves no partial file.
    public func put(_ key: String, data: Data) async throws -> Bool {
        #if canImport(Glibc)
            return try write(data, to: try url(key))
        #else
            return false
        #endif
    }

    #if canImport(Glibc)
        private func write(_ data: Data, to destination: URL) throws -> Bool {
            let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
            var descriptor = Glibc.open(destination.path, flags, 0o644)
            if descriptor < 0, errno == ENOENT {
                try FileManager.default.createDirectory(
                    at: destination.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                descriptor = Glibc.open(destination.path, flags, 0o644)
            }
            guard descriptor >= 0 else { throw Self.writeFailure(errno) }
            let failure: Int32? = data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        return written < 0 ? errno : EIO
                    }
                }
                return nil
            }
            let closed = Glibc.close(descriptor) == 0 ? nil : errno
            if let error = failure ?? closed {
                unlink(destination.path)
                throw Self.writeFailure(error)
            }
            return true
        }
    #endif

    /// A file that could not be written: a full disk answers 507 (Insufficient Storage), anything else is an error.
    static func writeFailure(_ code: Int32) -> ProctorError {
        let reason = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT {
            return ProctorError(.insufficientStorage, "no room left to store the file: \(reason)")
        }
        return ProctorError(.internal, "could not store the file: \(reason)")
    }

    public func open(_ key: String) async throws -> StoredContent {
        let url = try existing(key)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        return StoredContent(size: size) {
            var handle: FileHandle?
            return StoredContent.AsyncIterator {
                if handle == nil { handle = try FileHandle(forReadingFrom: url) }
                guard let chunk = try handle?.read(upToCount: 256 << 10), !chunk.isEmpty else {
                    try? handle?.close()
                    return nil
                }
                return Array(chunk)
            }
        }
    }

    public func download(_ key: String, to destination: URL) async throws {
        try FileManager.default.copyItem(at: try existing(key), to: destination)
    }

    /// The file itself: nothing is copied.
    public func localFile(_ key: String, temporary: @Sendable () throws -> URL) async throws -> (url: URL, isCopy: Bool)
    {
        (try existing(key), false)
    }

    public func delete(_ key: String) async throws {
        if let url = try? url(key) { try? FileManager.default.removeItem(at: url) }
    }

    private func existing(_ key: String) throws -> URL {
        let url = try url(key)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ProctorError.notFound("the file's content is gone")
        }
        return url
    }
}

/// How to reach an S3-compatible object store (`serve --file-store s3://bucket/prefix`); the store itself is built
/// by the assembly (ProctorHTTP), so that the core needs no HTTP client.
public struct ObjectStoreSettings: Sendable, Equatable {
    public var bucket: String
    /// A key prefix without leading or trailing slashes (empty: the bucket's root).
    public var prefix: String
    /// The service's base URL, e.g. `http://minio:9000` (path-style addressing: `<endpoint>/<bucket>/<key>`).
    public var endpoint: String
    public var region: String
    public var accessKey: String
    public var secretKey: String
    /// Files larger than this go up in parts of this size (S3 takes parts of 5 MiB at least).
    public var partSize: Int

    public init(
        bucket: String,
        prefix: String = "",
        endpoint: String,
        region: String = "us-east-1",
        accessKey: String,
        secretKey: String,
        partSize: Int = 16 << 20
    ) {
        self.bucket = bucket
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.partSize = partSize
    }

    /// Parses `s3://bucket/prefix`, the endpoint, region and credentials from the options given, else from the
    /// standard variables (`AWS_ENDPOINT_URL`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`). Throws a message naming what is missing.
    public static func parse(
        _ url: String,
        endpoint: String? = nil,
        region: String? = nil,
        accessKey: String? = nil,
        secretKey: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ObjectStoreSettings {
        guard url.hasPrefix("s3://") else {
            throw ProctorError.badRequest("the file store must be s3://bucket[/prefix], not \(url)")
        }
        let rest = url.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        guard !bucket.isEmpty else { throw ProctorError.badRequest("the file store \(url) names no bucket") }
        let prefix = String(rest.dropFirst(bucket.count))
        guard let endpoint = endpoint ?? environment["AWS_ENDPOINT_URL"], !endpoint.isEmpty else {
            throw ProctorError.badRequest("an S3 file store needs --s3-endpoint (or AWS_ENDPOINT_URL)")
        }
        guard let accessKey = accessKey ?? environment["AWS_ACCESS_KEY_ID"],
            let secretKey = secretKey ?? environment["AWS_SECRET_ACCESS_KEY"]
        else {
            throw ProctorError.badRequest(
                "an S3 file store needs credentials: --s3-access-key and --s3-secret-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        }
        return ObjectStoreSettings(
            bucket: bucket,
            prefix: prefix,
            endpoint: endpoint,
            region: region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1",
            accessKey: accessKey,
            secretKey: secretKey
        )
    }
}
