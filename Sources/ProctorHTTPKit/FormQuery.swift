import Foundation
import HummingbirdCore
import ProctorCore

extension URI {
    /// The query's parameters decoded as a form, as HTML forms and Python's `urlencode` (cdrouter.py, dciclient,
    /// `requests`) encode them: `+` is a space and `%2B` a plus, `%XX` runs are UTF-8.
    ///
    /// Hummingbird's `queryParameters` leaves a `+` as it is, so `filter=tags%40%3E%7Bnight+build%7D` looked for
    /// the tag `night+build`. The query language's parameters (`filter`, `sort`, …) are read through this one; DCI
    /// and KernelCI decode their whole queries the same way.
    public var formParameters: FlatDictionary<Substring, Substring> {
        FlatDictionary(
            FormDecoding.pairs(query, keepBlank: true).map { (key: Substring($0.0), value: Substring($0.1)) }
        )
    }
}

/// Form decoding as Python's `urllib.parse` does it, shared by every door that reads a form-encoded query.
public enum FormDecoding {
    /// Splits a raw query on `&` and decodes each `key=value` as a form (`+` is a space, `%XX` as UTF-8),
    /// like Python's `parse_qsl`. Items without `=` are dropped; with `keepBlank: false` so are empty values.
    public static func pairs(_ raw: String?, keepBlank: Bool) -> [(String, String)] {
        guard let raw, !raw.isEmpty else { return [] }
        var pairs: [(String, String)] = []
        for item in raw.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = item.firstIndex(of: "=") else {
                if keepBlank { pairs.append((formDecode(item), "")) }
                continue
            }
            let value = item[item.index(after: equals)...]
            guard !value.isEmpty || keepBlank else { continue }
            pairs.append((formDecode(item[..<equals]), formDecode(value)))
        }
        return pairs
    }

    package static func formDecode(_ text: Substring) -> String {
        percentDecode(text.replacingOccurrences(of: "+", with: " "))
    }

    /// Python's `unquote`: `%XX` runs become UTF-8 (invalid bytes become U+FFFD), malformed escapes stay.
    public static func percentDecode(_ text: String) -> String {
        guard text.contains("%") else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
