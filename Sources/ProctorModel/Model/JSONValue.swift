import Foundation

/// Arbitrary JSON: the free-form parts of the model (`data`, `envargs`, `interfaces`, options).
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? container.decode(Double.self) {
            self = .number(n)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n):
            if n.rounded() == n, abs(n) < 9.0e15 { try container.encode(Int64(n)) } else { try container.encode(n) }
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Compact, key-sorted JSON text (stable, so equal values serialise equally).
    public func encodedString() -> String {
        String(decoding: encodedBytes(), as: UTF8.self)
    }

    /// The same text as ``encodedString()``, as UTF-8 bytes (what a response body wants).
    public func encodedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONText.write(self, into: &out)
        return out
    }

    public static func decode(_ text: String) -> JSONValue? {
        var text = text
        return text.withUTF8 { try? JSONText.parse(UnsafeRawBufferPointer($0)) }
    }

    public static func decode(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { try JSONText.parse($0) }
    }
}

extension JSONValue {
    /// The value as a command line or environment takes it: a string as is, a boolean as `true`/`false`, a whole
    /// number without a fraction, anything else as JSON.
    public var commandLineText: String {
        switch self {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        default: return (try? String(decoding: JSONEncoder().encode(self), as: UTF8.self)) ?? ""
        }
    }
}
