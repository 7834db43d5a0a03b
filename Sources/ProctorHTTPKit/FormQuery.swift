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
    ///
    /// It works on the query's UTF-8 bytes, as `parse_qsl` splits on code points: splitting the `String` itself
    /// walked grapheme clusters (a `Character` copied per byte), and Foundation's `replacingOccurrences` turned
    /// each `+` into a space before the escapes were decoded, on every request of every door that reads a form.
    public static func pairs(_ raw: String?, keepBlank: Bool) -> [(String, String)] {
        guard let raw, !raw.isEmpty else { return [] }
        let bytes = Array(raw.utf8)
        var pairs: [(String, String)] = []
        for item in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            guard let equals = item.firstIndex(of: UInt8(ascii: "=")) else {
                if keepBlank { pairs.append((formDecode(item), "")) }
                continue
            }
            let value = item[(equals + 1)...]
            guard !value.isEmpty || keepBlank else { continue }
            pairs.append((formDecode(item[..<equals]), formDecode(value)))
        }
        return pairs
    }

    /// One form-encoded key or value: `+` is a space, `%XX` a byte (so `%2B` is a plus), malformed escapes stay.
    package static func formDecode(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        return decoded(bytes, plusIsSpace: true)
    }

    /// Python's `unquote`: `%XX` runs become UTF-8 (invalid bytes become U+FFFD), malformed escapes stay.
    public static func percentDecode(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        return decoded(Array(text.utf8)[...], plusIsSpace: false)
    }

    /// `%XX` runs decoded to bytes (and `+` to a space for a form), read as UTF-8 (invalid bytes become U+FFFD).
    private static func decoded(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
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
