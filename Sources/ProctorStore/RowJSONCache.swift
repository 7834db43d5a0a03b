import ProctorCore
import Synchronization

/// The public JSON of rows a page wrote, kept for the next page that holds them (``SQLStore/listJSON(_:query:scope:)``).
///
/// An entry is valid for one version of its row: it is found by kind and id and used only while the row's `etag`
/// is the one it was written from. Every change of a row gives it a new random etag (``SQLStore/update(_:id:changes:ifMatch:scope:)``),
/// whoever made it: this process, another replica on the same database, a transaction that later rolled back. So
/// nothing is ever invalidated; a changed row simply misses and is written again, and an entry of a deleted row is
/// never asked for.
///
/// Bounded by bytes, as two generations of at most half the budget each: rows are kept in the newer one, a row
/// found in the older one moves to the newer, and when the newer is full the older is dropped and the newer takes
/// its place. What a page used lately stays; what no page asked for in a generation goes.
final class RowJSONCache: Sendable {
    struct Key: Hashable, Sendable {
        let kind: ResourceKind
        let id: String
    }

    struct Entry: Sendable, Equatable {
        /// The etag's UTF-8 bytes, compared in place with the row's.
        let etag: [UInt8]
        let json: [UInt8]

        /// What the entry holds, roughly, with its key.
        var bytes: Int { etag.count + json.count + 96 }
    }

    private struct Generation {
        var entries: [Key: Entry] = [:]
        var bytes = 0

        mutating func insert(_ entry: Entry, at key: Key) {
            if let old = entries.updateValue(entry, forKey: key) { bytes -= old.bytes }
            bytes += entry.bytes
        }
    }

    private struct State {
        var newer = Generation()
        var older = Generation()
    }

    /// The most the cached JSON may take, in bytes.
    let budget: Int
    private let state = Mutex(State())

    /// 32 MiB: some 30,000 runs of a kilobyte each, the rows a lab's dashboards and clients keep paging through.
    static let defaultBudget = 32 << 20

    init(budget: Int = RowJSONCache.defaultBudget) {
        self.budget = budget
    }

    /// The entry of a row, whatever its etag (the caller compares it with the row's).
    func entry(_ kind: ResourceKind, id: String) -> Entry? {
        let key = Key(kind: kind, id: id)
        return state.withLock { state in
            if let entry = state.newer.entries[key] { return entry }
            guard let entry = state.older.entries.removeValue(forKey: key) else { return nil }
            state.older.bytes -= entry.bytes
            Self.keep(entry, at: key, in: &state, budget: budget)
            return entry
        }
    }

    /// Keeps the JSON written for these rows, each valid while its row has the etag it was written from.
    func keep(_ kind: ResourceKind, _ rows: [(id: String, etag: String, json: [UInt8])]) {
        state.withLock { state in
            for row in rows {
                let entry = Entry(etag: Array(row.etag.utf8), json: row.json)
                // A row larger than a generation is never kept.
                guard entry.bytes <= budget / 2 else { continue }
                Self.keep(entry, at: Key(kind: kind, id: row.id), in: &state, budget: budget)
            }
        }
    }

    private static func keep(_ entry: Entry, at key: Key, in state: inout State, budget: Int) {
        if state.newer.bytes + entry.bytes > budget / 2 {
            state.older = state.newer
            state.newer = Generation()
        }
        if let old = state.older.entries.removeValue(forKey: key) { state.older.bytes -= old.bytes }
        state.newer.insert(entry, at: key)
    }

    /// How many rows and bytes the cache holds now.
    var usage: (rows: Int, bytes: Int) {
        state.withLock { ($0.newer.entries.count + $0.older.entries.count, $0.newer.bytes + $0.older.bytes) }
    }
}
