import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `results/`: a result is a job's run once an executor picked it up (same id as the job), with pass/fail counts
/// from the run's test results; `results/{id}/tests/` lists those test results.
struct CDRouterResultController {
    let api: CDRouterAPI

    var store: any StoreReader { api.store }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        group.get("results", use: list)
        group.get("results/:id", use: get)
        group.get("results/:id/tests", use: tests)
    }

    func resultsFilter(scope: Scope) async throws -> Filter {
        try await CDRouterJobController(api: api).jobsFilter(scope: scope) && CDRouterRender.resultFilter
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let query = CDRouterQuery(api: api, fields: CDRouterQuery.resultFields)
        let (page, paging) = try await query.page(
            .runs,
            request,
            base: try await resultsFilter(scope: principal.scope),
            scope: principal.scope
        )
        let detailed = try CDRouterAPI.flag(request, "detailed")
        var lookup = CDRouterLookup(store: store)
        var items: [JSONValue] = []
        for run in page.items {
            items.append(try await CDRouterRender.result(run, detailed: detailed, lookup: &lookup))
        }
        return CDRouterAPI.list(items, page: paging, total: page.total ?? items.count)
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireResult(context, principal: principal)
        var lookup = CDRouterLookup(store: store)
        return CDRouterAPI.data(try await CDRouterRender.result(run, detailed: true, lookup: &lookup))
    }

    @Sendable func tests(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireResult(context, principal: principal)
        let query = CDRouterQuery(api: api, fields: CDRouterQuery.testFields)
        let (page, paging) = try await query.page(
            .testResults,
            request,
            base: .equal("run_id", run.id),
            scope: Scope.groups([run.groupID ?? ""])
        )
        let items = page.items.map { CDRouterRender.test($0, index: nil) }
        return CDRouterAPI.list(items, page: paging, total: page.total ?? items.count)
    }

    func requireResult(_ context: AuthenticatedContext, principal: Principal) async throws -> Record {
        let id = try CDRouterAPI.pathID(context)
        guard
            let run = try await api.references.row(
                .runs,
                seq: id,
                scope: principal.scope,
                within: try await resultsFilter(scope: principal.scope)
            )
        else { throw CDRouterError.noSuch("result") }
        return run
    }
}

/// `system/hostname/` and `system/time/` (open, so the client's automatic-login probe never loops), `users/`
/// (list, get, `{id}/token/`) and `POST /cdrouter/authenticate`.
struct CDRouterSystemController {
    let api: CDRouterAPI

    var store: any StoreReader { api.store }

    /// Routes that need no token.
    func addPublicRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("api/v1/system/hostname", use: hostname)
        group.get("api/v1/system/time", use: time)
        group.post("authenticate", use: authenticate)
    }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        group.get("users", use: users)
        group.get("users/:id", use: user)
        group.post("users/:id/token", use: token)
    }

    @Sendable func hostname(_ request: Request, context: AppRequestContext) async throws -> Response {
        CDRouterAPI.data(.string(ProcessInfo.processInfo.hostName))
    }

    @Sendable func time(_ request: Request, context: AppRequestContext) async throws -> Response {
        CDRouterAPI.data(.object(["time": .string(CDRouterAPI.timestamp())]))
    }

    /// `username` and `password` in the query string (what cdrouter.py sends) or a form body (the vendor docs);
    /// answers the user with a new API token. Failed attempts are limited (the server's ``LoginThrottle``): beyond
    /// the limit, a 429 with `Retry-After`.
    @Sendable func authenticate(_ request: Request, context: AppRequestContext) async throws -> Response {
        var fields: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { fields[String(key)] = String(value) }
        if fields["username"] == nil || fields["password"] == nil {
            let buffer = try? await request.body.collect(upTo: 64 * 1024)
            if let buffer, buffer.readableBytes > 0 {
                let text = String(buffer: buffer)
                for pair in text.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { continue }
                    func decode(_ s: Substring) -> String {
                        let spaced = s.replacingOccurrences(of: "+", with: " ")
                        return spaced.removingPercentEncoding ?? spaced
                    }
                    fields[decode(parts[0])] = decode(parts[1])
                }
            }
        }
        guard let username = fields["username"], let password = fields["password"] else {
            throw CDRouterError(.badRequest, "username and password are required")
        }
        let authenticator = api.services.authenticator
        let principal: Principal
        do {
            principal = try await authenticator.principal(
                forUser: username,
                password: password,
                from: api.addresses.key(request, context)
            )
        } catch let failure as ProctorError where failure.code == .tooManyRequests {
            throw CDRouterError(.tooManyRequests, failure.message, retryAfter: failure.retryAfter)
        } catch let failure as ProctorError where failure.code == .unauthorized {
            throw CDRouterError(.unauthorized, "invalid username or password")
        }
        let user = try await store.require(.users, id: principal.id)
        let issued = try await authenticator.issueToken(
            userID: user.id,
            name: "cdrouter-login",
            expiresAt: Timestamp.now() + 30 * 86_400 * 1_000_000
        )
        return CDRouterAPI.data(CDRouterRender.user(user, token: issued.token))
    }

    @Sendable func users(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let fields: [String: CDRouterField] = [
            "id": .direct("seq"), "name": .direct("name"), "created": .direct("created_at"),
            "updated": .direct("updated_at"), "admin": .direct("is_site_admin"),
        ]
        let query = CDRouterQuery(api: api, fields: fields)
        let base: Filter? = principal.isSiteAdmin ? nil : .equal("id", principal.id)
        let (page, paging) = try await query.page(.users, request, base: base, scope: .everything)
        return CDRouterAPI.list(
            page.items.map { CDRouterRender.user($0) },
            page: paging,
            total: page.total ?? page.items.count
        )
    }

    @Sendable func user(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        return CDRouterAPI.data(CDRouterRender.user(try await requireUser(context, principal: principal)))
    }

    /// A new API token for the user (the caller itself, or anyone for the site admin).
    @Sendable func token(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let user = try await requireUser(context, principal: principal)
        let issued = try await api.services.authenticator.issueToken(
            userID: user.id,
            name: "cdrouter-\(Timestamp.now())"
        )
        return CDRouterAPI.data(CDRouterRender.user(user, token: issued.token))
    }

    /// Users other than the caller are visible to the site admin only.
    func requireUser(_ context: AuthenticatedContext, principal: Principal) async throws -> Record {
        let id = try CDRouterAPI.pathID(context)
        guard let user = try await api.references.row(.users, seq: id, scope: .everything),
            principal.isSiteAdmin || user.id == principal.id
        else { throw CDRouterError.noSuch("user") }
        return user
    }
}
