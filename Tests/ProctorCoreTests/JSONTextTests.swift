import Foundation
import ProctorCore
import Testing

@Suite("JSON text")
struct JSONTextTests {
    @Test("parses every JSON type and round-trips through the writer")
    func roundTrip() throws {
        let text = #"{"a":[1,-2.5,3e2,true,false,null],"b":{"c":"d\"e\\f\n\t/","é":"☃"},"z":0}"#
        let value = try JSONValue.decode(Data(text.utf8))
        #expect(value["a"] == .array([.number(1), .number(-2.5), .number(300), .bool(true), .bool(false), .null]))
        #expect(value["b"]?["c"] == .string("d\"e\\f\n\t/"))
        #expect(value["b"]?["é"] == .string("☃"))
        #expect(value.encodedString() == #"{"a":[1,-2.5,300,true,false,null],"b":{"c":"d\"e\\f\n\t/","é":"☃"},"z":0}"#)
        #expect(JSONValue.decode(value.encodedString()) == value)
    }

    /// The writer checks eight bytes at a time: every byte JSON escapes, at every position in and around a word,
    /// must still be escaped, and the rest copied as it is.
    @Test("writes an integer's digits as String does, at every length and both ends of Int64")
    func integerDigits() {
        var numbers: [Int64] = [0, 9, 10, 99, 100, -1, -9, -10, .max, .min, .max - 1, .min + 1, 8_999_999_999_999_999]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            numbers += [power - 1, power, power + 1, -power, -(power - 1)]
        }
        for number in numbers {
            var written: [UInt8] = []
            Value.int(number).writeJSON(into: &written)
            let expected =
                number.magnitude < 9_000_000_000_000_000
                ? String(number) : JSONValue.number(Double(number)).encodedString()
            #expect(String(decoding: written, as: UTF8.self) == expected, "\(number)")
        }
    }

    @Test("escapes every byte that needs it wherever it sits in a word")
    func escapesAtEveryPosition() throws {
        let specials: [Character] = ["\"", "\\", "\n", "\u{0}", "\u{1F}", "\u{7}", "é", "☃", "\u{7F}", " ", "!", "]"]
        for length in 0...19 {
            for position in 0..<max(length, 1) {
                for special in specials {
                    var characters = Array(repeating: Character("a"), count: length)
                    if length > 0 { characters[position] = special }
                    let text = String(characters)
                    let written = JSONValue.string(text).encodedString()
                    #expect(JSONValue.decode(written) == .string(text), "\(written)")
                    let bytes = Array(text.utf8)
                    var fromBytes: [UInt8] = []
                    bytes.withUnsafeBufferPointer { JSONValue.writeString(utf8: $0, into: &fromBytes) }
                    #expect(String(decoding: fromBytes, as: UTF8.self) == written)
                    // Escapes only where JSON needs them: a plain string's bytes are copied between two quotes.
                    if !text.contains(where: { $0 == "\"" || $0 == "\\" || $0.asciiValue.map { $0 < 0x20 } == true }) {
                        #expect(written == "\"" + text + "\"")
                    }
                }
            }
        }
    }

    @Test("agrees with Foundation's decoder on escapes, surrogate pairs and whitespace")
    func agreesWithFoundation() throws {
        let samples = [
            #"  { "k" : [ "\u00e9\ud83d\ude00\b\f\r\u0001" , 1.25E-3 , -0 ] }  "#, #""plain""#, "42", "[]", "{}",
            #"{"nested":{"deeper":{"deepest":[{"x":"y"}]}}}"#,
        ]
        for sample in samples {
            let ours = try JSONValue.decode(Data(sample.utf8))
            let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(sample.utf8))
            #expect(ours == foundation, "\(sample)")
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(ours.encodedString().utf8)) == ours)
        }
    }

    @Test("writes byte for byte what Foundation's JSONEncoder writes with sorted keys and unescaped slashes")
    func matchesJSONEncoder() throws {
        let value = try JSONValue.decode(
            Data(
                #"{"b": [1, 2.5, -3, 1e-7, 12345678901234, true, false, null], "a": {"z": "x/y \"q\" \\ \n\t\u0001 é 😀", "é": {}, "B": []}, "": ""}"#
                    .utf8
            )
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(value.encodedString() == String(decoding: try encoder.encode(value), as: UTF8.self))
        #expect(value.encodedBytes() == Array(try encoder.encode(value)))
    }

    @Test("a record's response bytes are its public JSON, keys in the same order, with absent fields left out")
    func recordBytesMatchPublicJSON() {
        var run = Record(
            .runs,
            [
                "id": .string("r1"), "seq": .int(7), "group_id": .string("g"), "name": .string("nightly \"é\""),
                "created_at": .timestamp(1_700_000_000_000_001),
                "labels": .json(.object(["b": .string("2"), "a": .string("1")])),
                "tags": .strings(["x"]), "duration": .double(1.25), "cancel_requested": .bool(false), "comment": .null,
                "etag": .string("e"),
            ]
        )
        #expect(run.publicJSONBytes() == run.publicJSON().encodedBytes())
        run.values = [:]
        #expect(run.publicJSONBytes() == Array("{}".utf8))
        let user = Record(.users, ["id": .string("u"), "name": .string("n"), "password_hash": .string("secret")])
        #expect(user.publicJSONBytes() == user.publicJSON().encodedBytes())
        #expect(!String(decoding: user.publicJSONBytes(), as: UTF8.self).contains("secret"))
    }

    @Test("control characters are escaped so the output parses again")
    func escapesControlCharacters() {
        let value = JSONValue.string("a\u{01}b\u{1f}\"")
        #expect(value.encodedString() == #""a\u0001b\u001f\"""#)
        #expect(JSONValue.decode(value.encodedString()) == value)
    }

    @Test(
        "rejects malformed text",
        arguments: [
            "", " ", "{", "[1,]", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc",
            "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "[1] 2", "NaN", "Infinity", "0x10", "{\"a\" 1}",
        ]
    )
    func rejectsMalformed(_ text: String) {
        #expect(throws: (any Error).self) { try JSONValue.decode(Data(text.utf8)) }
        #expect(JSONValue.decode(text) == nil)
    }

    @Test("refuses nesting deeper than 512 levels instead of exhausting the stack")
    func depthLimit() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: (any Error).self) { try JSONValue.decode(Data(deep.utf8)) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try JSONValue.decode(Data(fine.utf8)).arrayValue?.count == 1)
    }

    @Test("rejects invalid UTF-8")
    func invalidUTF8() {
        #expect(throws: (any Error).self) { try JSONValue.decode(Data([0x22, 0xFF, 0xFE, 0x22])) }
    }
}

