import Hummingbird
import Logging
import ProctorCore

/// How a door says what went wrong: its error shape. One middleware, ``DoorErrorMiddleware``, catches every
/// error of a door's routes and asks the door's shape for the answer, so that the catching is written once and
/// a door only describes its response (status, body, headers such as `Retry-After` and `WWW-Authenticate`).
public protocol DoorErrorShape: Sendable {
    func response(to error: any Error, request: Request, context: AppRequestContext) async throws -> Response
    /// The error that refuses a request's credentials (``Authentication``); by default Proctor's own 401.
    func refusal(_ refusal: AuthenticationRefusal) -> any Error
}

/// The one error middleware, parameterised by a door's ``DoorErrorShape``.
public struct DoorErrorMiddleware<Shape: DoorErrorShape>: RouterMiddleware {
    public typealias Context = AppRequestContext
    package let shape: Shape

    public init(_ shape: Shape) { self.shape = shape }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            return try await shape.response(to: error, request: request, context: context)
        }
    }
}

/// The native API's error shape: `{"error": {"code", "message", "field"}}` with its status. Nothing a client
/// sends may turn into a bare 500: unknown errors are logged and answered generically. A refusal that ends
/// (429 `too_many_requests`) also says when: `Retry-After: <seconds>` and `retry_after`.
public struct NativeErrors: DoorErrorShape {
    /// The documented paths and their methods, so that a known path called with another method is a 405.
    package let allowedMethods: AllowedMethods

    public init(allowedMethods: AllowedMethods = AllowedMethods(routes: [])) { self.allowedMethods = allowedMethods }

    public func response(to error: any Error, request: Request, context: AppRequestContext) async throws -> Response {
        if let http = error as? HTTPError, http.status == .notFound, http.body == nil,
            let allowed = allowedMethods.methods(for: request.uri.path),
            !allowed.contains(request.method.rawValue)
        {
            // The router found no route, but the path is documented with other methods: a 405 naming them.
            let failure = ProctorError(
                .methodNotAllowed,
                "\(request.method.rawValue) is not allowed on this path; use \(allowed.joined(separator: ", "))"
            )
            var headers: HTTPFields = [:]
            headers[.allow] = allowed.joined(separator: ", ")
            return Self.render(failure, headers: headers)
        }
        return Self.render(Self.proctorError(error, logger: context.logger), headers: [:])
    }

    package static func render(_ failure: ProctorError, headers: HTTPFields) -> Response {
        var body: [String: JSONValue] = ["code": .string(failure.code.rawValue), "message": .string(failure.message)]
        if let field = failure.field { body["field"] = .string(field) }
        for (key, values) in failure.details { body[key] = .array(values.map { .string($0) }) }
        var headers = headers
        if failure.code == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let seconds = failure.retryAfter {
            body["retry_after"] = .number(Double(seconds))
            headers[.retryAfter] = String(seconds)
        }
        return JSONResponse.make(.object(["error": .object(body)]), status: failure.code.status, headers: headers)
    }

    /// Any error as a ``ProctorError`` (Hummingbird's own errors keep their status).
    public static func proctorError(_ error: any Error, logger: Logger) -> ProctorError {
        if let failure = error as? ProctorError { return failure }
        if let http = error as? HTTPError {
            let code: ProctorError.Code
            switch http.status.code {
            case 400: code = .badRequest
            case 401: code = .unauthorized
            case 403: code = .forbidden
            case 404: code = .notFound
            case 405: code = .methodNotAllowed
            case 409: code = .conflict
            case 413: code = .tooLarge
            case 415: code = .unsupportedMediaType
            case 429: code = .tooManyRequests
            default: code = http.status.code >= 500 ? .internal : .badRequest
            }
            return ProctorError(code, http.body ?? http.status.reasonPhrase)
        }
        if let full = ProctorError.diskFull(from: error) {
            logger.error("disk full: \(String(reflecting: error))")
            return full
        }
        logger.error("unhandled error: \(String(reflecting: error))")
        return ProctorError(.internal, "internal error")
    }
}
