import Foundation

/// JSON text to and from ``JSONValue`` without Codable.
///
/// Every stored JSON column and every request body passes through here, so it works on UTF-8 bytes directly:
/// the Codable path (`JSONDecoder` probing each type with `try?`) cost more than the SQL it fed.
package enum JSONText {
    /// Nesting beyond this is refused rather than risking the stack on hostile input.
    static let maxDepth = 512

    struct Malformed: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    // MARK: writing

    /// Appends the value's compact, key-sorted JSON to `out` (bytes: cheaper to grow than a String).
    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: nullBytes)
        case .bool(let b): out.append(contentsOf: b ? trueBytes : falseBytes)
        case .number(let n): writeNumber(n, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // Sorted by UTF-8 bytes, as JSONEncoder's .sortedKeys orders them.
            // (Sorting the keys alone: moving (key, value) pairs retains and releases at every swap.)
            for (index, key) in members.keys.sorted(by: utf8Precedes).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(members[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Whether `a` comes before `b` in the byte order of their UTF-8 forms: memcmp over the strings' own storage
    /// where they have one, instead of the generic element-by-element sequence comparison.
    package static func utf8Precedes(_ a: String, _ b: String) -> Bool {
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                let common = min(x.count, y.count)
                if common > 0, let left = x.baseAddress, let right = y.baseAddress {
                    let order = memcmp(left, right, common)
                    if order != 0 { return order < 0 }
                }
                return x.count < y.count
            }
        }
        if let fast, let answer = fast { return answer }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// `"key":` for a key known in advance (a schema's field), to append without escaping it again.
    package static func memberPrefix(_ key: String) -> [UInt8] {
        var out: [UInt8] = []
        writeString(key, into: &out)
        out.append(UInt8(ascii: ":"))
        return out
    }

    package static let nullBytes = Array("null".utf8)
    package static let trueBytes = Array("true".utf8)
    package static let falseBytes = Array("false".utf8)
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends an integer's decimal digits (what `String(n)` spells), without making the string.
    static func writeInteger(_ n: Int64, into out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = n.magnitude
        guard magnitude >= 10 else { return out.append(UInt8(ascii: "0") &+ UInt8(magnitude)) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 20 digits, written backwards
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                count += 1
                buffer[24 - count] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
                magnitude /= 10
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    private static func writeNumber(_ n: Double, into out: inout [UInt8]) {
        guard n.isFinite else { out.append(contentsOf: nullBytes); return }
        if n.rounded() == n, abs(n) < 9.0e15 {
            writeInteger(Int64(n), into: &out)
        } else {
            out.append(contentsOf: n.description.utf8)
        }
    }

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        let copied: Void? = s.utf8.withContiguousStorageIfAvailable { writeString(utf8: $0, into: &out) }
        if copied == nil {
            out.append(UInt8(ascii: "\""))
            for byte in s.utf8 { writeEscaped(byte, into: &out) }
            out.append(UInt8(ascii: "\""))
        }
    }

    /// A string given as its UTF-8 bytes, quoted and escaped. Most strings (ids, names, times) need no escape: they
    /// are checked eight bytes at a time, and the runs between escapes are copied in bulk.
    static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        guard let base = bytes.baseAddress else { return out.append(UInt8(ascii: "\"")) }
        let count = bytes.count
        var runStart = 0
        var index = 0
        while index < count {
            while index + 8 <= count,
                !mayNeedEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            {
                index += 8
            }
            // Byte by byte through the word that holds an escape (or the tail).
            let end = min(index + 8, count)
            while index < end {
                let byte = base[index]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
                    writeEscaped(byte, into: &out)
                    runStart = index + 1
                }
                index += 1
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: count - runStart))
        out.append(UInt8(ascii: "\""))
    }

    /// Whether any of the eight bytes is below 0x20, a quote or a backslash (exact: the classic "has a zero byte"
    /// and "has a byte less than n" tests).
    @inline(__always)
    static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let hasControl = (word &- ones &* 0x20) & ~word & highs != 0
        return hasControl || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
    }

    /// One byte of a string's UTF-8, escaped if JSON needs it.
    @inline(__always)
    private static func writeEscaped(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
        case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
        case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
        case 0..<0x20:
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xF)])
        default: out.append(byte)
        }
    }

    // MARK: reading

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.position == bytes.count else { throw reader.fail("unexpected text after the value") }
        return value
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func fail(_ reason: String) -> Malformed { Malformed(offset: position, reason: reason) }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x0A, 0x0D, 0x09: position += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: StaticString, _ value: JSONValue) throws -> JSONValue {
            let count = literal.utf8CodeUnitCount
            guard position + count <= bytes.count else { throw fail("truncated literal") }
            for index in 0..<count where bytes[position + index] != literal.utf8Start[index] {
                throw fail("unknown literal")
            }
            position += count
            return value
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < JSONText.maxDepth else { throw fail("nested deeper than \(JSONText.maxDepth) levels") }
            guard let byte = current else { throw fail("unexpected end of input") }
            switch byte {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("unexpected character")
            }
        }

        mutating func object(depth: Int) throws -> JSONValue {
            position += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw fail("expected a key in quotes") }
                let key = try string()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
                position += 1
                skipWhitespace()
                members[key] = try value(depth: depth + 1)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"): position += 1; return .object(members)
                default: throw fail("expected ',' or '}' in an object")
                }
            }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            position += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"): position += 1; return .array(items)
                default: throw fail("expected ',' or ']' in an array")
                }
            }
        }

        mutating func number() throws -> Double {
            let start = position
            if current == UInt8(ascii: "-") { position += 1 }
            guard let first = current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else {
                throw fail("expected a digit")
            }
            if first == UInt8(ascii: "0") { position += 1 } else { skipDigits() }
            if current == UInt8(ascii: ".") {
                position += 1
                guard try skipDigitsRequired() else { throw fail("expected a digit after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard try skipDigitsRequired() else { throw fail("expected a digit in the exponent") }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let number = Double(text) else { throw fail("number out of range") }
            return number
        }

        mutating func skipDigits() {
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { position += 1 }
        }

        mutating func skipDigitsRequired() throws -> Bool {
            let start = position
            skipDigits()
            return position > start
        }

        mutating func string() throws -> String {
            position += 1
            let start = position
            // Fast path: no escapes, one copy; eight bytes at a time while none ends the string or needs a look.
            while position + 8 <= bytes.count,
                !JSONText.mayNeedEscape(bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            {
                position += 8
            }
            while let byte = current {
                if byte == UInt8(ascii: "\"") {
                    let text = try validated(start..<position)
                    position += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw fail("control character in a string") }
                position += 1
            }
            var out = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
            while let byte = current {
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
                    return text
                case UInt8(ascii: "\\"):
                    guard let escape = current else { throw fail("unterminated escape") }
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard current == UInt8(ascii: "\\"), position + 1 < bytes.count,
                                bytes[position + 1] == UInt8(ascii: "u")
                            else { throw fail("unpaired surrogate") }
                            position += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw fail("unpaired surrogate")
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                        out.append(contentsOf: Array(String(Character(unicode)).utf8))
                    default: throw fail("unknown escape")
                    }
                default:
                    if byte < 0x20 { throw fail("control character in a string") }
                    out.append(byte)
                }
            }
            throw fail("unterminated string")
        }

        func validated(_ range: Range<Int>) throws -> String {
            guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) else {
                throw fail("invalid UTF-8")
            }
            return text
        }

        mutating func hex4() throws -> UInt32 {
            guard position + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var scalar: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw fail("invalid \\u escape")
                }
                scalar = scalar << 4 | UInt32(digit)
                position += 1
            }
            return scalar
        }
    }
}

extension JSONValue {
    /// Appends the value's compact, key-sorted JSON to `out`: the bytes of ``encodedBytes()``.
    public func write(into out: inout [UInt8]) {
        JSONText.write(self, into: &out)
    }

    /// Appends the JSON string of text given as UTF-8 bytes (valid UTF-8, as a database's text column holds): the
    /// bytes `JSONValue.string(text).write(into:)` writes, without making the `String`.
    public static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        JSONText.writeString(utf8: bytes, into: &out)
    }
}

/// The members of a JSON object whose keys are known in advance, in the order every answer lists keys (sorted by
/// UTF-8 bytes), each with its `"key":` already encoded: an object of that shape is written member by member
/// without sorting its keys again, and members can be spliced in as bytes encoded once (a row shared by many
/// objects of a page).
public struct JSONMemberOrder: Sendable {
    public let keys: [String]
    public let prefixes: [[UInt8]]

    public init(keys: some Sequence<String>) {
        let sorted = Set(keys).sorted(by: JSONText.utf8Precedes)
        self.keys = sorted
        self.prefixes = sorted.map(JSONText.memberPrefix)
    }
}
