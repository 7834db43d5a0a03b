import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Streams JUnit XML (pytest, Surefire, go-junit-report, CDRouter exports…) into ``TestCase`` values.
///
/// ``JUnitScanner``, a streaming UTF-8 scanner written for this, reads the document in chunks and hands
/// each case to `onCase` as soon as its `</testcase>` is seen, so memory stays flat whatever the file size.
/// It is about three times as fast as libxml2's SAX parser through FoundationXML, which is still used, from
/// the start of the input, for what the scanner leaves to it: a `<!DOCTYPE` (entity declarations), an
/// encoding other than UTF-8 or US-ASCII (declared or by a UTF-16/32 byte-order mark), or a first byte that
/// cannot start a UTF-8 document. Both stop before the root element, so no case is delivered twice. External
/// entities are never resolved on either path.
///
/// Accepted shapes: a `<testsuites>` root or a bare `<testsuite>` root; nested `<testsuite>`s (a case's
/// suite is its innermost suite's name); `<failure>`, `<error>`, `<skipped>` with a `message`
/// attribute or text; `<system-out>`/`<system-err>` inside a `<testcase>` (suite-level ones are ignored).
public enum JUnitParser {
    /// The default cap on each captured text field (message, system-out, system-err), in UTF-8 bytes.
    public static let defaultMaxFieldBytes = 64 * 1024

    /// Parses the JUnit file at `url`, calling `onCase` for each test case in document order.
    ///
    /// - Parameters:
    ///   - url: A local file.
    ///   - maxFieldBytes: Cap on each text field; longer text is cut and marked.
    ///   - onCase: Receives each case; an error it throws stops the parse and is rethrown.
    /// - Returns: The counts of every case seen.
    /// - Throws: ``ProctorError/Code/badRequest`` (field `file`) for malformed XML or a root that is not
    ///   JUnit, with line and column; ``ProctorError/Code/notFound`` when the file cannot be opened.
    ///   When it throws, `onCase` may already have received the cases before the error.
    public static func parse(
        fileAt url: URL,
        maxFieldBytes: Int = defaultMaxFieldBytes,
        onCase: (TestCase) throws -> Void
    ) throws -> TestSummary {
        guard FileManager.default.isReadableFile(atPath: url.path),
            let handle = try? FileHandle(forReadingFrom: url)
        else {
            throw ProctorError.notFound("no readable JUnit file at \(url.path)")
        }
        defer { try? handle.close() }
        let scanned = try scan(
            chunkSize: JUnitScanner.defaultChunkSize,
            maxFieldBytes: maxFieldBytes,
            read: JUnitScanner.reader(fileDescriptor: handle.fileDescriptor),
            onCase: onCase
        )
        if let summary = scanned { return summary }
        guard lseek(handle.fileDescriptor, 0, SEEK_SET) == 0, let stream = InputStream(url: url) else {
            throw ProctorError.notFound("no readable JUnit file at \(url.path)")
        }
        try refuseDatalessInstructions(JUnitScanner.reader(fileDescriptor: handle.fileDescriptor))
        return try parse(stream: stream, maxFieldBytes: maxFieldBytes, onCase: onCase)
    }

    /// Parses a JUnit document held in memory (e.g. an uploaded request body).
    ///
    /// The data is still read in chunks, so bodies of any size parse.
    public static func parse(
        data: Data,
        maxFieldBytes: Int = defaultMaxFieldBytes,
        onCase: (TestCase) throws -> Void
    ) throws -> TestSummary {
        try parse(data: data, chunkSize: JUnitScanner.defaultChunkSize, maxFieldBytes: maxFieldBytes, onCase: onCase)
    }

    /// ``parse(data:maxFieldBytes:onCase:)`` with the scanner's chunk size chosen, so tests can split
    /// every construct across chunk boundaries.
    static func parse(
        data: Data,
        chunkSize: Int,
        maxFieldBytes: Int = defaultMaxFieldBytes,
        onCase: (TestCase) throws -> Void
    ) throws -> TestSummary {
        let scanned = try scan(
            chunkSize: chunkSize,
            maxFieldBytes: maxFieldBytes,
            read: JUnitScanner.reader(data: data),
            onCase: onCase
        )
        if let summary = scanned { return summary }
        try refuseDatalessInstructions(JUnitScanner.reader(data: data))
        return try parse(stream: InputStream(data: data), maxFieldBytes: maxFieldBytes, onCase: onCase)
    }

