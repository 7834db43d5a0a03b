import Foundation

/// The one error type the core raises; each front door renders it in its own shape and status.
///
/// It carries a machine-readable ``Code``, a human message, the offending field when there is one,
/// and optional details (e.g. the list of valid fields), so a dialect never has to parse a message.
public struct ProctorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// Bad input: a malformed value, an unknown field or operator.
        case badRequest = "bad_request"
        case unauthorized
        case forbidden
        case notFound = "not_found"
        /// A known path called with a method it does not answer.
        case methodNotAllowed = "method_not_allowed"
        /// Duplicate name, stale version, illegal state change.
        case conflict
        case preconditionFailed = "precondition_failed"
        case tooLarge = "too_large"
        case unsupportedMediaType = "unsupported_media_type"
        /// Well-formed but semantically invalid.
        case unprocessable
        case unavailable
        /// Too many attempts (failed logins); ``ProctorError/retryAfter`` says when to try again.
        case tooManyRequests = "too_many_requests"
        /// The server's disk (or its database's) is full: nothing was stored.
        case insufficientStorage = "insufficient_storage"
        case `internal`
    }

    public var code: Code
    public var message: String
    public var field: String?
    /// Extra facts for the client, e.g. `["valid": ["name", "status"]]`.
    public var details: [String: [String]]
    /// Seconds until the request may be tried again (a `Retry-After` header), for ``Code/tooManyRequests``.
    public var retryAfter: Int?

    public init(_ code: Code, _ message: String, field: String? = nil, details: [String: [String]] = [:]) {
        self.code = code
        self.message = message
        self.field = field
        self.details = details
    }

    public var description: String { message }

    public static func badRequest(_ message: String, field: String? = nil, details: [String: [String]] = [:]) -> Self {
        .init(.badRequest, message, field: field, details: details)
    }

    public static func notFound(_ message: String) -> Self { .init(.notFound, message) }

    /// Refused until `retryAfter` seconds have passed (at least 1).
    /// The error a write that ran out of space becomes, whatever reported it: Foundation (`ENOSPC`,
    /// `fileWriteOutOfSpace`) or SQLite ("database or disk is full"); nil for any other error. (PostgreSQL's
    /// `53100 disk_full` is recognised by its SQLSTATE where the store maps its errors.)
    public static func diskFull(from error: any Error) -> Self? {
        if let failure = error as? ProctorError { return failure.code == .insufficientStorage ? failure : nil }
        let described = String(describing: error)
        var outOfSpace = described.contains("database or disk is full") || described.contains("No space left on device")
        var current: NSError? = error as NSError
        while let nsError = current, !outOfSpace {
            if (nsError.domain == NSPOSIXErrorDomain && nsError.code == 28)
                || (nsError.domain == NSCocoaErrorDomain && nsError.code == CocoaError.fileWriteOutOfSpace.rawValue)
            {
                outOfSpace = true
            }
            current = nsError.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        return outOfSpace ? diskFullError : nil
    }

    /// What every door answers when the disk is full.
    public static let diskFullError = Self(
        .insufficientStorage,
        "the server's disk is full: nothing was stored; try again once space is freed"
    )

    public static func tooManyRequests(_ message: String, retryAfter: Int) -> Self {
        var error = Self(.tooManyRequests, message)
        error.retryAfter = max(1, retryAfter)
        return error
    }

    public static func conflict(_ message: String, field: String? = nil) -> Self {
        .init(.conflict, message, field: field)
    }

    public static func unknownField(_ field: String, valid: [String], role: String = "field") -> Self {
        .init(
            .badRequest,
            "unknown \(role) '\(field)'; valid \(role)s: \(valid.joined(separator: ", "))",
            field: field,
            details: ["valid": valid]
        )
    }
}
