import HTTPTypes
import Hummingbird
import Logging
import ProctorCore
import ProctorHTTPKit

/// An error in DCI's words: `{"status_code", "message", "payload"}` with the same HTTP status
/// (`dci/common/exceptions.py`). Handlers throw it where DCI's message or payload matters to a client
/// (`create_job.py` prints `payload.error`); any other error is translated by ``DCIErrors``.
struct DCIError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
    var payload: [String: JSONValue]
    /// Seconds until a 429 refusal ends (sent as `Retry-After`).
    var retryAfter: Int?

    init(
        _ status: HTTPResponse.Status = .badRequest,
        _ message: String,
        payload: [String: JSONValue] = [:],
        retryAfter: Int? = nil
    ) {
        self.status = status
        self.message = message
        self.payload = payload
        self.retryAfter = retryAfter
    }

    /// DCI's 404 for a missing or invisible row (`base.get_resource_orm`: "job not found").
    static func notFound(_ singular: String) -> DCIError {
        DCIError(.notFound, "\(singular) not found")
    }

    /// A body that does not follow the endpoint's schema: DCI's "Request malformed" with the reasons.
    static func malformed(_ errors: [String]) -> DCIError {
        DCIError(
            .badRequest,
            "Request malformed",
            payload: ["errors": .array(errors.map(JSONValue.string)), "error": .string(errors.first ?? "")]
        )
    }

    /// The etag in If-Match is stale (DCI's `DCIConflict`).
    static func conflict(_ resource: String, _ id: String) -> DCIError {
        DCIError(.conflict, "conflict on \(resource) \"\(id)\" or etag not matched")
    }

    static let ifMatchMissing = DCIError(.preconditionFailed, "'If-match' header must be provided")

    var body: JSONValue {
        .object(["status_code": .number(Double(status.code)), "message": .string(message), "payload": .object(payload)])
    }
}

/// Renders every error under `/dci/api/v1` in DCI's shape. Nothing a client sends turns into a bare 500:
/// unexpected errors are logged and answered with a generic message.
///
/// dciclient retries GET, PUT and DELETE on 413, 429 and 5xx for minutes (clients.md B1), so for those methods
/// a too-large body is answered 400 instead of 413.
struct DCIErrors: DoorErrorShape {
    func response(to error: any Error, request: Request, context: AppRequestContext) async throws -> Response {
        var failure = Self.dciError(error, logger: context.logger)
        if failure.status == .contentTooLarge, request.method != .post { failure.status = .badRequest }
        var headers: HTTPFields = [:]
        if failure.status == .unauthorized { headers[.wwwAuthenticate] = "Basic realm=\"Login required\"" }
        if let seconds = failure.retryAfter { headers[.retryAfter] = String(seconds) }
        return JSONResponse.make(failure.body, status: failure.status, headers: headers)
    }

    /// Refused credentials in the control server's words.
    func refusal(_ refusal: AuthenticationRefusal) -> any Error {
        switch refusal {
        case .missing: return DCIError(.unauthorized, "Authorization header missing")
        case .unknownScheme(let scheme): return DCIError(.unauthorized, "Authorization scheme \(scheme) unknown")
        case .invalidToken: return DCIError(.unauthorized, "Invalid token")
        case .invalidPassword: return DCIError(.unauthorized, "Invalid user credentials")
        }
    }

    /// Any error as a ``DCIError``: core errors keep their class, Hummingbird's keep their status.
    static func dciError(_ error: any Error, logger: Logger) -> DCIError {
        if let failure = error as? DCIError { return failure }
        if let failure = error as? DCISignature.Failure {
            switch failure.reason {
            case .malformed: return DCIError(.badRequest, "HmacMechanism failed: \(failure.message).")
            case .expired, .invalid: return DCIError(.unauthorized, "HmacMechanism failed: \(failure.message)")
            }
        }
        if let failure = error as? ProctorError {
            var payload: [String: JSONValue] = [:]
            if failure.code == .badRequest || failure.code == .unprocessable {
                payload["error"] = .string(failure.message)
            }
            for (key, values) in failure.details { payload[key] = .array(values.map(JSONValue.string)) }
            if let field = failure.field { payload["field"] = .string(field) }
            let status = failure.code == .unprocessable ? HTTPResponse.Status.badRequest : failure.code.status
            if failure.code == .internal { logger.error("internal error: \(failure.message)") }
            return DCIError(status, failure.message, payload: payload, retryAfter: failure.retryAfter)
        }
        let native = NativeErrors.proctorError(error, logger: logger)
        return DCIError(native.code.status, native.code == .internal ? "internal error" : native.message)
    }
}