    /// Parses a JUnit document and returns every case; convenient for small files and tests.
    public static func parseAll(data: Data, maxFieldBytes: Int = defaultMaxFieldBytes) throws -> [TestCase] {
        var cases: [TestCase] = []
        _ = try parse(data: data, maxFieldBytes: maxFieldBytes) { cases.append($0) }
        return cases
    }

    /// Runs ``JUnitScanner``; nil when the document needs the FoundationXML path (nothing was delivered then).
    static func scan(
        chunkSize: Int,
        maxFieldBytes: Int,
        read: @escaping JUnitScanner.Reader,
        onCase: (TestCase) throws -> Void
    ) throws -> TestSummary? {
        try withoutActuallyEscaping(onCase) { onCase in
            var scanner = JUnitScanner(
                chunkSize: chunkSize,
                collector: JUnitCollector(maxFieldBytes: maxFieldBytes, onCase: onCase),
                read: read
            )
            defer { scanner.deallocate() }
            return try scanner.run()
        }
    }

    /// Refuses, before the FoundationXML path reads it, a document holding a processing instruction without data
    /// (`<?name?>`): libxml2 hands FoundationXML a null pointer for the data, and FoundationXML crashes the process
    /// on it (Swift 6.3.1 on Linux). The bytes are read with every NUL skipped, so that UTF-16 and UTF-32 documents
    /// are checked too; such an instruction inside a comment or CDATA section is refused as well, which only these
    /// rare documents (a DOCTYPE, an encoding other than UTF-8) can meet.
    static func refuseDatalessInstructions(_ read: JUnitScanner.Reader) throws {
        enum State {
            case text, afterOpen, target, afterQuestion
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 1)
        defer { buffer.deallocate() }
        var state = State.text
        var line = 1
        while true {
            let count = try read(buffer)
            guard count > 0 else { return }
            for byte in buffer[..<count] where byte != 0 {
                if byte == UInt8(ascii: "\n") { line += 1 }
                switch (state, byte) {
                case (_, UInt8(ascii: "<")): state = .afterOpen
                case (.afterOpen, UInt8(ascii: "?")): state = .target
                case (.target, UInt8(ascii: "?")): state = .afterQuestion
                case (.target, UInt8(ascii: " ")), (.target, UInt8(ascii: "\t")), (.target, UInt8(ascii: "\n")),
                    (.target, UInt8(ascii: "\r")):
                    state = .text
                case (.target, _): break
                case (.afterQuestion, UInt8(ascii: ">")):
                    throw malformed(line: line, column: 1, reason: "processing instruction without data")
                default: state = .text
                }
            }
        }
    }

    /// The FoundationXML (libxml2 SAX) path, for documents the scanner leaves to it.
    static func parse(
        stream: InputStream,
        maxFieldBytes: Int,
        onCase: (TestCase) throws -> Void
    ) throws -> TestSummary {
        try withoutActuallyEscaping(onCase) { onCase in
            // The delegate lives only for this call, on this thread: nothing is shared, so no Sendable needed.
            let delegate = JUnitXMLParserDelegate(
                collector: JUnitCollector(maxFieldBytes: maxFieldBytes, onCase: onCase)
            )
            let parser = XMLParser(stream: stream)
            parser.shouldProcessNamespaces = false
            parser.shouldResolveExternalEntities = false
            parser.externalEntityResolvingPolicy = .never
            parser.delegate = delegate
            let finished = parser.parse()
            parser.delegate = nil
            if let failure = delegate.failure { throw failure }
            if !finished {
                // No delegate-reported error: the stream itself failed (e.g. a read error).
                let reason = parser.parserError.map { String(describing: $0) } ?? "unknown error"
                throw ProctorError(.internal, "could not read JUnit XML: \(reason)", field: "file")
            }
            guard delegate.collector.sawRoot else {
                throw malformed(line: 1, column: 1, reason: "document is empty")
            }
            return delegate.collector.summary
        }
    }

