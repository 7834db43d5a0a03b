/// A lab document cut into batches that each fit under a server's body limit (`proctor apply` of a big lab).
///
/// The items keep ``LabApplier/sections``' order (groups, users, tokens, …, definitions, bundles) and their order
/// within a section, and a batch is a run of consecutive items: a batch applied after the ones before it finds
/// every resource they name by reference (a user's groups, a profile's engine, a bundle's profiles) already in
/// the store. A definition travels with its profiles and a user with its memberships: an item is never split.
///
/// Each batch is applied in its own transaction, so a failing batch leaves the batches before it applied; applying
/// the same lab again is safe, since an unchanged item is left as it is.
public struct LabBatches: Sendable {
    /// One item of a section: its place in the document and its size as JSON.
    public struct Item: Sendable {
        public var section: String
        public var index: Int
        public var value: JSONValue
        public var bytes: Int
    }

    /// The items in the order they are applied.
    public let items: [Item]

    /// Reads the sections of a lab document; refuses what ``LabApplier/apply(_:)`` refuses about its shape (an
    /// unknown section, a section that is not a list). `jobs` is read as `definitions` when that is absent.
    public init(_ document: JSONValue) throws {
        guard case .object(let root) = document else {
            throw ProctorError.badRequest("a lab document is a mapping of sections (groups, users, ...)")
        }
        let known = Set(LabApplier.sections.map(\.key)).union(["jobs"])
        for key in root.keys.sorted() where !known.contains(key) {
            throw ProctorError.unknownField(key, valid: LabApplier.sections.map(\.key), role: "section")
        }
        var items: [Item] = []
        for (key, _) in LabApplier.sections {
            guard let section = key == "definitions" ? (root[key] ?? root["jobs"]) : root[key] else { continue }
            guard case .array(let list) = section else {
                throw ProctorError.badRequest("section '\(key)' must be a list", field: key)
            }
            for (index, value) in list.enumerated() {
                items.append(Item(section: key, index: index, value: value, bytes: value.encodedBytes().count))
            }
        }
        self.items = items
    }

    /// The items from `start` on that one batch takes: as many as fit in `maxBytes` of JSON, `maxItems` at most.
    /// Throws when the item at `start` alone is larger than `maxBytes`.
    public func batch(from start: Int, maxBytes: Int, maxItems: Int = .max) throws -> Range<Int> {
        var end = start
        var sections: Set<String> = []
        var bytes = 2  // {}
        while end < items.count, end - start < maxItems {
            let item = items[end]
            // `"key":[`, `]` and a comma before the section; the item and a comma before it.
            var grown = bytes + item.bytes + 1
            if !sections.contains(item.section) { grown += item.section.utf8.count + 6 }
            if grown > maxBytes {
                guard end > start else {
                    throw ProctorError(
                        .tooLarge,
                        "\(item.section)[\(item.index)] alone is \(item.bytes) bytes of JSON, more than the \(maxBytes) bytes a request may carry"
                    )
                }
                break
            }
            bytes = grown
            sections.insert(item.section)
            end += 1
        }
        return start..<end
    }

    /// Every batch from `start` on, in order (see ``batch(from:maxBytes:maxItems:)``).
    public func batches(from start: Int = 0, maxBytes: Int, maxItems: Int = .max) throws -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var next = start
        while next < items.count {
            let range = try batch(from: next, maxBytes: maxBytes, maxItems: maxItems)
            ranges.append(range)
            next = range.upperBound
        }
        return ranges
    }

    /// The lab document of a batch: its items under their sections.
    public func document(_ range: Range<Int>) -> JSONValue {
        var sections: [String: [JSONValue]] = [:]
        for item in items[range] { sections[item.section, default: []].append(item.value) }
        return .object(sections.mapValues { .array($0) })
    }

    /// A message about an item of a batch (`definitions[3]: …`, counted within the batch) said of the same item
    /// in the whole document (`definitions[1203]: …`).
    public func locating(_ message: String, in range: Range<Int>) -> String {
        for (key, _) in LabApplier.sections {
            let prefix = key + "["
            guard message.hasPrefix(prefix), let close = message.firstIndex(of: "]"),
                let index = Int(message[message.index(message.startIndex, offsetBy: prefix.count)..<close])
            else { continue }
            let section = items[range].filter { $0.section == key }
            guard index >= 0, index < section.count else { return message }
            return "\(key)[\(section[index].index)]" + message[message.index(after: close)...]
        }
        return message
    }
}
