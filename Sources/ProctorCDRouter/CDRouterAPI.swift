import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// The QA Cafe CDRouter Web API dialect, mounted under `/cdrouter/api/v1` and `/cdrouter/authenticate` (a client
/// writes `CDRouter("http://host:port/cdrouter", token=…)`).
///
/// A thin mapping onto the core: CDRouter jobs are runs of CDRouter packages (job definitions with the `cdrouter`
/// harness, or tagged `cdrouter`), devices are testbeds, configs are configs, a result is a run that an executor
/// picked up, with the run's test results. Every row's `seq` is its CDRouter integer id, sent as a string.
/// See `docs/cdrouter.md`.
public struct CDRouterAPI: Sendable {
    /// The page size when the client gives none (CDRouter's documented default).
    public static let defaultLimit = 25

    let services: RunServices
    let maxJSONBytes: Int
    /// The largest page; `limit=none` asks for it.
    let maxLimit: Int
    /// Who a login attempt comes from, for the limiter of failed logins.
    let addresses: ClientAddresses

    public init(services: RunServices, configuration: AppConfiguration, maxLimit: Int = 1000) {
        self.services = services
        self.maxJSONBytes = configuration.maxJSONBytes
        self.maxLimit = max(1, maxLimit)
        self.addresses = ClientAddresses(configuration)
    }

    var store: any StoreReader { services.store }
    var references: SeqReferences { SeqReferences(store: store) }

    /// Adds every CDRouter route, behind CDRouter's error shape and bearer tokens (shared with the native API).
    public func addRoutes(to router: Router<AppRequestContext>) {
        let root = router.group("cdrouter").add(middleware: DoorErrorMiddleware(CDRouterErrors()))
        CDRouterSystemController(api: self).addPublicRoutes(to: root)
        let api = root.group("api/v1")
            .add(middleware: Authentication(services.authenticator, shape: CDRouterErrors()))
            .group(context: AuthenticatedContext.self)
        CDRouterJobController(api: self).addRoutes(to: api)
        CDRouterResourceController(api: self, resource: .packages).addRoutes(to: api)
        CDRouterResourceController(api: self, resource: .devices).addRoutes(to: api)
        CDRouterResourceController(api: self, resource: .configs).addRoutes(to: api)
        CDRouterResultController(api: self).addRoutes(to: api)
        CDRouterSystemController(api: self).addRoutes(to: api)
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            root.on("**", method: method) { _, _ -> Response in
                throw CDRouterError(.notFound, "not found")
            }
        }
    }

    // MARK: Requests

    /// The request's JSON object; an empty body is an empty object (bulk deletes send none), `null` members
    /// mean "not given" and are dropped.
    func object(_ request: Request) async throws -> [String: JSONValue] {
        let value: JSONValue = try await JSONBody.reading({
            do {
                return try await JSONBody.value(request, limit: maxJSONBytes)
            } catch JSONBody.Problem.empty {
                return .null
            }
        }) { problem in
            switch problem {
            case .tooLarge(let limit): return CDRouterError(.contentTooLarge, "the body is larger than \(limit) bytes")
            case .empty, .malformed: return CDRouterError(.badRequest, "the body is not valid JSON")
            case .notAnObject: return CDRouterError(.badRequest, "the body must be a JSON object")
            }
        }
        if value == .null { return [:] }
        guard case .object(let object) = value else {
            throw CDRouterError(.badRequest, "the body must be a JSON object")
        }
        return object.filter { $0.value != .null }
    }

    /// The CDRouter id in the path (`jobs/7/` → 7).
    static func pathID(_ context: some RequestContext) throws -> String {
        try context.parameters.require("id")
    }

    /// An id the client sent: a string or a number holding a positive integer; nil when absent or null.
    static func idValue(_ value: JSONValue?, field: String) throws -> String? {
        switch value ?? .null {
        case .null: return nil
        case .string(let text):
            guard let number = Int64(text), number >= 0 else {
                throw CDRouterError(.badRequest, "\(field) must be an integer id")
            }
            return String(number)
        case .number(let number):
            guard number.rounded() == number, number >= 0, number < 1e15 else {
                throw CDRouterError(.badRequest, "\(field) must be an integer id")
            }
            return String(Int64(number))
        default:
            throw CDRouterError(.badRequest, "\(field) must be an integer id")
        }
    }

    /// A boolean query flag as the client sends it (`True` from Python, `true`, `1`, `t`; `False`, `0`, `f`);
    /// absent or empty is false, and any other value a 400 rather than a silent default.
    static func flag(_ request: Request, _ name: String) throws -> Bool {
        guard let value = request.uri.queryParameters[Substring(name)], !value.isEmpty else { return false }
        switch value.lowercased() {
        case "true", "t", "1", "yes", "on": return true
        case "false", "f", "0", "no", "off": return false
        default: throw CDRouterError(.badRequest, "\(name) must be true or false, not '\(value)'")
        }
    }

    /// The group a created row belongs to: `?group=<name>`, else the caller's first group where it is an admin.
    func owningGroup(_ request: Request, principal: Principal) async throws -> String {
        if let name = request.uri.queryParameters["group"].map(String.init) {
            if let membership = principal.memberships.first(where: { $0.groupName == name }) {
                try principal.require(.admin, in: membership.groupID, resource: "group")
                return membership.groupID
            }
            if principal.isSiteAdmin, let group = try await store.first(.groups, matching: ["name": .string(name)]) {
                return group.id
            }
            throw CDRouterError(.notFound, "no such group")
        }
        if let membership = principal.memberships.first(where: { $0.role == .admin }) { return membership.groupID }
        throw CDRouterError(.forbidden, "insufficient privileges")
    }

    // MARK: Responses

    /// `{"timestamp", "data"}`.
    static func data(_ data: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        JSONResponse.make(.object(["timestamp": .string(timestamp()), "data": data]), status: status)
    }

    /// `{"timestamp", "data": [...], "links": {...}}`.
    static func list(_ items: [JSONValue], page: CDRouterPaging, total: Int) -> Response {
        JSONResponse.make(
            .object(["timestamp": .string(timestamp()), "data": .array(items), "links": page.links(total: total)])
        )
    }

    /// RFC 3339 in UTC with nine fractional digits, as CDRouter (a Go server) writes times.
    static func timestamp(_ micros: Int64 = Timestamp.now()) -> String {
        let text = Timestamp.rfc3339(micros: micros)
        return String(text.dropLast()) + "000Z"
    }

    /// A stored timestamp field in CDRouter's format, or nil when unset.
    static func time(_ record: Record, _ field: String) -> JSONValue? {
        record.int(field).map { .string(timestamp($0)) }
    }

    /// A row's CDRouter id.
    static func id(_ record: Record) -> JSONValue { .string(String(record.seq)) }
}