    static func malformed(line: Int, column: Int, reason: String) -> ProctorError {
        .badRequest("malformed JUnit XML at line \(line), column \(column): \(reason)", field: "file")
    }

    /// Words for libxml2's `xmlParserErrors` codes, which is what FoundationXML reports on Linux
    /// (its `localizedDescription` only says "error 76").
    static func reason(forXMLErrorCode code: Int) -> String {
        switch code {
        case 1: "internal parser error"
        case 2: "out of memory"
        case 3: "start tag expected, '<' not found"
        case 4: "document is empty"
        case 5: "premature end of document or extra content after the root element"
        case 6, 7, 8: "invalid character reference"
        case 9: "invalid character in content"
        case 10...21: "misplaced character or entity reference"
        case 22, 23: "malformed entity reference (a bare '&' must be written &amp;)"
        case 26, 27: "undeclared entity"
        case 31, 32: "unknown or unsupported encoding"
        case 33, 34: "unterminated string"
        case 38: "'<' in an attribute value"
        case 39, 40: "attribute value not quoted or not terminated"
        case 41: "attribute without a value"
        case 42: "attribute given twice"
        case 45: "comment not terminated"
        case 46, 47: "processing instruction not terminated"
        case 56, 57: "malformed XML declaration"
        case 61: "DOCTYPE not terminated"
        case 63: "CDATA section not terminated"
        case 65: "space required"
        case 68: "name expected"
        case 73: "'>' expected, the start tag is not finished"
        case 74: "'</' expected"
        case 75: "'=' expected after an attribute name"
        case 76: "closing tag does not match the opening tag"
        case 77: "tag not finished"
        case 85: "elements are not balanced"
        case 86: "extra content at the end of the document"
        case 89: "entity reference loop"
        default: "XML error \(code)"
        }
    }
}

/// The attributes of one start tag, as the JUnit logic asks for them: by name, decoded.
protocol JUnitAttributes {
    subscript(_ name: String) -> String? { get }
}

extension Dictionary: JUnitAttributes where Key == String, Value == String {}

/// What JUnit means by each element event: suites, cases, outcomes and captured output.
///
/// Shared by ``JUnitScanner`` and the FoundationXML delegate, so both paths give the same cases for the
/// same document. Used by one parse on one thread, never shared.
struct JUnitCollector {
    /// The element names JUnit gives a meaning to; everything else is `other`.
    enum Element {
        case testsuites
        case testsuite
        case testcase
        case failure
        case error
        case skipped
        case systemOut
        case systemErr
        case other

        init(name: String) {
            switch name {
            case "testsuites": self = .testsuites
            case "testsuite": self = .testsuite
            case "testcase": self = .testcase
            case "failure": self = .failure
            case "error": self = .error
            case "skipped": self = .skipped
            case "system-out": self = .systemOut
            case "system-err": self = .systemErr
            default: self = .other
            }
        }
    }

    private let maxFieldBytes: Int
    private let onCase: (TestCase) throws -> Void

    private(set) var summary = TestSummary()
    /// The first error: a root that is not JUnit, or one thrown by `onCase`. Events after it are ignored.
    private(set) var failure: (any Error)?
    private(set) var sawRoot = false

    /// Names of the open `<testsuite>` elements, outermost first.
    private var suites: [String] = []
    /// The `<testsuites name=…>`, used as suite for a case outside any `<testsuite>`.
    private var collectionName = ""

    private struct OpenCase {
        var suite: String
        var classname: String
        var name: String
        var time: Double
        var status = TestStatus.passed
        var message: String?
        var systemOut: CappedText
        var systemErr: CappedText
    }

    private enum Capture {
        case outcome
        case systemOut
        case systemErr
    }

    private var current: OpenCase?
    private var capture: Capture?
    /// Text of the current `<failure>`/`<error>`/`<skipped>`, used when it has no `message` attribute.
    private var outcomeText: CappedText
    private var outcomeStatus: TestStatus?
    private var outcomeMessage: String?
    /// Depth inside elements we do not understand (`<properties>`, `<flakyFailure>`…), whose text is skipped.
    private var ignoredDepth = 0

