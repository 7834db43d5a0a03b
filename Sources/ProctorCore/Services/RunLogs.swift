import Foundation
import ProctorStoreWriting

/// A run's console: ordered chunks stored as they arrive, read back by byte or line range, followed live,
/// and summarised into error and warning lines (KernelCI's log summaries).
///
/// Every chunk records its byte offset and first line number, so a range read touches only the chunks it
/// needs, and an executor that retries an append after a network failure cannot duplicate output.
public struct RunLogs: Sendable {
    public let store: any Store
    public let events: EventHub
    /// The largest chunk accepted in one append.
    public static let maxChunkBytes = 1 << 20

    public init(store: any Store, events: EventHub) {
        self.store = store
        self.events = events
    }

    /// Where the log ends.
    public struct End: Sendable, Equatable {
        public var bytes: Int64
        public var lines: Int64
    }

    public func end(runID: String) async throws -> End {
        let page = try await store.page(
            LogChunk.self,
            query: Query(filter: .equal("run_id", runID), sort: [SortKey("offset", descending: true)], limit: 1),
            scope: .everything
        )
        guard let last = page.items.first else { return End(bytes: 0, lines: 0) }
        return End(
            bytes: last.offset + Int64(last.content.utf8.count),
            lines: last.firstLine + last.lineCount
        )
    }

