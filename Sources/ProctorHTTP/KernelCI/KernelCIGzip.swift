#if canImport(CompressNIO)
import CompressNIO
import NIOCore
#endif

/// The gzip coding of KernelCI's responses (the original's unbounded listings were 140 MB of JSON, 4.5 MB
/// gzipped).
///
/// With the `compress-nio` package (zlib) in the build, responses are deflated by zlib. Without it they are
/// still valid gzip streams, made of stored (uncompressed) deflate blocks, so that clients that ask for gzip
/// always get it and decode it; only the size gain is missing.
enum KernelCIGzip {
    static func compress(_ bytes: [UInt8]) -> [UInt8] {
        #if canImport(CompressNIO)
        var input = ByteBuffer(bytes: bytes)
        if let output = try? input.compress(with: .gzip()) { return Array(output.readableBytesView) }
        #endif
        return stored(bytes)
    }

    /// A gzip member (RFC 1952) whose deflate data (RFC 1951) is stored blocks of at most 65,535 bytes.
    static func stored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
        out.reserveCapacity(bytes.count + bytes.count / 65_535 * 5 + 23)
        var start = 0
        repeat {
            let end = min(bytes.count, start + 65_535)
            let length = UInt16(end - start)
            out.append(end == bytes.count ? 1 : 0)
            out.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff), UInt8(~length >> 8)])
            out.append(contentsOf: bytes[start..<end])
            start = end
        } while start < bytes.count
        appendLittleEndian(crc32(bytes), to: &out)
        appendLittleEndian(UInt32(truncatingIfNeeded: bytes.count), to: &out)
        return out
    }

    private static func appendLittleEndian(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var c = UInt32(index)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (IEEE 802.3), as gzip's trailer needs it.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xffff_ffff
    }
}