    init(maxFieldBytes: Int, onCase: @escaping (TestCase) throws -> Void) {
        self.maxFieldBytes = maxFieldBytes
        self.onCase = onCase
        self.outcomeText = CappedText(limit: maxFieldBytes)
    }

    /// Whether text arriving now is kept; the scanner skips text cheaply when it is not.
    var capturesText: Bool { capture != nil && ignoredDepth == 0 && current != nil && failure == nil }

    mutating func fail(_ error: any Error) {
        if failure == nil { failure = error }
    }

    /// - Parameter name: The element's name, asked for only to explain a root that is not JUnit.
    mutating func start(_ element: Element, name: () -> String, attributes: some JUnitAttributes) {
        guard failure == nil else { return }
        if !sawRoot {
            sawRoot = true
            switch element {
            case .testsuites: collectionName = attributes["name"] ?? ""
            case .testsuite: suites.append(attributes["name"] ?? "")
            default:
                fail(
                    ProctorError.badRequest(
                        "not a JUnit XML document: the root element is <\(name())>, expected <testsuites> or <testsuite>",
                        field: "file"
                    )
                )
            }
            return
        }
        if ignoredDepth > 0 {
            ignoredDepth += 1
            return
        }
        if current != nil {
            switch element {
            case .failure, .error, .skipped:
                outcomeStatus = element == .failure ? .failed : element == .error ? .error : .skipped
                outcomeMessage = attributes["message"]
                // The text (usually a stack trace) is only needed when there is no message attribute.
                let needsText = outcomeMessage?.isEmpty ?? true
                capture = needsText ? .outcome : nil
                outcomeText = CappedText(limit: needsText ? maxFieldBytes : 0)
            case .systemOut: capture = .systemOut
            case .systemErr: capture = .systemErr
            default: ignoredDepth = 1
            }
            return
        }
        switch element {
        case .testsuite:
            suites.append(attributes["name"] ?? "")
        case .testsuites:
            // Some merge tools nest whole documents; the wrapper itself carries nothing we keep.
            break
        case .testcase:
            current = OpenCase(
                suite: suites.last ?? collectionName,
                classname: attributes["classname"] ?? attributes["class"] ?? "",
                name: attributes["name"] ?? "",
                time: Self.seconds(attributes["time"]),
                systemOut: CappedText(limit: maxFieldBytes),
                systemErr: CappedText(limit: maxFieldBytes)
            )
        default:
            // Suite-level <properties>, <system-out>, <system-err>: not attached to any case.
            ignoredDepth = 1
        }
    }

    mutating func end(_ element: Element) {
        guard failure == nil else { return }
        if ignoredDepth > 0 {
            ignoredDepth -= 1
            return
        }
        switch element {
        case .failure, .error, .skipped:
            guard current != nil, let status = outcomeStatus else { return }
            if Self.rank(status) > Self.rank(current!.status) {
                current!.status = status
                var message = outcomeMessage ?? ""
                if message.isEmpty {
                    message = outcomeText.value.trimmingCharacters(in: .whitespacesAndNewlines)
                } else if message.utf8.count > maxFieldBytes {
                    var capped = CappedText(limit: maxFieldBytes)
                    capped.append(message)
                    message = capped.value
                }
                current!.message = message.isEmpty ? nil : message
            }
            capture = nil
            outcomeStatus = nil
            outcomeMessage = nil
            outcomeText = CappedText(limit: 0)
        case .systemOut, .systemErr:
            capture = nil
        case .testcase:
            guard let open = current else { return }
            current = nil
            capture = nil
            let testCase = TestCase(
                suite: open.suite,
                classname: open.classname,
                name: open.name,
                status: open.status,
                time: open.time,
                message: open.message,
                systemOut: open.systemOut.isEmpty ? nil : open.systemOut.value,
                systemErr: open.systemErr.isEmpty ? nil : open.systemErr.value
            )
            summary.add(testCase.status)
            do {
                try onCase(testCase)
            } catch {
                fail(error)
            }
        case .testsuite:
            if !suites.isEmpty { suites.removeLast() }
        default:
            break
        }
    }

    /// Text or CDATA content, already decoded.
    mutating func appendText(_ text: String) {
        guard capturesText else { return }
        switch capture {
        case .outcome: outcomeText.append(text)
        case .systemOut: current!.systemOut.append(text)
        case .systemErr: current!.systemErr.append(text)
        case nil: break
        }
    }

