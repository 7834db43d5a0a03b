import ProctorCore
import ProctorHTTPKit

/// MongoDB extended JSON, as the original's `bson.json_util` prints ids and dates.
enum KernelCIFormat {
    /// `{"$oid": "<24 hex>"}`: the run's `seq`, zero-padded, so an id is stable and maps back to the row
    /// without a lookup table.
    static func oid(_ seq: Int64) -> JSONValue {
        .object(["$oid": .string(oidString(seq))])
    }

    static func oidString(_ seq: Int64) -> String {
        let hex = String(UInt64(bitPattern: seq), radix: 16)
        return String(repeating: "0", count: max(0, 24 - hex.count)) + hex
    }

    /// Whether `text` is a well-formed ObjectId (24 hex digits): anything else is KernelCI's 400.
    static func isObjectID(_ text: String) -> Bool {
        text.utf8.count == 24
            && text.utf8.allSatisfy { byte in
                (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
            }
    }

    /// The `seq` an ObjectId names, or nil when it is malformed or names no possible row (a nonzero high part).
    static func seq(fromOID text: String) -> Int64? {
        guard isObjectID(text) else { return nil }
        let high = text.prefix(8)
        guard high.allSatisfy({ $0 == "0" }), let value = UInt64(text.suffix(16), radix: 16), value <= UInt64(Int64.max)
        else { return nil }
        return Int64(value)
    }

    /// `{"$date": <milliseconds since the epoch>}`, or null.
    static func date(_ value: Value) -> JSONValue {
        guard !value.isNull, let micros = value.intValue else { return .null }
        return .object(["$date": .number(Double(micros / 1000))])
    }
}
