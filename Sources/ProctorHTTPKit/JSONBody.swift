import Foundation
import Hummingbird
import ProctorCore

/// The one reader of JSON request bodies. Every door reads a body the same way (at most its size limit, then
/// parsed once); each only says what went wrong in its own words and status, by mapping a ``Problem``.
package enum JSONBody {
    package enum Problem: Error, Sendable, Equatable {
        /// The body is larger than the limit (in bytes).
        case tooLarge(limit: Int)
        /// There is no body.
        case empty
        /// The body is not JSON.
        case malformed
        /// The body is JSON, but not an object.
        case notAnObject
    }

    /// The body's JSON value.
    package static func value(_ request: Request, limit: Int) async throws -> JSONValue {
        let data = try await bytes(request, limit: limit)
        guard let value = try? JSONValue.decode(data) else { throw Problem.malformed }
        return value
    }

    /// The body's bytes: at most `limit`, and not empty.
    static func bytes(_ request: Request, limit: Int) async throws -> Data {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw Problem.tooLarge(limit: limit)
        }
        guard buffer.readableBytes > 0 else { throw Problem.empty }
        return Data(buffer.readableBytesView)
    }

    /// The body's JSON object.
    package static func object(_ request: Request, limit: Int) async throws -> [String: JSONValue] {
        guard case .object(let object) = try await value(request, limit: limit) else { throw Problem.notAnObject }
        return object
    }

    /// A member of the body does not fit the request's type (``decode(_:from:limit:)``).
    package struct FieldProblem: Error, Sendable, Equatable {
        /// The member's dotted path (`labels.branch`, `items.2.name`).
        package var path: String
        /// What the member must be ("a string", "between 1 and 1000"); nil when it is missing.
        package var expected: String?
    }

    /// The body decoded into a request type (a DTO beside its controller). Invalid JSON or a body that is not an
    /// object is a ``Problem``; a member of the wrong type, a missing required member or one a DTO's own checks
    /// refuse (`DecodingError.dataCorruptedError(forKey:in:debugDescription:)`, whose description says what the
    /// member must be) is a ``FieldProblem``.
    package static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        let data = try await bytes(request, limit: limit)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let failure as DecodingError {
            // Foundation's decoder on Linux reports a number that does not fit its type (1.5 for an Int) as invalid
            // JSON without a path: request types read integers with ``integer(_:forKey:in:)`` so that this does not
            // happen, and a body that is valid JSON is never called malformed.
            if case .dataCorrupted(let context) = failure, context.codingPath.isEmpty,
                (try? JSONValue.decode(data)) != nil
            {
                throw FieldProblem(path: "", expected: "a body of this request's shape")
            }
            throw problem(failure)
        }
    }

    /// A member the request type does not know (``refuseUnknownMembers(in:allowed:)``).
    package struct UnknownMember: Error, Sendable, Equatable {
        package var key: String
        /// The members the request type knows, sorted.
        package var valid: [String]
    }

    /// For a request type whose clients must not send anything else (a misspelt optional member would otherwise
    /// be silently ignored): throws ``UnknownMember`` for the first member outside `allowed`, in key order.
    package static func refuseUnknownMembers<Keys: CodingKey & CaseIterable>(
        in decoder: any Decoder,
        allowed: Keys.Type
    ) throws {
        let valid = Set(Keys.allCases.map(\.stringValue))
        let container = try decoder.container(keyedBy: MemberKey.self)
        if let key = container.allKeys.map(\.stringValue).sorted().first(where: { !valid.contains($0) }) {
            throw UnknownMember(key: key, valid: valid.sorted())
        }
    }

    /// Any member's name.
    struct MemberKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// An optional integer member within `range`, read as a JSON number (Foundation's decoder on Linux cannot say
    /// which member held a non-integer); a fraction or a value out of range names the member.
    package static func integer<Key: CodingKey>(
        _ container: KeyedDecodingContainer<Key>,
        forKey key: Key,
        in range: ClosedRange<Int64> = -(1 << 53)...(1 << 53)
    ) throws -> Int64? {
        guard let number = try container.decodeIfPresent(Double.self, forKey: key) else { return nil }
        guard number.rounded() == number else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "an integer")
        }
        guard number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: container,
                debugDescription: "between \(range.lowerBound) and \(range.upperBound)"
            )
        }
        return Int64(number)
    }

    /// What a decoding failure means for the client.
    static func problem(_ failure: DecodingError) -> any Error {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch failure {
        case .dataCorrupted(let context):
            guard !context.codingPath.isEmpty else { return Problem.malformed }
            return FieldProblem(path: path(context.codingPath), expected: context.debugDescription)
        case .typeMismatch(let type, let context):
            guard !context.codingPath.isEmpty else { return Problem.notAnObject }
            return FieldProblem(path: path(context.codingPath), expected: describe(type))
        case .valueNotFound(let type, let context):
            return FieldProblem(path: path(context.codingPath), expected: describe(type))
        case .keyNotFound(let key, let context):
            return FieldProblem(path: path(context.codingPath + [key]), expected: nil)
        @unknown default:
            return Problem.malformed
        }
    }

    /// A JSON type in words, for messages.
    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a valid value"
        }
    }

    /// Runs `body`, turning a ``Problem`` into the door's own error.
    package static func reading<T>(_ body: () async throws -> T, problem: (Problem) -> any Error) async throws -> T {
        do {
            return try await body()
        } catch let failure as Problem {
            throw problem(failure)
        }
    }
}
