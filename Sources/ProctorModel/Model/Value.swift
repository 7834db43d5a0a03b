import Foundation

/// A typed field value, the currency between dialects, the core and the store.
///
/// Every resource is a set of named values rather than a bespoke struct, so that one store, one
/// query compiler and one generic API serve all resources; the schema says which type each field has.
public enum Value: Sendable, Hashable {
    case null
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    /// A point in time, stored as microseconds since the Unix epoch (UTC).
    case timestamp(Int64)
    case strings([String])
    case json(JSONValue)

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .timestamp(let t): return t
        case .double(let d) where d.rounded() == d: return Int64(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var stringsValue: [String]? {
        if case .strings(let s) = self { return s }
        return nil
    }

    public var jsonValue: JSONValue? {
        if case .json(let j) = self { return j }
        return nil
    }

    /// The value as plain JSON, the way the native API shows it (timestamps as RFC 3339 with microseconds).
    public var json: JSONValue {
        switch self {
        case .null: return .null
        case .string(let s): return .string(s)
        case .int(let i): return .number(Double(i))
        case .double(let d): return .number(d)
        case .bool(let b): return .bool(b)
        case .timestamp(let t): return .string(Timestamp.rfc3339(micros: t))
        case .strings(let a): return .array(a.map { .string($0) })
        case .json(let j): return j
        }
    }
}

extension Value {
    /// Appends the JSON of ``json`` to `out` without building it first: a timestamp's text, a list of strings'
    /// array and a number's box are written straight as bytes (a record's public JSON is every page's hot path).
    public func writeJSON(into out: inout [UInt8]) {
        switch self {
        case .timestamp(let micros): Timestamp.writeRFC3339(micros: micros, quoted: true, into: &out)
        case .int(let number) where number.magnitude < 9_000_000_000_000_000:
            // The digits ``JSONText`` writes for the same number as a double.
            JSONText.writeInteger(number, into: &out)
        case .strings(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.write(.string(item), into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .json(let value): JSONText.write(value, into: &out)
        default: JSONText.write(json, into: &out)
        }
    }
}

/// Clock helpers: Proctor keeps time as integer microseconds since the epoch, the same in SQLite and PostgreSQL.
public enum Timestamp {
    public static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }

    public static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    public static func date(micros: Int64) -> Date {
        Date(timeIntervalSince1970: Double(micros) / 1_000_000)
    }

    /// `2019-08-13T19:08:54.914958Z`: UTC with six fractional digits (``writeRFC3339(micros:zulu:quoted:into:)``'s
    /// text).
    public static func rfc3339(micros: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(27)
        writeRFC3339(micros: micros, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A time outside the four-digit years, through `gmtime_r`: a year of more digits, or a negative one.
    private static func rfc3339OutsideFourDigitYears(micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
            Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour),
            Int(parts.tm_min),
            Int(parts.tm_sec),
            Int(fraction)
        )
    }

    /// Appends `2019-08-13T19:08:54.914958Z` (UTC, six fractional digits) to `out`, in JSON's quotes when
    /// `quoted`, without its `Z` unless `zulu` (DCI writes its times without a zone). Written by hand from the civil
    /// date, without a String or `gmtime_r`: every row of every page has two or three times.
    public static func writeRFC3339(micros: Int64, zulu: Bool = true, quoted: Bool = false, into out: inout [UInt8]) {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = Int(micros - seconds * 1_000_000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        // Civil from days, after Howard Hinnant's algorithm (the inverse of ``civil(year:month:day:hour:minute:second:)``).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        guard (0...9999).contains(year) else {
            let text = rfc3339OutsideFourDigitYears(micros: micros)
            if quoted { out.append(UInt8(ascii: "\"")) }
            out.append(contentsOf: (zulu ? Substring(text) : text.dropLast()).utf8)
            if quoted { out.append(UInt8(ascii: "\"")) }
            return
        }
        // Each field at its fixed offset, two digits at a time from a table: a page writes hundreds of times.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 29) { buffer in
            let bytes = buffer.baseAddress!
            let start = quoted ? 1 : 0
            if quoted { bytes[0] = UInt8(ascii: "\"") }
            digitPairs.withUnsafeBufferPointer { pairs in
                func put(_ value: Int, at offset: Int) {
                    bytes[start + offset] = pairs[2 * value]
                    bytes[start + offset + 1] = pairs[2 * value + 1]
                }
                put(year / 100, at: 0)
                put(year % 100, at: 2)
                bytes[start + 4] = UInt8(ascii: "-")
                put(month, at: 5)
                bytes[start + 7] = UInt8(ascii: "-")
                put(day, at: 8)
                bytes[start + 10] = UInt8(ascii: "T")
                put(secondOfDay / 3600, at: 11)
                bytes[start + 13] = UInt8(ascii: ":")
                put(secondOfDay / 60 % 60, at: 14)
                bytes[start + 16] = UInt8(ascii: ":")
                put(secondOfDay % 60, at: 17)
                bytes[start + 19] = UInt8(ascii: ".")
                put(fraction / 10_000, at: 20)
                put(fraction / 100 % 100, at: 22)
                put(fraction % 100, at: 24)
            }
            var end = start + 26
            if zulu {
                bytes[end] = UInt8(ascii: "Z")
                end += 1
            }
            if quoted {
                bytes[end] = UInt8(ascii: "\"")
                end += 1
            }
            out.append(contentsOf: UnsafeBufferPointer(start: bytes, count: end))
        }
    }

