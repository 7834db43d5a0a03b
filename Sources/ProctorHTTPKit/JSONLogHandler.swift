import Foundation
import Logging
import ProctorCore
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error, for log collectors (Loki,
/// Elasticsearch, journald's JSON output): `{"ts": "…Z", "level": "info", "label": "proctor", "message": "…",
/// …metadata}`; metadata values keep their keys at the top level unless they would shadow those four.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    package let label: String
    package let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata explicit: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        write(
            Self.line(
                level: level,
                label: label,
                message: "\(message)",
                metadata: metadata.merging(explicit ?? [:]) { $1 }
            )
        )
    }

    /// The JSON text of one record (with its newline).
    public static func line(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: JSONValue] = [:]
        for (key, value) in metadata { object[key] = json(value) }
        object["ts"] = .string(Timestamp.rfc3339(micros: Timestamp.now()))
        object["level"] = .string(level.rawValue)
        object["label"] = .string(label)
        object["message"] = .string(message)
        return JSONValue.object(object).encodedString() + "\n"
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible):
            if let flag = convertible as? Bool { return .bool(flag) }
            if let number = Double("\(convertible)"), convertible is any Numeric { return .number(number) }
            return .string("\(convertible)")
        case .array(let items): return .array(items.map(json))
        case .dictionary(let entries): return .object(entries.mapValues(json))
        }
    }

    /// Writes whole lines to standard error, one at a time, unbuffered (a line is never split or held back).
    public static let standardError: @Sendable (String) -> Void = { line in
        lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }
    private static let lock = Mutex<Void>(())
}