/// CDRouter's 1-based paging: `page`, `limit` (default 25; `none` asks for the server's maximum).
struct CDRouterPaging {
    var page: Int
    var limit: Int

    init(_ request: Request, maxLimit: Int) throws {
        let parameters = request.uri.queryParameters
        page = 1
        limit = CDRouterAPI.defaultLimit
        if let text = parameters["page"], !text.isEmpty {
            guard let value = Int(text), value >= 1 else {
                throw CDRouterError(.badRequest, "page must be a positive integer")
            }
            page = value
        }
        if let text = parameters["limit"], !text.isEmpty {
            if text.lowercased() == "none" {
                limit = maxLimit
            } else {
                guard let value = Int(text), value >= 1 else {
                    throw CDRouterError(.badRequest, "limit must be a positive integer or none")
                }
                limit = min(value, maxLimit)
            }
        }
        guard page <= Int.max / max(1, limit) - 1 else { throw CDRouterError(.badRequest, "page is too large") }
    }

    var offset: Int { (page - 1) * limit }

    /// `{first, last, current, total, limit, next, prev}`; `next` and `prev` are null at the ends (the client's
    /// `iter_list` stops on a null `next`).
    func links(total: Int) -> JSONValue {
        let last = max(1, (total + limit - 1) / limit)
        return .object([
            "first": .number(1), "last": .number(Double(last)), "current": .number(Double(page)),
            "total": .number(Double(total)), "limit": .number(Double(limit)),
            "next": page < last ? .number(Double(page + 1)) : .null,
            "prev": page > 1 ? .number(Double(min(page - 1, last))) : .null,
        ])
    }
}

/// An error in CDRouter's words: `{"timestamp", "error"}` with its status.
struct CDRouterError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
    /// Seconds until a 429 refusal ends (sent as `Retry-After`).
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    static func noSuch(_ noun: String) -> CDRouterError { CDRouterError(.notFound, "no such \(noun)") }
}

/// Renders every error under `/cdrouter` as `{"timestamp", "error"}`: core errors keep their class, unexpected
/// ones are logged and answered generically (nothing a client sends becomes a bare 500).
struct CDRouterErrors: DoorErrorShape {
    func response(to error: any Error, request: Request, context: AppRequestContext) async throws -> Response {
        let failure = Self.cdrouterError(error, logger: context.logger)
        var headers: HTTPFields = [:]
        if failure.status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let seconds = failure.retryAfter { headers[.retryAfter] = String(seconds) }
        return JSONResponse.make(
            .object(["timestamp": .string(CDRouterAPI.timestamp()), "error": .string(failure.message)]),
            status: failure.status,
            headers: headers
        )
    }

    static func cdrouterError(_ error: any Error, logger: Logger) -> CDRouterError {
        if let failure = error as? CDRouterError { return failure }
        let native = NativeErrors.proctorError(error, logger: logger)
        switch native.code {
        case .unauthorized: return CDRouterError(.unauthorized, "insufficient privileges: \(native.message)")
        case .unprocessable, .unsupportedMediaType: return CDRouterError(.badRequest, native.message)
        case .preconditionFailed: return CDRouterError(.conflict, native.message)
        case .internal: return CDRouterError(.internalServerError, "internal error")
        default: return CDRouterError(native.code.status, native.message, retryAfter: native.retryAfter)
        }
    }
}
