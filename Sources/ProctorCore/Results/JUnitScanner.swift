import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A streaming, non-validating XML scanner for UTF-8 JUnit documents, driving a ``JUnitCollector``.
///
/// libxml2's SAX parser through FoundationXML spends most of its time building `String`s and dictionaries
/// for every element and attribute; this scanner looks at bytes, compares element names against the few
/// JUnit knows, and builds strings only for the attribute values and texts that are kept. It still checks
/// everything a well-formedness error could hide in (names, quoting, references, characters, UTF-8, nesting),
/// so malformed input is rejected as before, naming line and column.
///
/// The input is read in chunks into one buffer that only grows to hold a single tag, so memory stays flat.
/// What it does not handle (a DOCTYPE, another encoding) it reports by returning nil from ``run()`` before
/// the root element, and ``JUnitParser`` parses the document with FoundationXML instead.
struct JUnitScanner {
    /// Reads up to `buffer.count` bytes into `buffer`; 0 at the end of the input.
    typealias Reader = (UnsafeMutableRawBufferPointer) throws -> Int

    static let defaultChunkSize = 256 * 1024
    /// The most bytes the buffer holds to read one tag, reference or name.
    static let maxTagBytes = 10_000_000

    private enum Phase {
        case beforeRoot
        case inRoot
        case afterRoot
    }

    /// Where one attribute's name and value sit in the buffer, while its tag is handled.
    struct AttributeSpan {
        var nameStart: Int
        var nameEnd: Int
        var valueStart: Int
        var valueEnd: Int
        /// The value holds a reference or a tab, CR or LF, so it must be decoded rather than copied.
        var needsDecoding: Bool
    }

    private var bytes: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// The next byte to handle; everything before it is done with.
    private var pos = 0
    /// One past the last byte read into the buffer.
    private var end = 0
    private var atEOF = false
    private let chunkSize: Int
    private let read: Reader

    /// Line and column are counted lazily, only over bytes about to leave the buffer and at an error.
    private var countedUpTo = 0
    private var line = 1
    /// Characters before `countedUpTo` on the current line.
    private var column = 0

    private var collector: JUnitCollector
    private var phase = Phase.beforeRoot
    private var openElements: [JUnitCollector.Element] = []
    /// The names of the open elements JUnit gives no meaning to, back to back, and where each starts; the
    /// others are told apart by their ``JUnitCollector/Element`` alone.
    private var otherNames: [UInt8] = []
    private var otherNameStarts: [Int] = []
    private var attributes: [AttributeSpan] = []
    /// ``byteClassTable``, held here so hot loops need no check that the static is initialised.
    private let byteClass = Self.byteClassTable
    private var tagNameStart = 0
    private var tagNameEnd = 0

    init(chunkSize: Int, collector: JUnitCollector, read: @escaping Reader) {
        self.chunkSize = max(1, chunkSize)
        self.capacity = max(4096, self.chunkSize * 2)
        self.bytes = .allocate(capacity: capacity)
        self.collector = collector
        self.read = read
    }

    func deallocate() {
        bytes.deallocate()
    }

    // MARK: Readers

    /// Reads a file descriptor with read(2), retrying on EINTR.
    static func reader(fileDescriptor: Int32) -> Reader {
        { buffer in
            while true {
                #if canImport(Darwin)
                    let count = Darwin.read(fileDescriptor, buffer.baseAddress, buffer.count)
                #elseif canImport(Musl)
                    let count = Musl.read(fileDescriptor, buffer.baseAddress, buffer.count)
                #else
                    let count = Glibc.read(fileDescriptor, buffer.baseAddress, buffer.count)
                #endif
                if count >= 0 { return count }
                let code = errno
                if code == EINTR { continue }
                throw ProctorError(
                    .internal,
                    "could not read JUnit XML: \(String(cString: strerror(code)))",
                    field: "file"
                )
            }
        }
    }

    /// Copies successive slices of `data`.
    static func reader(data: Data) -> Reader {
        var offset = 0
        return { buffer in
            let count = min(buffer.count, data.count - offset)
            guard count > 0 else { return 0 }
            data.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            offset += count
            return count
        }
    }

    // MARK: Driving

