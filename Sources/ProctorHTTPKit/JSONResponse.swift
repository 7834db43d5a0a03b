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

    package static func make(bytes: [UInt8], status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The native API's list envelope: `{"items", "limit", "next_cursor", "total"?}`.
    public static func page(_ page: Page, items: [JSONValue]? = nil) -> Response {
        if items == nil { return recordPage(page) }
        var body: [String: JSONValue] = [
            "items": .array(items ?? page.items.map { $0.publicJSON() }), "limit": .number(Double(page.limit)),
            "next_cursor": page.nextCursor.map(JSONValue.string) ?? .null,
        ]
        if let total = page.total { body["total"] = .number(Double(total)) }
        return make(.object(body))
    }

    /// The envelope above with the page's records written straight to bytes (its keys are already in order).
    private static func recordPage(_ page: Page) -> Response {
        var out: [UInt8] = []
        out.reserveCapacity(64 + page.items.count * 1024)
        out.append(contentsOf: "{\"items\":[".utf8)
        for (index, record) in page.items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            record.writePublicJSON(into: &out)
        }
        out.append(contentsOf: "],\"limit\":".utf8)
        out.append(contentsOf: JSONValue.number(Double(page.limit)).encodedBytes())
        out.append(contentsOf: ",\"next_cursor\":".utf8)
        out.append(contentsOf: (page.nextCursor.map(JSONValue.string) ?? .null).encodedBytes())
        if let total = page.total {
            out.append(contentsOf: ",\"total\":".utf8)
            out.append(contentsOf: JSONValue.number(Double(total)).encodedBytes())
        }
        out.append(UInt8(ascii: "}"))
        return make(bytes: out, status: .ok, headers: [:])
    }

    /// Reads a JSON body up to `limit` bytes: 413 beyond, 415 for another content type, 400 when malformed.
    public static func body(_ request: Request, limit: Int) async throws -> JSONValue {
        if let type = request.headers[.contentType], !type.lowercased().contains("json") {
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
        if let contentType = request.headers[.contentType], !contentType.lowercased().contains("json") {
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
