import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit
import ProctorNativeAPI

/// The web dashboard (issue #9): server-rendered pages at `/`, a password login with a session cookie, and the
/// live feeds the pages' scripts follow. Pages read through the core services and the store's indexed queries;
/// the live feeds are the native API's own event and log streams, reached with the session instead of a token.
///
/// Routes: `/` (runs), `/runs/:id`, `/jobs`, `/jobs/:id`, `/lab/:section`, `/login`, `/logout`, `/assets/:name`,
/// `/ui/events/stream`, `/ui/runs/:id/log/stream`, `/ui/files/:id` and the POST forms of cancel, relaunch and
/// launch. None of them is part of the OpenAPI document (see ``Dashboard/isDashboardRoute(_:)``).
public struct DashboardController: Sendable {
    let services: RunServices
    let configuration: AppConfiguration

    public init(services: RunServices, configuration: AppConfiguration) {
        self.services = services
        self.configuration = configuration
    }

    var store: any StoreReader { services.store }

    public func addRoutes(to router: Router<AppRequestContext>) {
        let renderer: DashboardRenderer
        switch DashboardRenderer.shared {
        case .success(let loaded): renderer = loaded
        case .failure(let error):
            router.get("/") { _, _ -> Response in
                DashboardRenderer.html(
                    "<!doctype html><title>Proctor</title><p>The dashboard's templates are missing: \(error)",
                    status: .internalServerError
                )
            }
            return
        }
        let errors = DoorErrorMiddleware(DashboardErrors(renderer: renderer))
        let open = router.group().add(middleware: errors)
        open.get("login", use: { request, _ in try loginPage(request, renderer: renderer, error: nil) })
        open.post("login", use: { request, context in try await login(request, context: context, renderer: renderer) })
        open.get("assets/:name", use: { request, context in try asset(request, context: context, renderer: renderer) })

        let pages = open.group().add(
            middleware: DashboardSessionMiddleware(
                authenticator: services.authenticator,
                maxFormBytes: configuration.maxJSONBytes
            )
        ).group(context: AuthenticatedContext.self)
        pages.post("logout", use: logout)
        let native = RunController(
            services: services,
            maxJSONBytes: configuration.maxJSONBytes,
            maxFileBytes: configuration.maxFileBytes
        )
        pages.get("ui/events/stream", use: native.eventStream)
        pages.get("ui/runs/:id/log/stream", use: native.followLog)
        pages.get("ui/files/:id", use: native.download)
        let slots = configuration.executorSlots
        RunPages(services: services, renderer: renderer, localExecutorSlots: slots).addRoutes(to: pages)
        JobPages(services: services, renderer: renderer, localExecutorSlots: slots).addRoutes(to: pages)
        LabPages(store: store, renderer: renderer, waits: RunWaits(store: store, localExecutorSlots: slots))
            .addRoutes(to: pages)
    }

    // MARK: Login and logout

    func loginPage(_ request: Request, renderer: DashboardRenderer, error: String?, status: HTTPResponse.Status = .ok)
        throws -> Response
    {
        let nonce = Credentials.newSecret(bytes: 16)
        var response = try renderer.page(
            "login",
            title: "Log in · Proctor",
            section: "login",
            session: nil,
            data: [
                "login_csrf": nonce, "error": error ?? "",
                "next": Self.safeNext(request.uri.queryParameters["next"].map(String.init)),
            ],
            status: status
        )
        response.setCookie(
            DashboardSession.cookie(DashboardSession.loginCookieName, value: nonce, maxAge: 3600, request: request)
        )
        return response
    }

