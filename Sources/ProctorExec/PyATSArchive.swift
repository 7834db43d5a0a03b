import CompressNIO
import Foundation
import NIOCore
import ProctorCore

/// Reads pyATS's `results.json` out of the zip archive a `pyats run job` leaves.
///
/// pyATS moves everything a job wrote (results.json, TaskLog, reports) into one zip and empties its runinfo
/// directory, so the results of a run are only in the archive. Only what Python's `zipfile` writes is read:
/// stored or deflated entries, no encryption, no ZIP64; anything else is a clear error, never a crash.
enum PyATSArchive {
    /// What the pyATS harness names the archive (`--archive-name`), in the run's `archive/` folder.
    static let fileName = "pyats-archive.zip"

    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }

    /// The zip local-file signature `PK\u{3}\u{4}`, which every archive begins with.
    static func isArchive(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data([0x50, 0x4B, 0x03, 0x04])
    }

    /// Writes the archive's `results.json` (the one nearest the archive's root) to `destination`.
    ///
    /// - Parameter maxBytes: the largest results.json accepted, uncompressed (the server's file limit).
    static func extractResults(from archive: URL, to destination: URL, maxBytes: Int) throws {
        let handle = try FileHandle(forReadingFrom: archive)
        defer { try? handle.close() }
        let entry = try resultsEntry(in: handle)
        guard entry.size <= maxBytes else {
            throw Unreadable(description: "results.json in the archive is \(entry.size) bytes, over \(maxBytes)")
        }
        try handle.seek(toOffset: entry.localHeaderOffset)
        let header = try read(handle, count: 30)
        guard header.uint32(at: 0) == 0x0403_4B50 else { throw Unreadable(description: "corrupt zip local header") }
        let dataOffset = entry.localHeaderOffset + 30 + UInt64(header.uint16(at: 26)) + UInt64(header.uint16(at: 28))
        try handle.seek(toOffset: dataOffset)
        let compressed = try read(handle, count: entry.compressedSize)
        let contents: Data
        switch entry.method {
        case 0:
            contents = compressed
        case 8:
            var input = ByteBuffer(bytes: compressed)
            var output = ByteBufferAllocator().buffer(capacity: max(entry.size, 1))
            do {
                try input.decompress(to: &output, with: .deflate())
            } catch {
                throw Unreadable(description: "results.json in the archive does not inflate: \(error)")
            }
            contents = Data(output.readableBytesView)
        default:
            throw Unreadable(
                description: "results.json is compressed with zip method \(entry.method), not stored or deflate"
            )
        }
        guard contents.count == entry.size else {
            throw Unreadable(
                description: "results.json in the archive is \(contents.count) bytes, its directory says \(entry.size)"
            )
        }
        try contents.write(to: destination)
    }

    private struct Entry {
        var method: UInt16
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: UInt64
    }

    /// Finds results.json in the central directory, which the end-of-central-directory record (within the last
    /// 64 KiB + 22 bytes, after the archive's comment) locates.
    private static func resultsEntry(in handle: FileHandle) throws -> Entry {
        let fileSize = try handle.seekToEnd()
        let tailLength = min(fileSize, 22 + 0xFFFF)
        try handle.seek(toOffset: fileSize - tailLength)
        let tail = try read(handle, count: Int(tailLength))
        guard tail.count >= 22,
            let end = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
                tail.uint32(at: $0) == 0x0605_4B50
            })
        else { throw Unreadable(description: "not a zip archive (no end of central directory)") }
        let count = Int(tail.uint16(at: end + 10))
        let directorySize = Int(tail.uint32(at: end + 12))
        let directoryOffset = UInt64(tail.uint32(at: end + 16))
        guard directoryOffset != 0xFFFF_FFFF, directoryOffset + UInt64(directorySize) <= fileSize else {
            throw Unreadable(description: "unsupported zip archive (ZIP64 or corrupt directory)")
        }
        try handle.seek(toOffset: directoryOffset)
        let directory = try read(handle, count: directorySize)
        var best: (depth: Int, entry: Entry)?
        var position = 0
        for _ in 0..<count {
            guard position + 46 <= directory.count, directory.uint32(at: position) == 0x0201_4B50 else {
                throw Unreadable(description: "corrupt zip central directory")
            }
            let nameLength = Int(directory.uint16(at: position + 28))
            let extraLength = Int(directory.uint16(at: position + 30))
            let commentLength = Int(directory.uint16(at: position + 32))
            guard position + 46 + nameLength <= directory.count else {
                throw Unreadable(description: "corrupt zip central directory")
            }
            let start = directory.startIndex + position + 46
            let name = String(decoding: directory[start..<start + nameLength], as: UTF8.self)
            if name == "results.json" || name.hasSuffix("/results.json") {
                let depth = name.split(separator: "/").count
                if best == nil || depth < best!.depth {
                    let entry = Entry(
                        method: directory.uint16(at: position + 10),
                        compressedSize: Int(directory.uint32(at: position + 20)),
                        size: Int(directory.uint32(at: position + 24)),
                        localHeaderOffset: UInt64(directory.uint32(at: position + 42))
                    )
                    best = (depth, entry)
                }
            }
            position += 46 + nameLength + extraLength + commentLength
        }
        guard let best else { throw Unreadable(description: "the pyATS archive holds no results.json") }
        return best.entry
    }

    private static func read(_ handle: FileHandle, count: Int) throws -> Data {
        let data = try handle.read(upToCount: count) ?? Data()
        guard data.count == count else { throw Unreadable(description: "truncated zip archive") }
        return data
    }
}

extension Data {
    /// A little-endian integer at `offset` from the start, as zip stores them.
    fileprivate func uint16(at offset: Int) -> UInt16 {
        UInt16(self[startIndex + offset]) | UInt16(self[startIndex + offset + 1]) << 8
    }

    fileprivate func uint32(at offset: Int) -> UInt32 {
        UInt32(uint16(at: offset)) | UInt32(uint16(at: offset + 2)) << 16
    }
}
