import Foundation
import Testing

@testable import ProctorCore

/// ``JUnitScanner`` against the FoundationXML path it replaced: same cases, same rejections.
@Suite struct JUnitScannerTests {
    /// Chunk sizes small enough to cut every name, reference, tag and line end, and one large one.
    static let chunkSizes = [1, 2, 3, 7, 64, 64 * 1024]

    struct Parsed: Equatable {
        var cases: [TestCase] = []
        var summary = TestSummary()
    }

    /// The scanner's result, or nil when it hands the document to FoundationXML.
    static func scanned(_ data: Data, chunkSize: Int, maxFieldBytes: Int = JUnitParser.defaultMaxFieldBytes) throws
        -> Parsed?
    {
        var parsed = Parsed()
        let summary = try JUnitParser.scan(
            chunkSize: chunkSize,
            maxFieldBytes: maxFieldBytes,
            read: JUnitScanner.reader(data: data)
        ) { parsed.cases.append($0) }
        guard let summary else { return nil }
        parsed.summary = summary
        return parsed
    }

    static func viaFoundationXML(_ data: Data, maxFieldBytes: Int = JUnitParser.defaultMaxFieldBytes) throws -> Parsed {
        var parsed = Parsed()
        parsed.summary = try JUnitParser.parse(stream: InputStream(data: data), maxFieldBytes: maxFieldBytes) {
            parsed.cases.append($0)
        }
        return parsed
    }

    // MARK: Differential

    @Test func generatedDocumentsParseAsWithFoundationXML() throws {
        var random = SplitMix64(seed: 20_261_207)
        for index in 0..<60 {
            let text = GeneratedJUnit.document(&random)
            let data = Data(text.utf8)
            let maxFieldBytes = [12, 40, 64 * 1024][index % 3]
            let expected = try Self.viaFoundationXML(data, maxFieldBytes: maxFieldBytes)
            for chunkSize in Self.chunkSizes {
                let scanned = try #require(try Self.scanned(data, chunkSize: chunkSize, maxFieldBytes: maxFieldBytes))
                #expect(scanned == expected, "document \(index), chunks of \(chunkSize):\n\(text)")
            }
        }
    }

    @Test func theTwoFixturesAndTheGeneratorAgree() throws {
        let fixture = try Data(
            contentsOf: ResultsTests.fixtures.appendingPathComponent("junit/pytest-junit.xml")
        )
        let generated = Data(ResultsTests.generatedJUnit(cases: 300).utf8)
        for data in [fixture, generated] {
            let expected = try Self.viaFoundationXML(data)
            for chunkSize in [1, 5, 4096] {
                #expect(try Self.scanned(data, chunkSize: chunkSize) == expected)
            }
        }
    }

    @Test func textBeyondTheCapIsCutAlikeWhateverTheChunks() throws {
        // Two- and four-byte characters around the cut, split by references and CDATA.
        let text = String(repeating: "é😀a&amp;<![CDATA[日本]]>", count: 40)
        let data = Data("<testsuite><testcase name=\"t\"><system-out>\(text)</system-out></testcase></testsuite>".utf8)
        for maxFieldBytes in [0, 1, 2, 3, 5, 17, 100] {
            let expected = try Self.viaFoundationXML(data, maxFieldBytes: maxFieldBytes)
            for chunkSize in Self.chunkSizes {
                #expect(try Self.scanned(data, chunkSize: chunkSize, maxFieldBytes: maxFieldBytes) == expected)
            }
        }
    }

    @Test func referencesAndLineEndsAreDecodedAsXMLRequires() throws {
        let xml =
            "<testsuite name='a &quot;b&quot; &#x41;&#66;\tc\r\nd\re'>"
            + "<testcase name=\"x\"><system-out>1\r\n2\r3&#13;4&lt;&gt;&amp;&apos;&quot;<![CDATA[5\r\n6]]></system-out>"
            + "</testcase></testsuite>"
        for chunkSize in Self.chunkSizes {
            let parsed = try #require(try Self.scanned(Data(xml.utf8), chunkSize: chunkSize))
            #expect(parsed.cases.first?.suite == "a \"b\" AB c d e")
            // CRs in CDATA stay, as libxml2 leaves them.
            #expect(parsed.cases.first?.systemOut == "1\n2\n3\r4<>&'\"5\r\n6")
        }
        #expect(try Self.viaFoundationXML(Data(xml.utf8)) == Self.scanned(Data(xml.utf8), chunkSize: 1))
    }