@Suite("Time-ordered ids")
struct TimeOrderedIDTests {
    @Test("are UUIDv7 strings that sort by their millisecond")
    func ordered() {
        let earlier = TimeOrderedID.make(milliseconds: 1_700_000_000_000)
        let later = TimeOrderedID.make(milliseconds: 1_700_000_000_001)
        #expect(earlier < later)
        #expect(UUID(uuidString: earlier) != nil)
        #expect(Array(earlier)[14] == "7")
        #expect("89ab".contains(Array(earlier)[19]))
        #expect(TimeOrderedID.make() != TimeOrderedID.make())
    }

    @Test("draw their random bits from a pool that never hands out a word twice, across its refills")
    func randomBitsAreFresh() {
        var random = BufferedRandom()
        let words = (0..<5_000).map { _ in random.next() }
        #expect(Set(words).count == words.count)
        // About half of all bits set: not a pool of zeros or of one repeated pattern.
        let ones = words.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect((150_000..<170_000).contains(ones))
        let ids = Set((0..<2_000).map { _ in TimeOrderedID.make(milliseconds: 1_700_000_000_000) })
        #expect(ids.count == 2_000)
    }
}

@Suite("RFC 3339 output")
struct RFC3339Tests {
    @Test("microseconds, Z, zero padding; agrees with parse")
    func format() {
        #expect(Timestamp.rfc3339(micros: 0) == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp.rfc3339(micros: 1_700_000_000_123_456) == "2023-11-14T22:13:20.123456Z")
        #expect(Timestamp.rfc3339(micros: -1) == "1969-12-31T23:59:59.999999Z")
        let now = Timestamp.now()
        #expect(Timestamp.parse(Timestamp.rfc3339(micros: now)) == now)
    }

    /// Times written by hand from the civil date: known texts across eras, leap days, the epoch and before it, the
    /// four-digit years' edges and beyond them (through `gmtime_r`); every four-digit time reads back through
    /// ``Timestamp/parse(_:)`` to the same microsecond; quoted and without `Z` are the same text.
    @Test func theWriterPrintsCivilTimes() {
        let known: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (-1, "1969-12-31T23:59:59.999999Z"),
            (-86_400_000_000, "1969-12-31T00:00:00.000000Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00.000000Z"),
            (4_107_542_400_000_000, "2100-03-01T00:00:00.000000Z"),
            (4_107_542_399_999_999, "2100-02-28T23:59:59.999999Z"),
            (1_700_000_000_123_456, "2023-11-14T22:13:20.123456Z"),
            (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"),
            (253_402_300_800_000_000, "10000-01-01T00:00:00.000000Z"),
            (-62_167_219_200_000_000, "0000-01-01T00:00:00.000000Z"),
        ]
        for (micros, text) in known {
            #expect(Timestamp.rfc3339(micros: micros) == text, "\(micros)")
        }
        // Every hour, day and month comes up at this odd step over the four-digit years.
        let samples: [Int64] = Array(
            stride(from: -62_135_596_800_000_000, to: 253_402_300_799_999_999, by: 15_780_000_012_345_677)
        )
        for micros in samples {
            let text = Timestamp.rfc3339(micros: micros)
            #expect(Timestamp.parse(text) == micros, "\(text)")
            for (zulu, quoted) in [(true, true), (false, true), (false, false)] {
                var out: [UInt8] = []
                Timestamp.writeRFC3339(micros: micros, zulu: zulu, quoted: quoted, into: &out)
                let expected = zulu ? text : String(text.dropLast())
                #expect(String(decoding: out, as: UTF8.self) == (quoted ? "\"\(expected)\"" : expected))
            }
        }
    }

    /// A value's JSON written straight to bytes equals the JSON of its ``Value/json`` form.
    @Test func valuesWriteTheirJSONDirectly() {
        let values: [Value] = [
            .null, .string("a\"b\\c\n"), .int(0), .int(-42), .int(8_999_999_999_999_999),
            .int(9_000_000_000_000_000), .int(Int64.min), .int(Int64.max), .double(1.5), .double(3), .bool(true),
            .timestamp(1_700_000_000_123_456), .timestamp(-1), .strings([]), .strings(["x", "é\u{1}"]),
            .json(.object(["b": .number(1), "a": .array([.null, .string("z")])])),
        ]
        for value in values {
            var direct: [UInt8] = []
            value.writeJSON(into: &direct)
            #expect(direct == value.json.encodedBytes(), "\(value)")
        }
    }
}
