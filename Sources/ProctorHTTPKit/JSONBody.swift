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
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw Problem.tooLarge(limit: limit)
        }
        guard buffer.readableBytes > 0 else { throw Problem.empty }
        guard let value = try? JSONValue.decode(Data(buffer.readableBytesView)) else { throw Problem.malformed }
        return value
    }

    /// The body's JSON object.
    package static func object(_ request: Request, limit: Int) async throws -> [String: JSONValue] {
        guard case .object(let object) = try await value(request, limit: limit) else { throw Problem.notAnObject }
        return object
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