    func login(_ request: Request, context: AppRequestContext, renderer: DashboardRenderer) async throws -> Response {
        var request = request
        let form = try await DashboardSession.form(&request, limit: configuration.maxJSONBytes)
        guard let sent = form[DashboardSession.csrfField]?.first,
            let expected = request.cookies[DashboardSession.loginCookieName]?.value,
            !DashboardSession.isCrossSite(request), Credentials.constantTimeEqual(sent, expected)
        else {
            return try loginPage(
                request,
                renderer: renderer,
                error: "The login form expired; please try again.",
                status: .forbidden
            )
        }
        let name = form["name"]?.first?.trimmingCharacters(in: .whitespaces) ?? ""
        let password = form["password"]?.first ?? ""
        let issued: Accounts.IssuedToken
        do {
            issued = try await Accounts(authenticator: services.authenticator).login(
                name: name,
                password: password,
                lifetime: DashboardSession.lifetime,
                from: ClientAddresses(configuration).key(request, context)
            ).token
        } catch let failure as ProctorError where failure.code == .unauthorized {
            return try loginPage(
                request,
                renderer: renderer,
                error: "Wrong user name or password.",
                status: .unauthorized
            )
        } catch let failure as ProctorError where failure.code == .tooManyRequests {
            // The login page again (with a fresh form), saying when to retry.
            let seconds = failure.retryAfter ?? 1
            let wait =
                seconds == 1 ? "a second" : seconds < 120 ? "\(seconds) seconds" : "\((seconds + 59) / 60) minutes"
            var response = try loginPage(
                request,
                renderer: renderer,
                error: "Too many failed logins. Try again in \(wait).",
                status: .tooManyRequests
            )
            response.headers[.retryAfter] = String(seconds)
            return response
        }
        var response = Response(
            status: .seeOther,
            headers: [.location: Self.safeNext(form["next"]?.first), .cacheControl: "no-store"]
        )
        response.setCookie(
            DashboardSession.cookie(
                DashboardSession.cookieName,
                value: issued.secret,
                maxAge: Int(DashboardSession.lifetime),
                request: request
            )
        )
        response.setCookie(
            DashboardSession.cookie(DashboardSession.loginCookieName, value: "", maxAge: 0, request: request)
        )
        return response
    }

    @Sendable func logout(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        if let secret = DashboardSession.secret(request) {
            try await services.accounts.revokeSession(secret: secret)
        }
        var response = Response(status: .seeOther, headers: [.location: "/login", .cacheControl: "no-store"])
        response.setCookie(DashboardSession.cookie(DashboardSession.cookieName, value: "", maxAge: 0, request: request))
        return response
    }

    /// Only a local path (`/…`, not `//host`) may follow a login.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else { return "/" }
        return next
    }

    // MARK: Assets

    func asset(_ request: Request, context: AppRequestContext, renderer: DashboardRenderer) throws -> Response {
        let name = try context.parameters.require("name")
        guard let asset = renderer.assets[name] else { throw ProctorError.notFound("no such asset: \(name)") }
        var headers: HTTPFields = [.contentType: asset.contentType, .eTag: asset.etag]
        // Versioned links (`?v=`) never change; an unversioned one is revalidated.
        headers[.cacheControl] =
            request.uri.queryParameters["v"] != nil ? "public, max-age=31536000, immutable" : "public, max-age=300"
        if request.headers[.ifNoneMatch] == asset.etag { return Response(status: .notModified, headers: headers) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.bytes))
    }
}

/// What the rest of the server (and its tests) need to know about the dashboard.
public enum Dashboard {
    /// Where the dashboard's routes live: `/` exactly, and everything under these prefixes.
    public static let routePrefixes = ["/runs", "/jobs", "/tests", "/lab", "/login", "/logout", "/assets/", "/ui/"]

    /// Renders the runs page (`/` with these query parameters) as `principal` sees it, without HTTP: what
    /// `proctor-bench --dashboard` times.
    public static func renderRunsPage(
        services: RunServices,
        parameters: [String: String],
        principal: Principal,
        localExecutorSlots: Int = 1
    ) async throws -> String {
        let renderer = try DashboardRenderer.shared.get()
        return try await RunPages(services: services, renderer: renderer, localExecutorSlots: localExecutorSlots)
            .runsHTML(
                parameters.mapValues { Substring($0) },
                session: PageSession(principal: principal, csrf: "bench")
            )
    }

    /// Whether a route path belongs to the dashboard (HTML pages and their feeds, not the documented API).
    public static func isDashboardRoute(_ path: String) -> Bool {
        path == "/" || path.isEmpty || routePrefixes.contains { path.hasPrefix($0) }
    }
}

/// Renders failures of dashboard routes as HTML pages with their status (JSON clients of the live feeds get
/// the same status).
struct DashboardErrors: DoorErrorShape {
    let renderer: DashboardRenderer

    func response(to error: any Error, request: Request, context: AppRequestContext) async throws -> Response {
        let failure = NativeErrors.proctorError(error, logger: context.logger)
        let session = context.principal.flatMap { try? PageSession(request, principal: $0) }
        let title: String
        switch failure.code {
        case .notFound: title = "Not found"
        case .forbidden: title = "Forbidden"
        case .unauthorized: title = "Not logged in"
        case .conflict: title = "Conflict"
        case .tooManyRequests: title = "Too many attempts"
        default: title = failure.code.status.code >= 500 ? "Server error" : "Bad request"
        }
        var response = try renderer.page(
            "error",
            title: "\(title) · Proctor",
            section: "error",
            session: session,
            data: ["heading": title, "message": failure.message, "code": Int(failure.code.status.code)],
            status: failure.code.status
        )
        if let seconds = failure.retryAfter { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}