    /// Scans the whole document.
    ///
    /// - Returns: The summary, or nil when the document must go to FoundationXML (decided before the root).
    mutating func run() throws -> TestSummary? {
        guard try readProlog() else { return nil }
        while true {
            if pos == end {
                guard try refill() else { return try finish() }
            }
            if bytes[pos] == UInt8(ascii: "<") {
                guard try markup() else { return nil }
            } else if phase == .inRoot {
                if try !content() {
                    guard try refill() else { throw error(at: end, JUnitParser.reason(forXMLErrorCode: 77)) }
                }
            } else {
                try whitespaceOutsideRoot()
            }
            if let failure = collector.failure { throw failure }
        }
    }

    private mutating func finish() throws -> TestSummary {
        switch phase {
        case .beforeRoot: throw error(at: end, JUnitParser.reason(forXMLErrorCode: 4))
        case .inRoot: throw error(at: end, JUnitParser.reason(forXMLErrorCode: 77))
        case .afterRoot: return collector.summary
        }
    }

    /// Drops the bytes before `pos` and reads one more chunk; false at the end of the input.
    private mutating func refill() throws -> Bool {
        countPosition(upTo: pos)
        let kept = end - pos
        if pos > 0 {
            if kept > 0 { bytes.update(from: bytes + pos, count: kept) }
            countedUpTo -= pos
            end = kept
            pos = 0
        }
        if atEOF { return false }
        // libxml2's own limit on one attribute value, so a giant tag cannot take the memory that streaming saves.
        if kept >= Self.maxTagBytes { throw error(at: pos, "a tag longer than \(Self.maxTagBytes) bytes") }
        if capacity - end < chunkSize {
            // Only a single tag, reference or name larger than a chunk makes the buffer grow.
            let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: max(capacity * 2, end + chunkSize))
            larger.update(from: bytes, count: end)
            bytes.deallocate()
            bytes = larger
            capacity = max(capacity * 2, end + chunkSize)
        }
        let count = try read(UnsafeMutableRawBufferPointer(start: bytes + end, count: min(chunkSize, capacity - end)))
        if count == 0 {
            atEOF = true
            return false
        }
        end += count
        return true
    }

    /// Reads one more chunk keeping everything from `pos`, or throws `reason` at the end of the input.
    private mutating func demandMore(_ reason: String) throws {
        guard try refill() else { throw error(at: end, reason) }
    }

    // MARK: Positions and errors

    private mutating func countPosition(upTo index: Int) {
        guard index > countedUpTo else { return }
        var newlines = 0
        var cursor = countedUpTo
        // Eight bytes at a time: XOR turns each LF into a zero byte, and the expression below sets the top bit
        // of exactly the zero bytes, without carries between bytes.
        while cursor + 8 <= index {
            let word = UnsafeRawPointer(bytes + cursor).loadUnaligned(as: UInt64.self) ^ 0x0A0A_0A0A_0A0A_0A0A
            let lowBitsSet = (word & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F
            newlines += (~(lowBitsSet | word | 0x7F7F_7F7F_7F7F_7F7F)).nonzeroBitCount
            cursor += 8
        }
        while cursor < index {
            if bytes[cursor] == 0x0A { newlines += 1 }
            cursor += 1
        }
        var lineStart = countedUpTo
        if newlines > 0 {
            line += newlines
            column = 0
            lineStart = index
            while bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
        }
        for cursor in lineStart..<index where bytes[cursor] & 0xC0 != 0x80 { column += 1 }
        countedUpTo = index
    }

    /// A malformed-XML error for the byte at `index` (columns count characters, from 1, as libxml2's do).
    private mutating func error(at index: Int, _ reason: String) -> ProctorError {
        countPosition(upTo: index)
        return JUnitParser.malformed(line: line, column: column + 1, reason: reason)
    }

    private static let invalidUTF8 = "invalid UTF-8 byte sequence"
    private static let extraContent = "extra content at the end of the document"

    /// Width of the UTF-8 sequence at `index` when it is a character XML allows; 0 when it is not;
    /// -1 when the buffer ends inside it.
    @inline(__always)
    private func utf8Width(at index: Int) -> Int {
        let lead = bytes[index]
        let width: Int
        var scalar: UInt32
        if lead < 0xC2 {
            return 0
        } else if lead < 0xE0 {
            width = 2
            scalar = UInt32(lead & 0x1F)
        } else if lead < 0xF0 {
            width = 3
            scalar = UInt32(lead & 0x0F)
        } else if lead < 0xF5 {
            width = 4
            scalar = UInt32(lead & 0x07)
        } else {
            return 0
        }
        let available = min(width, end - index)
        for offset in 1..<max(1, available) {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { return 0 }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        if available < width { return -1 }
        switch width {
        case 3:
            if scalar < 0x800 || (0xD800...0xDFFF).contains(scalar) || scalar == 0xFFFE || scalar == 0xFFFF {
                return 0
            }
        case 4:
            if scalar < 0x10000 || scalar > 0x10FFFF { return 0 }
        default: break
        }
        return width
    }

    // MARK: Prolog

    /// Skips a UTF-8 byte-order mark and the XML declaration.
    ///
    /// - Returns: false when FoundationXML must take the document: another encoding (declared, by a
    ///   byte-order mark or by zero bytes), a declaration this does not read, or a first byte that is
    ///   neither `<` nor white space (libxml2 then names the problem as it always did).
    private mutating func readProlog() throws -> Bool {
        while end < 6, try refill() {}
        if end == 0 { return true }
        if end >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            pos = 3
            countedUpTo = 3
        }
        guard pos < end else { return true }
        if end - pos >= 2 {
            let first = bytes[pos]
            let second = bytes[pos + 1]
            if first == 0 || second == 0 || (first == 0xFE && second == 0xFF) || (first == 0xFF && second == 0xFE) {
                return false
            }
        }
        let first = bytes[pos]
        guard first == UInt8(ascii: "<") || byteClass[Int(first)] & Self.space != 0 else { return false }
        guard end - pos >= 6, Self.matches(bytes + pos, "<?xml"), byteClass[Int(bytes[pos + 5])] & Self.space != 0
        else { return true }
        // The declaration is short; a long one is left to libxml2 rather than buffered.
        // Offsets from `pos`, which a refill moves.
        var close = 6
        while true {
            while pos + close + 1 < end,
                !(bytes[pos + close] == UInt8(ascii: "?") && bytes[pos + close + 1] == UInt8(ascii: ">"))
            {
                close += 1
            }
            if pos + close + 1 < end { break }
            guard end - pos < 4096, try refill() else { return false }
        }
        guard let encoding = Self.declaredEncoding(UnsafeBufferPointer(start: bytes + pos + 5, count: close - 5))
        else { return false }
        if let encoding, !["utf-8", "utf8", "us-ascii", "ascii"].contains(encoding.lowercased()) { return false }
        pos += close + 2
        return true
    }

    /// Reads `version="1.x" encoding="…" standalone="…"` strictly: the encoding, `.some(nil)` when none is
    /// named, or nil when the declaration is anything else.
    private static func declaredEncoding(_ text: UnsafeBufferPointer<UInt8>) -> String?? {
        let byteClass = byteClassTable
        var index = 0
        var encoding: String?
        var seen = 0
        let names = ["version", "encoding", "standalone"]
        while true {
            let spaceStart = index
            while index < text.count, byteClass[Int(text[index])] & space != 0 { index += 1 }
            if index == text.count { return seen > 0 ? .some(encoding) : nil }
            guard index > spaceStart else { return nil }
            let nameStart = index
            while index < text.count, byteClass[Int(text[index])] & nameChar != 0 { index += 1 }
            let name = String(decoding: UnsafeBufferPointer(rebasing: text[nameStart..<index]), as: UTF8.self)
            // version first, then encoding and standalone, each at most once and in that order.
            guard let order = names.firstIndex(of: name), order >= seen, seen > 0 || order == 0 else { return nil }
            seen = order + 1
            while index < text.count, byteClass[Int(text[index])] & space != 0 { index += 1 }
            guard index < text.count, text[index] == UInt8(ascii: "=") else { return nil }
            index += 1
            while index < text.count, byteClass[Int(text[index])] & space != 0 { index += 1 }
            guard index < text.count, text[index] == UInt8(ascii: "\"") || text[index] == UInt8(ascii: "'")
            else { return nil }
            let quote = text[index]
            index += 1
            let valueStart = index
            while index < text.count, text[index] != quote {
                let byte = text[index]
                let allowed =
                    byteClass[Int(byte)] & nameChar != 0 && byte < 0x80 && byte != UInt8(ascii: ":")
                guard allowed else { return nil }
                index += 1
            }
            guard index < text.count else { return nil }
            let value = String(decoding: UnsafeBufferPointer(rebasing: text[valueStart..<index]), as: UTF8.self)
            index += 1
            switch name {
            case "version": guard value.hasPrefix("1."), value.count > 2 else { return nil }
            case "encoding": encoding = value
            default: guard value == "yes" || value == "no" else { return nil }
            }
        }
    }

    // MARK: Markup

    /// Handles the construct starting with `<` at `pos`; false when FoundationXML must take the document.
    private mutating func markup() throws -> Bool {
        while end - pos < 2 { try demandMore(JUnitParser.reason(forXMLErrorCode: 73)) }
        switch bytes[pos + 1] {
        case UInt8(ascii: "/"):
            try endTag()
        case UInt8(ascii: "?"):
            try processingInstruction()
        case UInt8(ascii: "!"):
            if try startsWith("<!--") {
                try comment()
            } else if try startsWith("<![CDATA[") {
                guard phase == .inRoot else { throw error(at: pos, misplacedReason) }
                try characterData()
            } else if try startsWith("<!DOCTYPE") {
                guard phase == .beforeRoot else { throw error(at: pos, misplacedReason) }
                return false
            } else {
                throw error(at: pos + 2, JUnitParser.reason(forXMLErrorCode: 68))
            }
        default:
            try startTag()
        }
        return true
    }

    /// Why content outside the root element is refused.
    private var misplacedReason: String {
        phase == .beforeRoot ? JUnitParser.reason(forXMLErrorCode: 3) : Self.extraContent
    }

    /// Whether the bytes at `pos` are `literal`, reading more when the buffer ends inside a match.
    private mutating func startsWith(_ literal: StaticString) throws -> Bool {
        while true {
            let available = min(end - pos, literal.utf8CodeUnitCount)
            for offset in 0..<available where bytes[pos + offset] != literal.utf8Start[offset] { return false }
            if available == literal.utf8CodeUnitCount { return true }
            guard try refill() else { return false }
        }
    }

    private static func matches(_ pointer: UnsafePointer<UInt8>, _ literal: StaticString) -> Bool {
        for offset in 0..<literal.utf8CodeUnitCount where pointer[offset] != literal.utf8Start[offset] {
            return false
        }
        return true
    }

    private mutating func startTag() throws {
        var parsed = try parseStartTag()
        while parsed == nil {
            try demandMore(JUnitParser.reason(forXMLErrorCode: 73))
            parsed = try parseStartTag()
        }
        guard case let (after, isEmpty)? = parsed else { return }
        if phase == .afterRoot { throw error(at: pos, Self.extraContent) }
        phase = .inRoot
        let nameLength = tagNameEnd - tagNameStart
        let element = Self.element(bytes + tagNameStart, count: nameLength)
        let name = UnsafeBufferPointer(start: bytes + tagNameStart, count: nameLength)
        collector.start(
            element,
            name: { String(decoding: name, as: UTF8.self) },
            attributes: ScannedAttributes(bytes: bytes, spans: attributes)
        )
        if isEmpty {
            collector.end(element)
            if openElements.isEmpty { phase = .afterRoot }
        } else {
            openElements.append(element)
            if element == .other {
                otherNameStarts.append(otherNames.count)
                otherNames.append(contentsOf: name)
            }
        }
        pos = after
    }

    /// Reads the start tag at `pos` into `tagNameStart`/`tagNameEnd` and `attributes`, checking it.
    ///
    /// - Returns: The index after its `>` and whether it was empty (`/>`); nil when the buffer ends first.
    private mutating func parseStartTag() throws -> (after: Int, isEmpty: Bool)? {
        let bytes = bytes
        let end = end
        let byteClass = self.byteClass
        attributes.removeAll(keepingCapacity: true)
        guard let nameEnd = try scanName(from: pos + 1) else { return nil }
        if nameEnd == pos + 1 { throw error(at: pos + 1, JUnitParser.reason(forXMLErrorCode: 68)) }
        tagNameStart = pos + 1
        tagNameEnd = nameEnd
        var index = nameEnd
        while true {
            let spaceStart = index
            while index < end, byteClass[Int(bytes[index])] & Self.space != 0 { index += 1 }
            if index == end { return nil }
            let byte = bytes[index]
            if byte == UInt8(ascii: ">") { return (index + 1, false) }
            if byte == UInt8(ascii: "/") {
                if index + 1 == end { return nil }
                guard bytes[index + 1] == UInt8(ascii: ">") else {
                    throw error(at: index + 1, JUnitParser.reason(forXMLErrorCode: 73))
                }
                return (index + 2, true)
            }
            guard index > spaceStart else { throw error(at: index, JUnitParser.reason(forXMLErrorCode: 65)) }
            let attributeNameStart = index
            guard let attributeNameEnd = try scanName(from: index) else { return nil }
            if attributeNameEnd == index { throw error(at: index, JUnitParser.reason(forXMLErrorCode: 73)) }
            index = attributeNameEnd
            while index < end, byteClass[Int(bytes[index])] & Self.space != 0 { index += 1 }
            if index == end { return nil }
            guard bytes[index] == UInt8(ascii: "=") else {
                let code = bytes[index] == UInt8(ascii: ">") || bytes[index] == UInt8(ascii: "/") ? 41 : 75
                throw error(at: index, JUnitParser.reason(forXMLErrorCode: code))
            }
            index += 1
            while index < end, byteClass[Int(bytes[index])] & Self.space != 0 { index += 1 }
            if index == end { return nil }
            let quote = bytes[index]
            guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                throw error(at: index, JUnitParser.reason(forXMLErrorCode: 39))
            }
            index += 1
            let valueStart = index
            var needsDecoding = false
            while true {
                if index == end { return nil }
                let byte = bytes[index]
                if byteClass[Int(byte)] & Self.valueSpecial == 0 {
                    index += 1
                    continue
                }
                if byte == quote { break }
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    index += 1
                case UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    needsDecoding = true
                    index += 1
                case UInt8(ascii: "&"):
                    needsDecoding = true
                    switch Self.reference(bytes, at: index, end: end) {
                    case .cut: return nil
                    case .invalid(let at, let code): throw error(at: at, JUnitParser.reason(forXMLErrorCode: code))
                    case .character(_, let after): index = after
                    }
                case UInt8(ascii: "<"):
                    throw error(at: index, JUnitParser.reason(forXMLErrorCode: 38))
                default:
                    if byte < 0x80 { throw error(at: index, JUnitParser.reason(forXMLErrorCode: 9)) }
                    let width = utf8Width(at: index)
                    if width < 0 { return nil }
                    if width == 0 { throw error(at: index, Self.invalidUTF8) }
                    index += width
                }
            }
            let nameLength = attributeNameEnd - attributeNameStart
            for earlier in attributes where earlier.nameEnd - earlier.nameStart == nameLength {
                if memcmp(bytes + earlier.nameStart, bytes + attributeNameStart, nameLength) == 0 {
                    throw error(at: attributeNameStart, JUnitParser.reason(forXMLErrorCode: 42))
                }
            }
            attributes.append(
                AttributeSpan(
                    nameStart: attributeNameStart,
                    nameEnd: attributeNameEnd,
                    valueStart: valueStart,
                    valueEnd: index,
                    needsDecoding: needsDecoding
                )
            )
            index += 1
        }
    }

    /// The index after the name starting at `start` (`start` itself when no name starts there), or nil when
    /// the buffer ends inside it.
    private mutating func scanName(from start: Int) throws -> Int? {
        let byteClass = self.byteClass
        var index = start
        if index == end { return nil }
        guard byteClass[Int(bytes[index])] & Self.nameStart != 0 else { return start }
        while index < end {
            let byte = bytes[index]
            if byte < 0x80 {
                if byteClass[Int(byte)] & Self.nameChar == 0 { return index }
                index += 1
            } else {
                let width = utf8Width(at: index)
                if width < 0 { return nil }
                if width == 0 { throw error(at: index, Self.invalidUTF8) }
                index += width
            }
        }
        return nil
    }

    private mutating func endTag() throws {
        var after = try parseEndTag()
        while after == nil {
            try demandMore(JUnitParser.reason(forXMLErrorCode: 73))
            after = try parseEndTag()
        }
        guard let after else { return }
        guard phase == .inRoot, let open = openElements.last else { throw error(at: pos, misplacedReason) }
        let length = tagNameEnd - tagNameStart
        var same = Self.element(bytes + tagNameStart, count: length) == open
        if same, open == .other, let start = otherNameStarts.last {
            same =
                otherNames.count - start == length
                && otherNames.withUnsafeBufferPointer {
                    memcmp($0.baseAddress! + start, bytes + tagNameStart, length) == 0
                }
        }
        // libxml2 notices the mismatch once the whole end tag is read, so it names the position after the '>'.
        guard same else { throw error(at: after, JUnitParser.reason(forXMLErrorCode: 76)) }
        openElements.removeLast()
        if open == .other, let start = otherNameStarts.popLast() {
            otherNames.removeLast(otherNames.count - start)
        }
        collector.end(open)
        if openElements.isEmpty { phase = .afterRoot }
        pos = after
    }

    /// Reads the end tag at `pos`; the index after its `>`, or nil when the buffer ends first.
    private mutating func parseEndTag() throws -> Int? {
        guard let nameEnd = try scanName(from: pos + 2) else { return nil }
        if nameEnd == pos + 2 { throw error(at: pos + 2, JUnitParser.reason(forXMLErrorCode: 68)) }
        tagNameStart = pos + 2
        tagNameEnd = nameEnd
        var index = nameEnd
        while index < end, byteClass[Int(bytes[index])] & Self.space != 0 { index += 1 }
        if index == end { return nil }
        guard bytes[index] == UInt8(ascii: ">") else {
            throw error(at: index, JUnitParser.reason(forXMLErrorCode: 73))
        }
        return index + 1
    }

    /// Skips a comment, checking its characters and that it holds no `--`.
    private mutating func comment() throws {
        pos += 4
        while true {
            let bytes = bytes
            var index = pos
            scan: while index < end {
                let byte = bytes[index]
                if byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "-") {
                    index += 1
                    continue
                }
                switch byte {
                case UInt8(ascii: "-"):
                    if index + 2 >= end { break scan }
                    if bytes[index + 1] != UInt8(ascii: "-") {
                        index += 1
                    } else if bytes[index + 2] == UInt8(ascii: ">") {
                        pos = index + 3
                        return
                    } else {
                        throw error(at: index, "'--' is not allowed inside a comment")
                    }
                case UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    index += 1
                default:
                    guard let after = try skipCharacter(at: index) else { break scan }
                    index = after
                }
            }
            pos = index
            try demandMore(JUnitParser.reason(forXMLErrorCode: 45))
        }
    }

    /// The index after the non-ASCII or control character at `index`; nil when the buffer ends inside it.
    private mutating func skipCharacter(at index: Int) throws -> Int? {
        let byte = bytes[index]
        if byte < 0x80 { throw error(at: index, JUnitParser.reason(forXMLErrorCode: 9)) }
        let width = utf8Width(at: index)
        if width < 0 { return nil }
        if width == 0 { throw error(at: index, Self.invalidUTF8) }
        return index + width
    }

    /// Skips a processing instruction (not the XML declaration, which only the prolog may hold).
    private mutating func processingInstruction() throws {
        var targetEnd = try scanName(from: pos + 2)
        while targetEnd == nil {
            try demandMore(JUnitParser.reason(forXMLErrorCode: 46))
            targetEnd = try scanName(from: pos + 2)
        }
        guard let targetEnd, targetEnd > pos + 2 else {
            throw error(at: pos + 2, JUnitParser.reason(forXMLErrorCode: 68))
        }
        if targetEnd - pos - 2 == 3,
            bytes[pos + 2] | 0x20 == UInt8(ascii: "x"), bytes[pos + 3] | 0x20 == UInt8(ascii: "m"),
            bytes[pos + 4] | 0x20 == UInt8(ascii: "l")
        {
            throw error(at: pos, "an XML declaration is only allowed at the start of the document")
        }
        pos = targetEnd
        var first = true
        while true {
            let bytes = bytes
            var index = pos
            scan: while index < end {
                let byte = bytes[index]
                if byte == UInt8(ascii: "?") {
                    if index + 1 >= end { break scan }
                    if bytes[index + 1] == UInt8(ascii: ">") {
                        pos = index + 2
                        return
                    }
                }
                if first, byteClass[Int(byte)] & Self.space == 0 {
                    throw error(at: index, JUnitParser.reason(forXMLErrorCode: 65))
                }
                first = false
                if (byte >= 0x20 && byte < 0x80) || byteClass[Int(byte)] & Self.space != 0 {
                    index += 1
                } else {
                    guard let after = try skipCharacter(at: index) else { break scan }
                    index = after
                }
            }
            pos = index
            try demandMore(JUnitParser.reason(forXMLErrorCode: 46))
        }
    }

    /// Delivers a CDATA section's text to the collector while checking it.
    private mutating func characterData() throws {
        let capturing = collector.capturesText
        pos += 9
        while true {
            let bytes = bytes
            var index = pos
            scan: while index < end {
                let byte = bytes[index]
                if byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "]") {
                    index += 1
                    continue
                }
                switch byte {
                case UInt8(ascii: "]"):
                    if index + 2 >= end { break scan }
                    if bytes[index + 1] == UInt8(ascii: "]"), bytes[index + 2] == UInt8(ascii: ">") {
                        if capturing { deliver(from: pos, to: index) }
                        pos = index + 3
                        return
                    }
                    index += 1
                case UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    // libxml2 hands CDATA over with its CRs, unlike text; kept so for the same results.
                    index += 1
                default:
                    guard let after = try skipCharacter(at: index) else { break scan }
                    index = after
                }
            }
            if capturing { deliver(from: pos, to: index) }
            pos = index
            try demandMore(JUnitParser.reason(forXMLErrorCode: 63))
        }
    }

    @inline(__always)
    private mutating func deliver(from start: Int, to stop: Int) {
        if stop > start { collector.appendText(utf8: UnsafeBufferPointer(start: bytes + start, count: stop - start)) }
    }

    // MARK: Content

    /// Text and references inside the root, up to the next `<`; false when the buffer ends inside a
    /// character, reference or line end, with `pos` left at it.
    private mutating func content() throws -> Bool {
        let capturing = collector.capturesText
        let bytes = bytes
        let end = end
        let byteClass = self.byteClass
        var index = pos
        while true {
            while index < end, byteClass[Int(bytes[index])] & Self.textSpecial == 0 { index += 1 }
            if capturing { deliver(from: pos, to: index) }
            pos = index
            if index == end { return true }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "<"):
                return true
            case UInt8(ascii: "&"):
                switch Self.reference(bytes, at: index, end: end) {
                case .cut: return false
                case .invalid(let at, let code): throw error(at: at, JUnitParser.reason(forXMLErrorCode: code))
                case .character(let scalar, let after):
                    if capturing { collector.appendText(String(Character(scalar))) }
                    index = after
                }
            case UInt8(ascii: "\r"):
                if index + 1 == end { return false }
                if capturing { collector.appendText("\n") }
                index += bytes[index + 1] == UInt8(ascii: "\n") ? 2 : 1
            case UInt8(ascii: "]"):
                if index + 2 >= end { return false }
                if bytes[index + 1] == UInt8(ascii: "]"), bytes[index + 2] == UInt8(ascii: ">") {
                    throw error(at: index, "']]>' is not allowed in text")
                }
                index += 1
                continue
            default:
                guard let after = try skipCharacter(at: index) else { return false }
                index = after
                continue
            }
            pos = index
        }
    }

    /// Outside the root only white space may appear between markup.
    private mutating func whitespaceOutsideRoot() throws {
        var index = pos
        while index < end, byteClass[Int(bytes[index])] & Self.space != 0 { index += 1 }
        pos = index
        if index < end, bytes[index] != UInt8(ascii: "<") { throw error(at: index, misplacedReason) }
    }

    // MARK: References

    enum Reference {
        case character(Unicode.Scalar, after: Int)
        /// Malformed, at this index, with this libxml2 error code (for its wording).
        case invalid(at: Int, code: Int)
        /// The buffer ends inside it.
        case cut
    }

    /// Reads the entity or character reference whose `&` is at `start`.
    static func reference(_ bytes: UnsafePointer<UInt8>, at start: Int, end: Int) -> Reference {
        let byteClass = byteClassTable
        var index = start + 1
        if index == end { return .cut }
        if bytes[index] == UInt8(ascii: "#") {
            index += 1
            if index == end { return .cut }
            let hex = bytes[index] == UInt8(ascii: "x")
            if hex { index += 1 }
            let digitsStart = index
            var value: UInt32 = 0
            while true {
                if index == end { return .cut }
                let byte = bytes[index]
                if byte == UInt8(ascii: ";") { break }
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f") where hex: digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F") where hex: digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: return .invalid(at: index, code: 6)
                }
                value = min(value * (hex ? 16 : 10) + digit, 0x110000)
                index += 1
            }
            guard index > digitsStart, isXMLCharacter(value), let scalar = Unicode.Scalar(value) else {
                return .invalid(at: start, code: 6)
            }
            return .character(scalar, after: index + 1)
        }
        guard byteClass[Int(bytes[index])] & nameStart != 0 else { return .invalid(at: index, code: 22) }
        while index < end, byteClass[Int(bytes[index])] & nameChar != 0 { index += 1 }
        if index == end { return .cut }
        guard bytes[index] == UInt8(ascii: ";") else { return .invalid(at: index, code: 23) }
        let name = UnsafeBufferPointer(start: bytes + start + 1, count: index - start - 1)
        let scalar: Unicode.Scalar
        switch name.count {
        case 2 where name[0] == UInt8(ascii: "l") && name[1] == UInt8(ascii: "t"): scalar = "<"
        case 2 where name[0] == UInt8(ascii: "g") && name[1] == UInt8(ascii: "t"): scalar = ">"
        case 3 where matches(name.baseAddress!, "amp"): scalar = "&"
        case 4 where matches(name.baseAddress!, "apos"): scalar = "'"
        case 4 where matches(name.baseAddress!, "quot"): scalar = "\""
        default: return .invalid(at: start, code: 26)
        }
        return .character(scalar, after: index + 1)
    }

    /// XML 1.0's Char production.
    static func isXMLCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    // MARK: Names

    /// The JUnit element a name means, by its bytes.
    static func element(_ name: UnsafePointer<UInt8>, count: Int) -> JUnitCollector.Element {
        switch count {
        case 5: matches(name, "error") ? .error : .other
        case 7: matches(name, "failure") ? .failure : matches(name, "skipped") ? .skipped : .other
        case 8: matches(name, "testcase") ? .testcase : .other
        case 9: matches(name, "testsuite") ? .testsuite : .other
        case 10:
            matches(name, "testsuites")
                ? .testsuites
                : matches(name, "system-out") ? .systemOut : matches(name, "system-err") ? .systemErr : .other
        default: .other
        }
    }

    // MARK: Byte classes

    private static let textSpecial: UInt8 = 1
    private static let valueSpecial: UInt8 = 2
    private static let nameChar: UInt8 = 4
    private static let nameStart: UInt8 = 8
    private static let space: UInt8 = 16

    /// For each byte value, which of the classes above it belongs to; one load replaces several compares.
    nonisolated(unsafe) static let byteClassTable: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for value in 0..<256 {
            let byte = UInt8(value)
            var classes: UInt8 = 0
            let isControl = byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D
            let isLetter =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            let isDigit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            if byte >= 0x80 || isControl || "<&\r]".utf8.contains(byte) { classes |= textSpecial }
            if byte >= 0x80 || isControl || "<&\"'\t\r\n".utf8.contains(byte) { classes |= valueSpecial }
            if isLetter || byte >= 0x80 || "_:".utf8.contains(byte) { classes |= nameStart | nameChar }
            if isDigit || "-.".utf8.contains(byte) { classes |= nameChar }
            if " \t\r\n".utf8.contains(byte) { classes |= space }
            table[value] = classes
        }
        return UnsafePointer(table)
    }()
}

