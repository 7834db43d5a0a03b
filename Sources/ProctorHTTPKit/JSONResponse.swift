import Foundation
import Hummingbird
import NIOCore
import ProctorCore

/// JSON in and out, shared by every front door.
public enum JSONResponse {
    public static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:])
        -> Response
    {
        make(bytes: value.encodedBytes(), status: status, headers: headers)
    }

    /// One record's public fields.
    public static func make(_ record: Record, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response
    {
        make(bytes: record.publicJSONBytes(), status: status, headers: headers)
    }

    /// An object whose members are records' public fields, keys in the order ``JSONText`` writes them: the same
    /// bytes as a `JSONValue` object of each record's `publicJSON()`, without building one (a status report's
    /// answer spent a tenth of its write's instructions there).
    public static func make(
        records members: [(key: String, record: Record)],
        status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:]
    ) -> Response {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(2048)
        for (index, member) in members.sorted(by: { JSONText.utf8Precedes($0.key, $1.key) }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: JSONText.memberPrefix(member.key))
            member.record.writePublicJSON(into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return make(bytes: out, status: status, headers: headers)
    }

    package static func make(bytes: [UInt8], status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The native API's list envelope, `{"items", "limit", "next_cursor", "total"?}`, around items given as
    /// values (rows rendered otherwise than as their public fields).
    public static func page(_ page: Page, items: [JSONValue]) -> Response {
        var written: [UInt8] = []
        JSONValue.array(items).write(into: &written)
        return envelope(items: written, limit: page.limit, nextCursor: page.nextCursor, total: page.total)
    }

    /// The envelope around the page's records, each as its public fields.
    public static func page(_ page: Page) -> Response {
        var written: [UInt8] = [UInt8(ascii: "[")]
        written.reserveCapacity(2 + page.items.count * 1024)
        for (index, record) in page.items.enumerated() {
            if index > 0 { written.append(UInt8(ascii: ",")) }
            record.writePublicJSON(into: &written)
        }
        written.append(UInt8(ascii: "]"))
        return envelope(items: written, limit: page.limit, nextCursor: page.nextCursor, total: page.total)
    }

    /// The envelope around a page written while it was read (``StoreReader/listJSON(_:query:scope:)``).
    public static func page(_ page: JSONPage) -> Response {
        envelope(items: page.items, limit: page.limit, nextCursor: page.nextCursor, total: page.total)
    }

    /// The list envelope with `items` (a JSON array) copied once, into the response's buffer.
    private static func envelope(items: [UInt8], limit: Int, nextCursor: String?, total: Int?) -> Response {
        var tail: [UInt8] = Array(",\"limit\":".utf8)
        tail.append(contentsOf: String(limit).utf8)
        tail.append(contentsOf: ",\"next_cursor\":".utf8)
        (nextCursor.map(JSONValue.string) ?? .null).write(into: &tail)
        if let total {
            tail.append(contentsOf: ",\"total\":".utf8)
            tail.append(contentsOf: String(total).utf8)
        }
        tail.append(UInt8(ascii: "}"))
        let head = "{\"items\":".utf8
        var buffer = ByteBufferAllocator().buffer(capacity: head.count + items.count + tail.count)
        buffer.writeBytes(head)
        buffer.writeBytes(items)
        buffer.writeBytes(tail)
        var fields: HTTPFields = [:]
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: buffer))
    }

    /// Reads a JSON body up to `limit` bytes: 413 beyond, 415 for another content type, 400 when malformed.
    public static func body(_ request: Request, limit: Int) async throws -> JSONValue {
        if let type = request.headers.value(of: .contentType), !type.lowercased().contains("json") {
            throw ProctorError(.unsupportedMediaType, "send the body as application/json (got \(type))")
        }
        return try await JSONBody.reading({ try await JSONBody.value(request, limit: limit) }) { problem in
            switch problem {
            case .tooLarge(let limit): return ProctorError(.tooLarge, "the body is larger than \(limit) bytes")
            case .empty: return ProctorError.badRequest("the request needs a JSON body")
            case .malformed, .notAnObject: return ProctorError.badRequest("the body is not valid JSON")
            }
        }
    }

    /// Decodes a JSON body into a request type, with the native API's answers: 413 beyond `limit`, 415 for another
    /// content type, 400 for malformed JSON, and 400 naming the member (`field`) that is missing or of the wrong
    /// type.
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        if let contentType = request.headers.value(of: .contentType), !contentType.lowercased().contains("json") {
            throw ProctorError(.unsupportedMediaType, "send the body as application/json (got \(contentType))")
        }
        do {
            return try await JSONBody.reading({ try await JSONBody.decode(type, from: request, limit: limit) }) {
                problem in
                switch problem {
                case .tooLarge(let limit): return ProctorError(.tooLarge, "the body is larger than \(limit) bytes")
                case .empty: return ProctorError.badRequest("the request needs a JSON body")
                case .malformed: return ProctorError.badRequest("the body is not valid JSON")
                case .notAnObject: return ProctorError.badRequest("the body must be a JSON object")
                }
            }
        } catch let failure as JSONBody.UnknownMember {
            throw ProctorError.unknownField(failure.key, valid: failure.valid)
        } catch let failure as JSONBody.FieldProblem {
            if failure.path.isEmpty {
                throw ProctorError.badRequest("the body must be \(failure.expected ?? "given")")
            }
            guard let expected = failure.expected else {
                throw ProctorError.badRequest("field '\(failure.path)' is required", field: failure.path)
            }
            throw ProctorError.badRequest("field '\(failure.path)' must be \(expected)", field: failure.path)
        }
    }

    public static func object(_ request: Request, limit: Int) async throws -> [String: JSONValue] {
        guard case .object(let object) = try await body(request, limit: limit) else {
            throw ProctorError.badRequest("the body must be a JSON object")
        }
        return object
    }
}

extension ProctorError.Code {
    /// The HTTP status of each error class.
    public var status: HTTPResponse.Status {
        switch self {
        case .badRequest: return .badRequest
        case .unauthorized: return .unauthorized
        case .forbidden: return .forbidden
        case .notFound: return .notFound
        case .conflict: return .conflict
        case .preconditionFailed: return .preconditionFailed
        case .methodNotAllowed: return .methodNotAllowed
        case .tooLarge: return .contentTooLarge
        case .unsupportedMediaType: return .unsupportedMediaType
        case .unprocessable: return .unprocessableContent
        case .unavailable: return .serviceUnavailable
        case .tooManyRequests: return .tooManyRequests
        case .insufficientStorage: return HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        case .internal: return .internalServerError
        }
    }
}
