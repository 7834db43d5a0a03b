import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// An error in KernelCI's words: `{"code": <status>, "reason": "…", "errors"?: […]}` with the same HTTP status
/// (`handlers/response.py`). The messages are the original's, so scripts that match on them keep working.
struct KernelCIError: Error, Sendable {
    var status: HTTPResponse.Status
    var reason: String
    var errors: [String]

    init(_ status: HTTPResponse.Status, _ reason: String, errors: [String] = []) {
        self.status = status
        self.reason = reason
        self.errors = errors
    }

    /// A missing, unknown, expired or insufficient token: KernelCI answers 403, never 401.
    static let forbidden = KernelCIError(.forbidden, "Operation not permitted: provided token is not authorized")
    static let notFound = KernelCIError(.notFound, "Resource not found")
    static let notAllowed = KernelCIError(.methodNotAllowed, "Operation not allowed")
    static let notImplemented = KernelCIError(.notImplemented, "Method not implemented")
    static let wrongContentType = KernelCIError(
        .unsupportedMediaType,
        "Wrong content type defined: Use application/json as the content type"
    )
    static let noJSON = KernelCIError(.unprocessableContent, "No JSON data found in the POST request")

    /// A body that is JSON but not what the endpoint accepts.
    static func invalidJSON(_ errors: [String]) -> KernelCIError {
        KernelCIError(.badRequest, "Provided JSON is not valid", errors: errors)
    }

    var body: [String: JSONValue] {
        var out: [String: JSONValue] = ["code": .number(Double(status.code)), "reason": .string(reason)]
        if !errors.isEmpty { out["errors"] = .array(errors.map(JSONValue.string)) }
        return out
    }
}

/// Renders every error under `/kernelci` in KernelCI's shape. Nothing a client sends turns into a bare 500:
/// core errors keep their class, unexpected ones are logged and answered with the original's generic message.
struct KernelCIErrors: DoorErrorShape {
    func response(to error: any Error, request: Request, context: AppRequestContext) async throws -> Response {
        let failure = Self.kernelCIError(error, context: context)
        return KernelCIResponse.make(failure.body, status: failure.status, request: request)
    }

    static func kernelCIError(_ error: any Error, context: AppRequestContext) -> KernelCIError {
        if let failure = error as? KernelCIError { return failure }
        if let failure = error as? ProctorError {
            switch failure.code {
            case .unauthorized, .forbidden: return .forbidden
            case .notFound: return KernelCIError(.notFound, failure.message)
            case .badRequest, .unprocessable: return KernelCIError(.badRequest, failure.message)
            case .conflict: return KernelCIError(.conflict, failure.message)
            case .preconditionFailed: return KernelCIError(.preconditionFailed, failure.message)
            case .methodNotAllowed: return .notAllowed
            case .tooLarge: return KernelCIError(.contentTooLarge, failure.message)
            case .unsupportedMediaType: return .wrongContentType
            case .unavailable: return KernelCIError(.serviceUnavailable, "Service maintenance")
            case .tooManyRequests: return KernelCIError(.tooManyRequests, failure.message)
            case .insufficientStorage: return KernelCIError(failure.code.status, failure.message)
            case .internal:
                context.logger.error("internal error: \(failure.message)")
                return KernelCIError(.internalServerError, "Internal database error")
            }
        }
        if let http = error as? HTTPError {
            switch http.status.code {
            case 404: return .notFound
            case 405: return .notAllowed
            case 500...: break
            default: return KernelCIError(http.status, http.body ?? http.status.reasonPhrase)
            }
        }
        if let full = ProctorError.diskFull(from: error) { return KernelCIError(full.code.status, full.message) }
        context.logger.error("unhandled error: \(String(reflecting: error))")
        return KernelCIError(.internalServerError, "Internal database error")
    }
}

/// KernelCI's responses: compact JSON with `Content-Type: application/json; charset=UTF-8`, gzip when the
/// client accepts it and the body has at least 1,024 bytes (Tornado's rule), `Vary: Accept-Encoding`, and the
/// CORS headers the original sends (the Origin echoed).
enum KernelCIResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let contentType = "application/json; charset=UTF-8"

    static func make(_ body: [String: JSONValue], status: HTTPResponse.Status = .ok, request: Request) -> Response {
        let data = (try? encoder.encode(JSONValue.object(body))) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: contentType, .vary: "Accept-Encoding"]
        headers[.accessControlAllowHeaders] = "authorization"
        if let origin = request.headers[.origin] { headers[.accessControlAllowOrigin] = origin }
        var bytes = [UInt8](data)
        if bytes.count >= KernelCIGzip.minimumLength, acceptsGzip(request.headers[values: .acceptEncoding]),
            let zipped = KernelCIGzip.compress(bytes)
        {
            bytes = zipped
            headers[.contentEncoding] = "gzip"
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The envelope of a listing: `result` is always a list, `count` the number of matches.
    static func list(
        _ result: [JSONValue],
        count: Int,
        limit: Int? = nil,
        skip: Int? = nil,
        request: Request
    ) -> Response {
        var body: [String: JSONValue] = [
            "code": .number(200), "count": .number(Double(count)), "result": .array(result),
        ]
        if let limit { body["limit"] = .number(Double(limit)) }
        if let skip { body["skip"] = .number(Double(skip)) }
        return make(body, request: request)
    }

    /// Whether an `Accept-Encoding` header admits gzip (`gzip` or `*`, without `q=0`).
    static func acceptsGzip(_ values: [String]) -> Bool {
        for value in values {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else {
                    continue
                }
                let refused = parts.dropFirst().contains { parameter in
                    guard parameter.hasPrefix("q=") else { return false }
                    return (Double(parameter.dropFirst(2)) ?? 1) <= 0
                }
                if !refused { return true }
            }
        }
        return false
    }
}