/// The attributes of the tag being handled, decoded only when the collector asks for them.
struct ScannedAttributes: JUnitAttributes {
    let bytes: UnsafePointer<UInt8>
    let spans: [JUnitScanner.AttributeSpan]

    init(bytes: UnsafeMutablePointer<UInt8>, spans: [JUnitScanner.AttributeSpan]) {
        self.bytes = UnsafePointer(bytes)
        self.spans = spans
    }

    subscript(_ name: String) -> String? {
        var name = name
        return name.withUTF8 { key -> String? in
            for span in spans where span.nameEnd - span.nameStart == key.count {
                var same = true
                for offset in 0..<key.count where bytes[span.nameStart + offset] != key[offset] {
                    same = false
                    break
                }
                if same { return value(span) }
            }
            return nil
        }
    }

    /// The value with references replaced and tab, CR, LF (CRLF as one) turned into spaces, as XML requires.
    private func value(_ span: JUnitScanner.AttributeSpan) -> String {
        let raw = UnsafeBufferPointer(start: bytes + span.valueStart, count: span.valueEnd - span.valueStart)
        guard span.needsDecoding else { return String(decoding: raw, as: UTF8.self) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var index = span.valueStart
        while index < span.valueEnd {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\t"), UInt8(ascii: "\n"):
                decoded.append(UInt8(ascii: " "))
                index += 1
            case UInt8(ascii: "\r"):
                decoded.append(UInt8(ascii: " "))
                index += index + 1 < span.valueEnd && bytes[index + 1] == UInt8(ascii: "\n") ? 2 : 1
            case UInt8(ascii: "&"):
                guard
                    case .character(let scalar, let after) = JUnitScanner.reference(
                        bytes,
                        at: index,
                        end: span.valueEnd
                    )
                else {
                    // Checked when the tag was read; cannot happen.
                    index += 1
                    continue
                }
                decoded.append(contentsOf: String(scalar).utf8)
                index = after
            default:
                decoded.append(byte)
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }
}