    @Test func plainDecimalTimesReadAsStrtodReadsThem() {
        var random = SplitMix64(seed: 7)
        var samples = ["0", "0.0", "1.", ".5", "007.250", "123456789012345", "0.000000000000001", "999999999999999"]
        for _ in 0..<20_000 {
            let digits = String(
                (0..<Int.random(in: 1...15, using: &random)).map { _ in
                    Character(String(Int.random(in: 0...9, using: &random)))
                }
            )
            let point = Int.random(in: 0...digits.count, using: &random)
            samples.append(String(digits.prefix(point)) + "." + String(digits.dropFirst(point)))
        }
        for text in samples {
            #expect(JUnitCollector.seconds(text) == Double(text) ?? 0, "\(text)")
        }
    }

    @Test func aProcessingInstructionWithoutDataIsSkipped() throws {
        // FoundationXML on Linux crashes on these (strlen of a NULL data pointer), so the generator avoids them.
        let xml = "<?first?><testsuite><?inside?><testcase name=\"t\"><?x?></testcase></testsuite><?last?>"
        for chunkSize in Self.chunkSizes {
            #expect(try Self.scanned(Data(xml.utf8), chunkSize: chunkSize)?.cases.map(\.name) == ["t"])
        }
    }

    // MARK: Malformed input

    /// Malformed documents, one per class of error the scanner checks; libxml2 rejects each as well.
    static let malformed: [(name: String, bytes: [UInt8])] = [
        ("mismatched close tag", Array("<testsuite name=\"s\">\n  <testcase name=\"a\">\n  </testsuite>".utf8)),
        ("unterminated start tag", Array("<testsuite>\n<testcase name=\"a\"".utf8)),
        ("unterminated end tag", Array("<testsuite></testsuite".utf8)),
        ("unterminated comment", Array("<testsuite><!-- never closed".utf8)),
        ("unterminated CDATA", Array("<testsuite><testcase><system-out><![CDATA[never".utf8)),
        ("unterminated processing instruction", Array("<testsuite><?pi never".utf8)),
        ("unterminated attribute value", Array("<testsuite name=\"never".utf8)),
        ("bare ampersand", Array("<testsuite>\n<testcase name=\"a & b\"/></testsuite>".utf8)),
        ("bare ampersand in text", Array("<testsuite>a & b</testsuite>".utf8)),
        ("unknown entity", Array("<testsuite>&nbsp;</testsuite>".utf8)),
        ("reference without semicolon", Array("<testsuite>&amp</testsuite>".utf8)),
        ("'<' in an attribute value", Array("<testsuite name=\"a<b\"/>".utf8)),
        ("attribute given twice", Array("<testsuite name=\"a\" name=\"b\"/>".utf8)),
        ("unquoted attribute value", Array("<testsuite name=a/>".utf8)),
        ("attribute without a value", Array("<testsuite name/>".utf8)),
        ("attributes without space between", Array("<testsuite a=\"1\"b=\"2\"/>".utf8)),
        ("text after the root", Array("<testsuite/>text".utf8)),
        ("second root element", Array("<testsuite/><testsuite/>".utf8)),
        ("unclosed root", Array("<testsuite><testcase/>".utf8)),
        ("empty document", Array("".utf8)),
        ("only white space", Array("  \n ".utf8)),
        ("only a comment", Array("<!-- nothing else -->".utf8)),
        ("control character", Array("<testsuite>\u{1}</testsuite>".utf8)),
        ("control character in an attribute", Array("<testsuite name=\"\u{8}\"/>".utf8)),
        ("control character by reference", Array("<testsuite>&#1;</testsuite>".utf8)),
        ("NUL by reference in an attribute", Array("<testsuite name=\"&#0;\"/>".utf8)),
        ("surrogate by reference", Array("<testsuite>&#xD800;</testsuite>".utf8)),
        ("reference beyond Unicode", Array("<testsuite>&#x110000;</testsuite>".utf8)),
        ("']]>' in text", Array("<testsuite>]]></testsuite>".utf8)),
        ("nested elements crossed", Array("<testsuite><a><b></a></b></testsuite>".utf8)),
        ("XML declaration not at the start", Array("<testsuite><?xml version=\"1.0\"?></testsuite>".utf8)),
        ("name expected", Array("<testsuite><1a/></testsuite>".utf8)),
        ("invalid UTF-8", [UInt8]("<testsuite>".utf8) + [0xFF] + [UInt8]("</testsuite>".utf8)),
        ("truncated UTF-8", [UInt8]("<testsuite>".utf8) + [0xC3] + [UInt8]("</testsuite>".utf8)),
        ("overlong UTF-8", [UInt8]("<testsuite name=\"".utf8) + [0xC0, 0xAF] + [UInt8]("\"/>".utf8)),
        ("CDATA outside the root", Array("<![CDATA[x]]><testsuite/>".utf8)),
        ("end tag before the root", Array(" </testsuite>".utf8)),
    ]

