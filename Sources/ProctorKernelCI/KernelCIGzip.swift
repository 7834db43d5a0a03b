import CompressNIO
import NIOCore
import ProctorHTTPKit

/// The gzip coding of KernelCI's responses, by zlib (compress-nio) at Tornado's settings: level 6, and only for
/// bodies of at least ``minimumLength`` bytes.
///
/// The original's unbounded listings were 140 MB of JSON and 4.5 MB gzipped; docs/kernelci.md has Proctor's figures.
/// A short body is sent as it is, as Tornado sends it: gzip's 18 bytes of header and trailer made a 53-byte
/// answer 70 bytes.
enum KernelCIGzip {
    /// Tornado's `GZipContentEncoding.MIN_LENGTH`: shorter bodies are not compressed.
    static let minimumLength = 1024

    /// Tornado's `GZipContentEncoding.GZIP_LEVEL`.
    static let level = ZlibConfiguration(compressionLevel: 6)

    /// One gzip member (RFC 1952) holding `bytes`, or nil if zlib failed (the caller then sends them as they are).
    static func compress(_ bytes: [UInt8]) -> [UInt8]? {
        var input = ByteBuffer(bytes: bytes)
        guard let output = try? input.compress(with: .gzip(configuration: level)) else { return nil }
        return Array(output.readableBytesView)
    }
}
