import Foundation
import ProctorCore
import Synchronization

/// Keyset continuations for pages asked by offset: where the store has recently served a page of the same
/// query, it knows the sort values of the row at some position, and a page further on is read as "after those
/// values, skip the rest" instead of skipping every row from the start.
///
/// Why: the doors page by offset (DCI's `offset`, KernelCI's `skip`, XPRESSO's `page`), and an offset costs
/// every row it skips: 100,000 rows deep, 0.7–1 s on PostgreSQL. A client walking a listing page by page
/// makes each page start where the one before ended; with the anchor that page left, the next is a keyset
/// read, as cheap as the first page.
///
/// An anchor is the sort values (``SQLCompiler/sortKeys(_:)``, which always end with `seq`, so the order is total)
/// of the row at one 0-based position of one query (kind, filter, sort, time window, scope). It stands only as
/// long as the rows it counted stand: every write of its kind through this store (and every write that may
/// cascade, every transaction's commit, every change another replica announces on PostgreSQL's feed) drops the
/// kind's anchors, an anchor is read only under the generation it was recorded in, and it lives at most
/// ``lifetime``, which bounds what a change the store cannot see (another process writing the same SQLite
/// file) can shift.
final class PageAnchors: Sendable {
    struct Entry {
        var kind: ResourceKind
        var generation: UInt64
        /// Position → the sort values of the row there, with when each was recorded.
        var anchors: [Int: (values: [Value], at: ContinuousClock.Instant)]
        var used: ContinuousClock.Instant
    }

    struct State {
        var generations: [ResourceKind: UInt64] = [:]
        /// Every invalidation so far.
        var writes: UInt64 = 0
        var entries: [String: Entry] = [:]
    }

    static let lifetime: Duration = .seconds(60)
    static let maxQueries = 512
    static let maxAnchorsPerQuery = 64

    private let state = Mutex(State())

    /// The kind's generation: read before a page's query, and given back with what it found to ``record``.
    func generation(_ kind: ResourceKind) -> UInt64 {
        state.withLock { $0.generations[kind] ?? 0 }
    }

    /// The anchor nearest before `position` (at most `position`) of the query, recorded in the kind's current
    /// generation within ``lifetime``.
    func anchor(_ signature: String, kind: ResourceKind, atOrBefore position: Int) -> (position: Int, values: [Value])?
    {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard var entry = state.entries[signature], entry.kind == kind,
                entry.generation == state.generations[kind] ?? 0
            else { return nil }
            var best: (position: Int, values: [Value])?
            for (at, anchor) in entry.anchors where at <= position && now - anchor.at < Self.lifetime {
                if best.map({ at > $0.position }) ?? true { best = (at, anchor.values) }
            }
            if best != nil {
                entry.used = now
                state.entries[signature] = entry
            }
            return best
        }
    }

    /// Remembers the sort values of rows at their positions, found under `generation`.
    func record(
        _ signature: String,
        kind: ResourceKind,
        generation: UInt64,
        _ found: [(position: Int, values: [Value])]
    ) {
        guard !found.isEmpty else { return }
        let now = ContinuousClock.now
        state.withLock { state in
            guard generation == state.generations[kind] ?? 0 else { return }
            var entry = state.entries[signature] ?? Entry(kind: kind, generation: generation, anchors: [:], used: now)
            if entry.generation != generation || entry.kind != kind {
                entry = Entry(kind: kind, generation: generation, anchors: [:], used: now)
            }
            for (position, values) in found { entry.anchors[position] = (values, now) }
            if entry.anchors.count > Self.maxAnchorsPerQuery,
                let oldest = entry.anchors.min(by: { $0.value.at < $1.value.at })?.key
            {
                entry.anchors[oldest] = nil
            }
            entry.used = now
            state.entries[signature] = entry
            if state.entries.count > Self.maxQueries {
                // Entries of a past generation first, then the least recently used.
                state.entries = state.entries.filter { $0.value.generation == state.generations[$0.value.kind] ?? 0 }
                if state.entries.count > Self.maxQueries,
                    let stale = state.entries.min(by: { $0.value.used < $1.value.used })?.key
                {
                    state.entries[stale] = nil
                }
            }
        }
    }

    /// Drops the anchors of `kind`: its rows changed.
    func invalidate(_ kind: ResourceKind) {
        state.withLock { state in
            state.generations[kind, default: 0] &+= 1
            state.writes &+= 1
        }
    }

    /// How many invalidations there have been: a transaction compares it before and after.
    var writes: UInt64 { state.withLock { $0.writes } }

    /// Drops every anchor: any rows may have changed (a cascade, a transaction's commit, another replica).
    func invalidateAll() {
        state.withLock { state in
            for kind in ResourceKind.allCases { state.generations[kind, default: 0] &+= 1 }
            state.writes &+= 1
            state.entries.removeAll()
        }
    }

    /// The identity of a listing for its anchors: everything that decides which rows it has and in what order.
    static func signature(_ kind: ResourceKind, query: Query, keys: [SortKey], scope: Scope) -> String {
        var text = kind.rawValue
        for key in keys { text += (key.descending ? " -" : " +") + key.field }
        if let filter = query.filter {
            text += " ?"
            append(filter, to: &text)
        }
        if let window = query.window {
            text += " @\(window.field) \(window.from.map(String.init) ?? "") \(window.to.map(String.init) ?? "")"
        }
        if let groups = scope.groupIDs {
            text += " in"
            append(groups, to: &text)
        }
        return text
    }

    /// Each string prefixed with its length, so that no value can pass for two and the text stays unambiguous
    /// (`String(reflecting:)` said the same at a twentieth of a page's CPU for a fifty-id `IN`).
    private static func append(_ values: [String], to text: inout String) {
        text += "["
        for value in values {
            text += String(value.utf8.count)
            text += ":"
            text += value
        }
        text += "]"
    }

    private static func append(_ filter: Filter, to text: inout String) {
        switch filter {
        case .and(let parts), .or(let parts):
            if case .and = filter { text += "and(" } else { text += "or(" }
            for part in parts {
                append(part, to: &text)
                text += ","
            }
            text += ")"
        case .not(let inner):
            text += "not("
            append(inner, to: &text)
            text += ")"
        case .predicate(let condition):
            text += condition.field + " " + condition.op.rawValue + " "
            append(condition.values, to: &text)
        case .related(let field, let kind, let inner):
            text += "related(" + field + " " + kind.rawValue + " "
            append(inner, to: &text)
            text += ")"
        }
    }
}

extension SQLStore {
    /// Forgets every keyset anchor, so that the next pages asked by offset are read from the start of their order,
    /// as a store without anchors reads them (benchmarks: `proctor-bench --deep-pages`).
    public func forgetPageAnchors() {
        anchors.invalidateAll()
    }
}