    @Test(arguments: malformed.indices)
    func malformedInputIsRejectedByBothParsers(index: Int) throws {
        let (name, bytes) = Self.malformed[index]
        let data = Data(bytes)
        let old = ResultsTests.thrownError { _ = try Self.viaFoundationXML(data) }
        #expect(old?.code == .badRequest, "FoundationXML on \(name)")
        for chunkSize in Self.chunkSizes {
            let error = ResultsTests.thrownError {
                _ = try JUnitParser.parse(data: data, chunkSize: chunkSize) { _ in }
            }
            #expect(error?.code == .badRequest, "\(name), chunks of \(chunkSize)")
            #expect(error?.field == "file")
            #expect(
                error?.message.hasPrefix("malformed JUnit XML at line ") == true,
                "\(name): \(String(describing: error))"
            )
        }
    }

    @Test func errorsNameTheLineAndColumn() throws {
        func message(_ xml: String, chunkSize: Int = 64 * 1024) -> String? {
            ResultsTests.thrownError { _ = try JUnitParser.parse(data: Data(xml.utf8), chunkSize: chunkSize) { _ in } }?
                .message
        }
        for chunkSize in Self.chunkSizes {
            #expect(
                message("<testsuite name=\"s\">\n  <testcase name=\"a\">\n  </testsuite>", chunkSize: chunkSize)
                    == "malformed JUnit XML at line 3, column 15: closing tag does not match the opening tag"
            )
            #expect(message("", chunkSize: chunkSize) == "malformed JUnit XML at line 1, column 1: document is empty")
        }
        // Columns count characters, not bytes.
        #expect(
            message("<testsuite name=\"é\">\n<é a=\"1\" a=\"2\"/></testsuite>")
                == "malformed JUnit XML at line 2, column 10: attribute given twice"
        )
        #expect(
            message("<testsuite>\n\n  x &nbsp;</testsuite>")
                == "malformed JUnit XML at line 3, column 5: undeclared entity"
        )
        #expect(
            message("<testsuite>\n<testcase>\n<!-- open")
                == "malformed JUnit XML at line 3, column 10: comment not terminated"
        )
        #expect(
            message("<testsuite name=\"a<b\"/>")
                == "malformed JUnit XML at line 1, column 19: '<' in an attribute value"
        )
        #expect(
            message("<testsuite/>\n<testsuite/>")
                == "malformed JUnit XML at line 2, column 1: extra content at the end of the document"
        )
    }

    @Test func aRootThatIsNotJUnitIsNamed() throws {
        let error = ResultsTests.thrownError {
            _ = try JUnitParser.parse(data: Data("<html><body/></html>".utf8), chunkSize: 2) { _ in }
        }
        #expect(
            error?.message
                == "not a JUnit XML document: the root element is <html>, expected <testsuites> or <testsuite>"
        )
    }

    @Test func anErrorFromOnCaseStopsTheScan() throws {
        struct Stop: Error {}
        var seen = 0
        #expect(throws: Stop.self) {
            _ = try JUnitParser.parse(data: Data(ResultsTests.generatedJUnit(cases: 50).utf8), chunkSize: 3) { _ in
                seen += 1
                if seen == 2 { throw Stop() }
            }
        }
        #expect(seen == 2)
    }

    // MARK: FoundationXML fallback

    @Test func aDeclaredLatin1DocumentGoesToFoundationXML() throws {
        let data =
            Data("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<testsuite name=\"caf".utf8) + Data([0xE9])
            + Data("\"><testcase name=\"na".utf8) + Data([0xEF]) + Data("ve\"/></testsuite>".utf8)
        #expect(try Self.scanned(data, chunkSize: 7) == nil)
        let cases = try JUnitParser.parseAll(data: data)
        #expect(cases.map(\.suite) == ["café"])
        #expect(cases.map(\.name) == ["naïve"])
    }

    @Test func aDoctypeGoesToFoundationXML() throws {
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE testsuite [<!ENTITY who "world">]>
            <testsuite name="s"><testcase classname="c" name="hello"/></testsuite>
            """
        #expect(try Self.scanned(Data(xml.utf8), chunkSize: 1) == nil)
        let cases = try JUnitParser.parseAll(data: Data(xml.utf8))
        #expect(cases == [TestCase(suite: "s", classname: "c", name: "hello", status: .passed)])
    }

    @Test func byteOrderMarks() throws {
        let xml = "<testsuite name=\"é\"><testcase name=\"t\"/></testsuite>"
        let expected = try JUnitParser.parseAll(data: Data(xml.utf8))
        // UTF-8 with a BOM stays with the scanner; UTF-16 goes to FoundationXML.
        let utf8 = Data([0xEF, 0xBB, 0xBF]) + Data(xml.utf8)
        #expect(try Self.scanned(utf8, chunkSize: 1)?.cases == expected)
        let utf16 = Data([0xFF, 0xFE]) + xml.data(using: .utf16LittleEndian)!
        #expect(try Self.scanned(utf16, chunkSize: 64) == nil)
        #expect(try JUnitParser.parseAll(data: utf16) == expected)
    }

    @Test func declarationsTheScannerReads() throws {
        for declaration in [
            "<?xml version=\"1.0\"?>", "<?xml version='1.0' encoding='utf-8'?>",
            "<?xml version=\"1.0\" encoding=\"US-ASCII\" standalone=\"yes\"?>", "<?xml version = \"1.1\" ?>",
        ] {
            let data = Data("\(declaration)\n<testsuite><testcase name=\"t\"/></testsuite>".utf8)
            #expect(try Self.scanned(data, chunkSize: 3)?.cases.map(\.name) == ["t"], "\(declaration)")
        }
    }

    @Test func anExternalEntityIsNeverRead() throws {
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE testsuite [<!ENTITY x SYSTEM "file:///etc/passwd">]>
            <testsuite name="s"><testcase name="t"><system-out>before &x; after</system-out></testcase></testsuite>
            """
        do {
            let cases = try JUnitParser.parseAll(data: Data(xml.utf8))
            #expect(!cases.contains { ($0.systemOut ?? "").contains("root:") })
        } catch let error as ProctorError {
            #expect(error.code == .badRequest)
        }
    }

    /// FoundationXML crashes on a processing instruction without data: a document it would read (a DOCTYPE, UTF-16)
    /// holding one is refused before it gets there, from memory and from a file.
    @Test func aDatalessInstructionNeverReachesFoundationXML() throws {
        let doctype =
            "<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite>\n<testsuite name=\"s\">\n<?x?><testcase name=\"t\"/></testsuite>"
        var utf16 = Data([0xFF, 0xFE])
        utf16.append(
            doctype.replacingOccurrences(of: "<!DOCTYPE testsuite>", with: "").data(using: .utf16LittleEndian)!
        )
        for data in [Data(doctype.utf8), utf16] {
            #expect(throws: ProctorError.self) { _ = try JUnitParser.parseAll(data: data) }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "dataless-\(UUID().uuidString).xml"
            )
            try data.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            do {
                _ = try JUnitParser.parse(fileAt: file) { _ in }
                Issue.record("the document was read")
            } catch let error as ProctorError {
                #expect(error.code == .badRequest)
                #expect(error.message.contains("processing instruction without data"))
            }
        }
        // Data after the target, or none but a space, is left to libxml2, which reads it.
        let spaced = doctype.replacingOccurrences(of: "<?x?>", with: "<?x y?><?z ?>")
        #expect(try JUnitParser.parseAll(data: Data(spaced.utf8)).map(\.name) == ["t"])
    }
}

