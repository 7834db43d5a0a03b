import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// Cisco XPRESSO's v2 REST API, mounted under `/xpresso/api/v2` (a client sets its base URL to
/// `http://host:port/xpresso`).
///
/// A thin mapping onto the core: XPRESSO jobs are job definitions with their profiles, bundles are bundles,
/// harness and engine instances are harnesses and engines, a request is a batch of runs sharing a request id,
/// a Polaris image build is an ``ImageBuilds`` build. Every call acts in one group, named by the
/// `X-Xpresso-Group` (or `Group`) header or else the caller's default group. See `docs/xpresso.md`.
public struct XPRESSOAPI: Sendable {
    /// Limits of the dialect.
    public struct Options: Sendable {
        /// The most items one list carries (`?limit=` asks for fewer; the default is all, up to this).
        public var maxLimit: Int

        public init(maxLimit: Int = 1000) {
            self.maxLimit = max(1, maxLimit)
        }
    }

    /// The headers naming the group a call acts in, in order of preference.
    static let groupHeaders = ["X-Xpresso-Group", "Group"]

    let services: RunServices
    let images: ImageBuilds
    let options: Options
    let maxJSONBytes: Int

    public init(services: RunServices, configuration: AppConfiguration, options: Options = Options()) {
        self.services = services
        self.images = ImageBuilds(lifecycle: services.lifecycle, options: configuration.imageBuildOptions)
        self.options = options
        self.maxJSONBytes = configuration.maxJSONBytes
    }

    var store: any StoreReader { services.store }

    /// Adds every XPRESSO route, behind XPRESSO's error shape and token check.
    public func addRoutes(to router: Router<AppRequestContext>) {
        let root = router.group("xpresso").add(middleware: DoorErrorMiddleware(XPRESSOErrors()))
        let api = root.group("api/v2")
            .add(middleware: Authentication(services.authenticator, shape: XPRESSOErrors()))
            .group(context: AuthenticatedContext.self)
        let routes = DoorRoutes(group: api)
        XPRESSOCatalogController(api: self).addRoutes(to: routes)
        XPRESSORequestController(api: self).addRoutes(to: routes)
        XPRESSOImageController(api: self).addRoutes(to: routes)
        // A served path called with another method is DRF's 405 (after authentication, as DRF checks it); any
        // other path is Django's 404, before authentication. Neither is the native API's.
        routes.addMethodFallbacks { XPRESSOError.methodNotAllowed($0, allowed: $1) }
        DoorRoutes.answerUnknownPaths(under: root) { XPRESSOError.notFound }
        DoorRoutes.answerUnknownPaths(under: root.group("api/v2")) { XPRESSOError.notFound }
    }

    // MARK: Group

    /// The group the call acts in: the header's group, which must be one of the caller's (a site admin may
    /// name any), else the caller's default group (`default` when a member of it, else the first by name).
    func group(_ request: Request, _ principal: Principal) async throws -> Principal.Membership {
        let named = Self.groupHeaders.lazy.compactMap { request.headers[HTTPField.Name($0)!] }.first
        if let name = named?.trimmingCharacters(in: .whitespaces), !name.isEmpty {
            if let membership = principal.memberships.first(where: { $0.groupName == name || $0.groupID == name }) {
                return membership
            }
            if principal.isSiteAdmin, let group = try await store.first(.groups, matching: ["name": .string(name)]) {
                return .init(groupID: group.id, groupName: name, role: .admin, permissions: [])
            }
            throw XPRESSOError(.forbidden, "You are not a member of the group '\(name)'.")
        }
        if let membership = principal.memberships.first(where: { $0.groupName == Bootstrap.defaultGroup })
            ?? principal.memberships.first
        {
            return membership
        }
        throw XPRESSOError(.forbidden, "You are not a member of any group; name one in the X-Xpresso-Group header.")
    }

    // MARK: Requests