    /// Appends text at the end of the log. With `offset`, the append is idempotent: an offset already
    /// stored is ignored, one past the end is a conflict naming the expected offset.
    @discardableResult
    public func append(runID: String, groupID: String, text: String, offset: Int64? = nil) async throws -> End {
        guard text.utf8.count <= Self.maxChunkBytes else {
            throw ProctorError(.tooLarge, "a log chunk is at most \(Self.maxChunkBytes) bytes")
        }
        let result: End = try await store.transaction { store in
            let logs = RunLogs(store: store, events: events)
            let end = try await logs.end(runID: runID)
            if let offset {
                if offset < end.bytes { return end }
                if offset > end.bytes {
                    throw ProctorError(.conflict, "the log ends at byte \(end.bytes), not \(offset)", field: "offset")
                }
            }
            if text.isEmpty { return end }
            let lines = Int64(text.utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 })
            _ = try await store.insert(
                LogChunk([
                    .groupID: .string(groupID), .runID: .string(runID), .offset: .int(end.bytes),
                    .firstLine: .int(end.lines), .lineCount: .int(lines), .content: .string(text),
                ]).record
            )
            return End(bytes: end.bytes + Int64(text.utf8.count), lines: end.lines + lines)
        }
        await events.publish(.logs)
        return result
    }

    /// A slice of the log.
    public struct Slice: Sendable {
        public var text: String
        /// Byte offset of the first byte returned.
        public var start: Int64
        /// Byte offset just past the last byte returned: where a follower resumes.
        public var next: Int64
        /// Byte offset where the log ends now.
        public var end: Int64
    }

    /// Bytes `[from, from + maxBytes)`, cut back to a whole UTF-8 character.
    public func read(runID: String, from: Int64, maxBytes: Int = 1 << 20) async throws -> Slice {
        let end = try await end(runID: runID)
        let start = max(0, min(from, end.bytes))
        let limit = start + Int64(maxBytes)
        var bytes: [UInt8] = []
        // The chunk holding `start`, then the ones after it.
        let first = try await store.page(
            LogChunk.self,
            query: Query(
                filter: .equal("run_id", runID) && .predicate(Condition("offset", .lessOrEqual, String(start))),
                sort: [SortKey("offset", descending: true)],
                limit: 1
            ),
            scope: .everything
        ).items
        var chunks = first
        var cursor: String?
        var fetchedFollowing = false
        while true {
            for chunk in chunks {
                let offset = chunk.offset
                let content = Array(chunk.content.utf8)
                let lower = max(0, Int(start - offset))
                let upper = min(content.count, Int(limit - offset))
                if lower < upper { bytes.append(contentsOf: content[lower..<upper]) }
            }
            if start + Int64(bytes.count) >= min(limit, end.bytes) || (fetchedFollowing && cursor == nil) { break }
            let page = try await store.page(
                LogChunk.self,
                query: Query(
                    filter: .equal("run_id", runID) && .predicate(Condition("offset", .greater, String(start))),
                    sort: [SortKey("offset")],
                    limit: 200,
                    cursor: cursor
                ),
                scope: .everything
            )
            fetchedFollowing = true
            cursor = page.nextCursor
            chunks = page.items
            if chunks.isEmpty { break }
        }
        // Never split a character: drop a trailing partial UTF-8 sequence.
        if let partial = Self.incompleteTail(bytes) { bytes.removeLast(partial) }
        return Slice(
            text: String(decoding: bytes, as: UTF8.self),
            start: start,
            next: start + Int64(bytes.count),
            end: end.bytes
        )
    }

    /// Lines `[from, from + count)` (0-based), without their line breaks.
    public func lines(runID: String, from: Int64, count: Int) async throws -> [String] {
        guard count > 0 else { return [] }
        let first = try await store.page(
            LogChunk.self,
            query: Query(
                filter: .equal("run_id", runID) && .predicate(Condition("first_line", .lessOrEqual, String(from))),
                sort: [SortKey("offset", descending: true)],
                limit: 1
            ),
            scope: .everything
        ).items
        var text = first.first?.content ?? ""
        var firstLine = first.first?.firstLine ?? 0
        if first.isEmpty { firstLine = 0 }
        var cursor: String?
        let floor = first.first?.offset ?? -1
        while true {
            let wanted = from + Int64(count) - firstLine
            if Int64(text.utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }) >= wanted { break }
            let page = try await store.page(
                LogChunk.self,
                query: Query(
                    filter: .equal("run_id", runID) && .predicate(Condition("offset", .greater, String(floor))),
                    sort: [SortKey("offset")],
                    limit: 100,
                    cursor: cursor
                ),
                scope: .everything
            )
            for chunk in page.items { text += chunk.content }
            cursor = page.nextCursor
            if cursor == nil { break }
        }
        var all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if all.last == "" { all.removeLast() }
        let skip = Int(from - firstLine)
        guard skip < all.count else { return [] }
        return Array(all[max(0, skip)..<min(all.count, max(0, skip) + count)])
    }

    /// Error and warning lines with how often each occurs, most frequent first: `[(count, line)]`.
    public func summary(runID: String, maxBytes: Int64 = 64 << 20) async throws -> (
        errors: [(Int, String)], warnings: [(Int, String)]
    ) {
        var errors: [String: Int] = [:]
        var warnings: [String: Int] = [:]
        var order: [String: Int] = [:]
        var cursor: String?
        var read: Int64 = 0
        var carry = ""
        repeat {
            let page = try await store.page(
                LogChunk.self,
                query: Query(filter: .equal("run_id", runID), sort: [SortKey("offset")], limit: 200, cursor: cursor),
                scope: .everything
            )
            for chunk in page.items {
                let content = carry + chunk.content
                read += Int64(content.utf8.count)
                var parts = content.split(separator: "\n", omittingEmptySubsequences: false)
                carry = String(parts.removeLast())
                for part in parts { Self.classify(String(part), &errors, &warnings, &order) }
            }
            cursor = page.nextCursor
        } while cursor != nil && read < maxBytes
        if !carry.isEmpty { Self.classify(carry, &errors, &warnings, &order) }
        func sorted(_ counts: [String: Int]) -> [(Int, String)] {
            counts.map { ($0.value, $0.key) }.sorted {
                $0.0 != $1.0 ? $0.0 > $1.0 : (order[$0.1] ?? 0) < (order[$1.1] ?? 0)
            }
        }
        return (sorted(errors), sorted(warnings))
    }

    /// The length of an unfinished UTF-8 sequence at the end of `bytes`, if there is one.
    public static func incompleteTail(_ bytes: [UInt8]) -> Int? {
        var index = bytes.count - 1
        while index >= 0 && bytes.count - index < 4 && bytes[index] & 0xC0 == 0x80 { index -= 1 }
        guard index >= 0 else { return nil }
        let lead = bytes[index]
        let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        let have = bytes.count - index
        return have < needed ? have : nil
    }

    private static func classify(
        _ raw: String,
        _ errors: inout [String: Int],
        _ warnings: inout [String: Int],
        _ order: inout [String: Int]
    ) {
        let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !line.isEmpty else { return }
        let lower = line.lowercased()
        if lower.contains("error") || lower.contains("fatal") || lower.hasPrefix("failed")
            || lower.contains("traceback")
        {
            errors[line, default: 0] += 1
        } else if lower.contains("warning") || lower.hasPrefix("warn") {
            warnings[line, default: 0] += 1
        } else {
            return
        }
        if order[line] == nil { order[line] = order.count }
    }
}