    /// `00`, `01`, … `99`: two digits at a time.
    private static let digitPairs: [UInt8] = (0..<100).flatMap {
        [UInt8(ascii: "0") + UInt8($0 / 10), UInt8(ascii: "0") + UInt8($0 % 10)]
    }

    /// Parses RFC 3339 / ISO 8601 timestamps (with or without fraction and zone; no zone means UTC),
    /// plain dates (`YYYY-MM-DD`, `YYYYMMDD`) and integers of other lengths (epoch milliseconds). A date or time that
    /// does not exist (see ``civil(year:month:day:hour:minute:second:)``) is nil.
    public static func parse(_ text: String) -> Int64? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return nil }
        if s.allSatisfy({ $0.isNumber }) {
            // Eight digits are a date, `YYYYMMDD`, or nothing: `20260231` is not read as 20,260,231 ms after 1970.
            if s.count == 8 { return parseDate(s, compact: true) }
            if let ms = Int64(s) { return ms * 1000 }
            return nil
        }
        if s.count == 10, let date = parseDate(s, compact: false) { return date }
        return parseDateTime(s)
    }

    private static func parseDate(_ s: String, compact: Bool) -> Int64? {
        let digits = s.filter { $0 != "-" }
        guard digits.count == 8, digits.allSatisfy({ $0.isNumber }) else { return nil }
        if !compact {
            let chars = Array(s)
            guard chars[4] == "-", chars[7] == "-" else { return nil }
        }
        let d = Array(digits)
        guard let y = Int(String(d[0..<4])), let m = Int(String(d[4..<6])), let day = Int(String(d[6..<8])) else {
            return nil
        }
        return civil(year: y, month: m, day: day, hour: 0, minute: 0, second: 0).map { $0 * 1_000_000 }
    }

    private static func parseDateTime(_ s: String) -> Int64? {
        let chars = Array(s)
        func num(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= chars.count else { return nil }
            let part = chars[range]
            guard part.allSatisfy({ $0.isNumber }) else { return nil }
            return Int(String(part))
        }
        guard chars.count >= 19, chars[4] == "-", chars[7] == "-", chars[10] == "T" || chars[10] == " ",
            chars[13] == ":", chars[16] == ":",
            let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
            let mi = num(14..<16), let se = num(17..<19)
        else { return nil }
        var index = 19
        var micros: Int64 = 0
        if index < chars.count, chars[index] == "." {
            index += 1
            var digits = 0
            while index < chars.count, chars[index].isNumber {
                if digits < 6, let v = chars[index].wholeNumberValue { micros = micros * 10 + Int64(v) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { micros *= 10 }
        }
        var offsetSeconds = 0
        if index < chars.count {
            let sign = chars[index]
            if sign == "Z" || sign == "z" {
                index += 1
            } else if sign == "+" || sign == "-" {
                guard let oh = num((index + 1)..<(index + 3)), oh <= 23 else { return nil }
                var next = index + 3
                if next < chars.count, chars[next] == ":" { next += 1 }
                let om = num(next..<(next + 2)) ?? 0
                if num(next..<(next + 2)) != nil { next += 2 }
                guard om <= 59 else { return nil }
                offsetSeconds = (oh * 3600 + om * 60) * (sign == "+" ? 1 : -1)
                index = next
            } else {
                return nil
            }
        }
        guard index == chars.count, let base = civil(year: y, month: mo, day: d, hour: h, minute: mi, second: se) else {
            return nil
        }
        return (base - Int64(offsetSeconds)) * 1_000_000 + micros
    }

    /// Seconds since the epoch of a UTC civil date and time, or nil when it is not a real one: the month 1–12, the
    /// day within its month (30 April, 28 February, 29 only in a leap year), the hour 0–23, the minute and the second
    /// 0–59 (a leap second's `:60` is refused: Proctor's times cannot hold it).
    ///
    /// The one check of every door's dates: ``parse(_:)`` (filters, bodies, query parameters of every API), DCI's
    /// signed timestamps and KernelCI's `created_on` all build their times here, so that none of them reads
    /// `2026-02-31` as 3 March.
    public static func civil(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64? {
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), (0...23).contains(hour),
            (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        // Days from civil, after Howard Hinnant's algorithm.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// How many days a month has in the proleptic Gregorian calendar.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