/// A small seedable generator, so a failing generated document can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// Random but well-formed JUnit documents using every construct the scanner reads.
enum GeneratedJUnit {
    static func document(_ random: inout SplitMix64) -> String {
        var out = ""
        if Bool.random(using: &random) {
            out += [
                "<?xml version=\"1.0\"?>", "<?xml version='1.0' encoding='UTF-8'?>",
                "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"no\" ?>",
            ].randomElement(using: &random)!
            out += ["\n", "\r\n", ""].randomElement(using: &random)!
        }
        if Bool.random(using: &random) { out += "<!-- generated - by a test -->\n" }
        if Bool.random(using: &random) { out += "<?producer pytest 8.0 ?>\n" }
        let root = Bool.random(using: &random) ? "testsuites" : "testsuite"
        out += "<\(root)\(attributes([("name", value(&random)), ("tests", "3")], &random))>"
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            out += suite(depth: 0, &random)
        }
        if root == "testsuites", Bool.random(using: &random) { out += testcase(&random) }
        out += "</\(root)\(Bool.random(using: &random) ? " " : "")>"
        if Bool.random(using: &random) { out += "\n<!-- after the root -->\n<?done now?>" }
        return out + (Bool.random(using: &random) ? "\n" : "")
    }

    static func suite(depth: Int, _ random: inout SplitMix64) -> String {
        var out = "<testsuite\(attributes([("name", value(&random)), ("time", "1.0")], &random))>\n"
        if Bool.random(using: &random) {
            out += "<properties><property name=\"k\" value=\"v &amp; w\"/></properties>"
        }
        if Bool.random(using: &random) { out += "<system-out>suite output \(text(&random))</system-out>" }
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            out += testcase(&random) + filler(&random)
        }
        if depth < 2, Bool.random(using: &random) { out += suite(depth: depth + 1, &random) }
        return out + "</testsuite>\n"
    }

    static func testcase(_ random: inout SplitMix64) -> String {
        let time = ["1.5", "0", "", "1,234.5", "abc", "-1", "0.001", "2e3"].randomElement(using: &random)!
        var attributeList = [("classname", value(&random)), ("name", value(&random)), ("time", time)]
        if Bool.random(using: &random) { attributeList.append(("file", "a.py")) }
        if Int.random(in: 0..<4, using: &random) == 0 { attributeList[0].0 = "class" }
        let open = "<testcase\(attributes(attributeList.shuffled(using: &random), &random))"
        if Int.random(in: 0..<4, using: &random) == 0 { return open + ["/>", " />"].randomElement(using: &random)! }
        var out = open + ">"
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            out += filler(&random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0, 1, 2:
                let outcome = ["failure", "error", "skipped"].randomElement(using: &random)!
                var list: [(String, String)] = [("type", "AssertionError")]
                switch Int.random(in: 0..<3, using: &random) {
                case 0: list.append(("message", value(&random)))
                case 1: list.append(("message", ""))
                default: break
                }
                let start = "<\(outcome)\(attributes(list.shuffled(using: &random), &random))"
                out += Bool.random(using: &random) ? start + "/>" : start + ">\(text(&random))</\(outcome)>"
            case 3: out += "<system-out>\(text(&random))</system-out>"
            case 4: out += "<system-err>\(text(&random))</system-err>"
            case 5: out += "<flakyFailure message=\"retry\"><system-out>\(text(&random))</system-out></flakyFailure>"
            default: out += "<properties><property name=\"a\" value=\"b\"/></properties>"
            }
        }
        return out + filler(&random) + "</testcase>"
    }

    /// Attributes in either quote style, with or without space around `=`.
    static func attributes(_ list: [(String, String)], _ random: inout SplitMix64) -> String {
        list.map { name, value in
            let quote = Bool.random(using: &random) ? "\"" : "'"
            let escaped = value.replacingOccurrences(of: quote, with: quote == "\"" ? "&quot;" : "&apos;")
            let equals = [
                "=", " = ", "\t=\n", "=  ",
            ]
            .randomElement(using: &random)!
            return [" ", "\n  ", "\t"].randomElement(using: &random)! + name + equals + quote + escaped + quote
        }
        .joined()
    }

    /// An attribute value in its escaped form (quotes are escaped by ``attributes(_:_:)``).
    static func value(_ random: inout SplitMix64) -> String {
        let pieces = [
            "test_a", "pkg.module", " ", "&amp;", "&lt;", "&gt;", "&#233;", "&#x1F600;", "é", "日本", "😀", "\t", "\n",
            "\r\n", "&#9;", "&#10;", "\"", "'", ">", "[1]",
        ]
        return (0..<Int.random(in: 0...6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    /// Element content: text, references, CDATA, comments and processing instructions, sometimes long.
    static func text(_ random: inout SplitMix64) -> String {
        let pieces = [
            "Traceback (most recent call last):\n", "  assert x == 1", "&lt;&amp;&gt;", "&quot;&apos;", "&#10;",
            "&#x2603;", "é", "日本語", "😀", "\r\n", "\r", "]", "]]", "] ]>", "<![CDATA[<raw> & ]] > ]]>",
            "<![CDATA[]]>", "<![CDATA[a\r\nb\rc]]>", "<!-- a comment -->", "<?pi data?>", "   ", "\t", "line\n",
            String(repeating: "long text é ", count: 8),
        ]
        return (0..<Int.random(in: 0...10, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    /// White space, comments or processing instructions between elements.
    static func filler(_ random: inout SplitMix64) -> String {
        ["", "\n", "\n  ", "<!-- c -->", "<?pi x?>", "\r\n\t"].randomElement(using: &random)!
    }
}