    /// Text as validated UTF-8 that ends on a character boundary, so no `String` is built beyond the cap.
    mutating func appendText(utf8 text: UnsafeBufferPointer<UInt8>) {
        guard capturesText else { return }
        switch capture {
        case .outcome: outcomeText.append(utf8: text)
        case .systemOut: current!.systemOut.append(utf8: text)
        case .systemErr: current!.systemErr.append(utf8: text)
        case nil: break
        }
    }

    /// Error beats failure beats skipped beats passed, when a case carries several outcome elements.
    private static func rank(_ status: TestStatus) -> Int {
        switch status {
        case .passed: 0
        case .skipped: 1
        case .failed: 2
        case .error: 3
        }
    }

    /// `time` is seconds; some producers write "1,234.5", some omit it (then 0).
    static func seconds(_ text: String?) -> Double {
        guard let text, !text.isEmpty else { return 0 }
        if let value = plainDecimal(text) { return value }
        // Fast path first: Foundation's contains/trimming cost more than the rest of the parse on Linux.
        let value = Double(text) ?? Double(String(text.unicodeScalars.filter { $0 != "," && $0 != " " && $0 != "\t" }))
        guard let value, value.isFinite, value >= 0 else { return 0 }
        return value
    }

    /// "12.345"-shaped text (up to 15 digits) without strtod, which cost a tenth of a JUnit parse.
    ///
    /// The same Double as strtod: an integer below 2^53 and a power of ten up to 10^22 are exact, so their
    /// quotient is a single correctly rounded operation.
    private static func plainDecimal(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { bytes -> Double? in
            var mantissa: UInt64 = 0
            var digits = 0
            var fractionDigits = 0
            var sawPoint = false
            for byte in bytes {
                if byte == UInt8(ascii: ".") {
                    if sawPoint { return nil }
                    sawPoint = true
                    continue
                }
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 15 else { return nil }
                mantissa = mantissa * 10 + UInt64(byte - UInt8(ascii: "0"))
                digits += 1
                if sawPoint { fractionDigits += 1 }
            }
            guard digits > 0 else { return nil }
            return Double(mantissa) / powersOfTen[fractionDigits]
        }
    }

    private static let powersOfTen: [Double] = [
        1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ]
}

/// The SAX delegate of the FoundationXML path: forwards libxml2's events to a ``JUnitCollector``.
///
/// A class because `XMLParserDelegate` requires one; used by one parse on one thread, never shared.
final class JUnitXMLParserDelegate: NSObject, XMLParserDelegate {
    var collector: JUnitCollector
    /// A libxml2 parse error, with its line and column.
    private(set) var parseError: ProctorError?

    init(collector: JUnitCollector) {
        self.collector = collector
    }

    var failure: (any Error)? { collector.failure ?? parseError }

    private func stopIfFailed(_ parser: XMLParser) {
        if collector.failure != nil { parser.abortParsing() }
    }

    func parser(
        _ parser: XMLParser,
        didStartElement elementName: String,
        namespaceURI: String?,
        qualifiedName qName: String?,
        attributes: [String: String] = [:]
    ) {
        guard failure == nil else { return }
        collector.start(JUnitCollector.Element(name: elementName), name: { elementName }, attributes: attributes)
        stopIfFailed(parser)
    }

    func parser(
        _ parser: XMLParser,
        didEndElement elementName: String,
        namespaceURI: String?,
        qualifiedName qName: String?
    ) {
        guard failure == nil else { return }
        collector.end(JUnitCollector.Element(name: elementName))
        stopIfFailed(parser)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard failure == nil else { return }
        collector.appendText(string)
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard failure == nil, collector.capturesText else { return }
        collector.appendText(String(decoding: CDATABlock, as: UTF8.self))
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        guard failure == nil else { return }
        let code = (parseError as NSError).code
        self.parseError = JUnitParser.malformed(
            line: max(1, parser.lineNumber),
            column: max(1, parser.columnNumber),
            reason: JUnitParser.reason(forXMLErrorCode: code)
        )
        parser.abortParsing()
    }
}
