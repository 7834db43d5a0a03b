import ProctorHTTPKit
import Testing

/// Every door reads its form-encoded queries as Python's `urllib.parse.parse_qsl` writes and reads them (the
/// clients are Python): the expected pairs below are what `parse_qsl` answers for the same query.
@Suite struct FormDecodingTests {
    static let query = "a=1&b=x+y&c=%2B&d=%zz&e=&f&g=%E2%82%AC&h=caf%C3&&=v&sp=a%20b+c&tail=%4"

    @Test func pairsAreDecodedAsParseQslDecodesThem() {
        let expected: [(String, String)] = [
            ("a", "1"), ("b", "x y"), ("c", "+"), ("d", "%zz"), ("e", ""), ("f", ""), ("g", "€"), ("h", "caf\u{FFFD}"),
            ("", "v"), ("sp", "a b c"), ("tail", "%4"),
        ]
        let pairs = FormDecoding.pairs(Self.query, keepBlank: true)
        #expect(pairs.map(\.0) == expected.map(\.0))
        #expect(pairs.map(\.1) == expected.map(\.1))
    }

    @Test func blankValuesAreDroppedUnlessKept() {
        let pairs = FormDecoding.pairs(Self.query, keepBlank: false)
        #expect(pairs.map(\.0) == ["a", "b", "c", "d", "g", "h", "", "sp", "tail"])
        #expect(FormDecoding.pairs(nil, keepBlank: true).isEmpty)
        #expect(FormDecoding.pairs("", keepBlank: true).isEmpty)
    }

    @Test func aPathIsPercentDecodedWithItsPlusesKept() {
        #expect(FormDecoding.percentDecode("/files/a+b%20c%2Fd") == "/files/a+b c/d")
        #expect(FormDecoding.percentDecode("/plain") == "/plain")
        #expect(FormDecoding.percentDecode("/bad%G1%") == "/bad%G1%")
    }
}