    /// The JSON object of a body (the native API's reading: 413 beyond the size limit, 415 for another content
    /// type, 400 when it is not a JSON object).
    func object(_ request: Request) async throws -> [String: JSONValue] {
        try await JSONResponse.object(request, limit: maxJSONBytes)
    }

    /// `?offset=` and `?limit=` (XPRESSO documents no paging: by default a list is every item, up to
    /// ``Options/maxLimit``). A `limit` beyond the maximum is refused rather than cut, so that a client never
    /// takes a short page for the whole list.
    func paging(_ request: Request) throws -> (offset: Int, limit: Int) {
        let parameters = request.uri.queryParameters
        var offset = 0
        var limit = options.maxLimit
        if let text = parameters["offset"], !text.isEmpty {
            guard let value = Int(text), value >= 0, value <= 1_000_000_000 else {
                throw XPRESSOError(.badRequest, "offset must be a non-negative integer")
            }
            offset = value
        }
        if let text = parameters["limit"], !text.isEmpty {
            guard let value = Int(text), (1...options.maxLimit).contains(value) else {
                throw XPRESSOError(.badRequest, "limit must be an integer from 1 to \(options.maxLimit)")
            }
            limit = value
        }
        return (offset, limit)
    }

    /// A JSON answer (a list carries `X-Total-Count`).
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, total: Int? = nil) -> Response {
        var headers: HTTPFields = [:]
        if let total { headers[HTTPField.Name("X-Total-Count")!] = String(total) }
        return JSONResponse.make(value, status: status, headers: headers)
    }
}

/// An error in XPRESSO's words: `{"detail": "…"}` (Django REST framework's shape); a 400 also carries
/// `Error`, as XPRESSO's own validation errors do.
struct XPRESSOError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    static let notFound = XPRESSOError(.notFound, "Not Found")

    /// Django REST framework's 405 (`MethodNotAllowed`), with the methods the path serves for `Allow`.
    static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [String]) -> XPRESSOError {
        var failure = XPRESSOError(.methodNotAllowed, "Method \"\(method.rawValue)\" not allowed.")
        failure.allow = allowed
        return failure
    }

    /// The methods a 405 names in `Allow`.
    var allow: [String] = []

    var body: JSONValue {
        var object: [String: JSONValue] = ["detail": .string(message)]
        if status == .badRequest { object["Error"] = .string(message) }
        return .object(object)
    }
}

/// Renders every error under `/xpresso` in XPRESSO's shape: core errors keep their class (a core not-found is
/// XPRESSO's `Not Found`, or names what was missing when it was a field of the body), unexpected ones are
/// logged and answered generically (never a bare 500 page).
struct XPRESSOErrors: DoorErrorShape {
    func response(to error: any Error, request: Request, context: AppRequestContext) async throws -> Response {
        let failure = Self.xpressoError(error, context: context)
        var headers: HTTPFields = [:]
        if failure.status == .unauthorized { headers[.wwwAuthenticate] = "Token" }
        if !failure.allow.isEmpty { headers[.allow] = failure.allow.joined(separator: ", ") }
        return JSONResponse.make(failure.body, status: failure.status, headers: headers)
    }

    /// Missing or invalid credentials in Django REST framework's words.
    func refusal(_ refusal: AuthenticationRefusal) -> any Error {
        switch refusal {
        case .missing, .unknownScheme:
            return XPRESSOError(.unauthorized, "Authentication credentials were not provided.")
        case .invalidToken, .invalidPassword: return XPRESSOError(.unauthorized, "Invalid token.")
        }
    }

    static func xpressoError(_ error: any Error, context: AppRequestContext) -> XPRESSOError {
        if let failure = error as? XPRESSOError { return failure }
        let native = NativeErrors.proctorError(error, logger: context.logger)
        switch native.code {
        case .notFound: return native.field == nil ? .notFound : XPRESSOError(.notFound, native.message)
        case .unprocessable: return XPRESSOError(.badRequest, native.message)
        case .internal: return XPRESSOError(.internalServerError, "A server error occurred.")
        default: return XPRESSOError(native.code.status, native.message)
        }
    }
}
