import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// The Red Hat DCI dialect, mounted under `/dci/api/v1` (a client sets `DCI_CS_URL=http://host:port/dci`).
///
/// A thin mapping onto the core: DCI teams are groups, jobs are runs that the remote CI executes and reports
/// on (`executor = client`), jobstates are run events, files and their JUnit results are the runs' files and
/// test results. See `docs/dci.md` for what differs from the real control server.
public struct DCIAPI: Sendable {
    /// DCI's default upload limit (`MAX_CONTENT_LENGTH`, 20 MiB); signed bodies are read up to this size.
    public static let maxBodyBytes = 20 << 20

    let services: RunServices
    let maxJSONBytes: Int
    let maxFileBytes: Int
    let now: @Sendable () -> Date
    let addresses: ClientAddresses

    /// - Parameters:
    ///   - now: the clock HMAC signatures are checked against (tests freeze it).
    public init(
        services: RunServices,
        configuration: AppConfiguration,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.services = services
        self.maxJSONBytes = configuration.maxJSONBytes
        self.maxFileBytes = min(Self.maxBodyBytes, configuration.maxFileBytes)
        self.now = now
        self.addresses = ClientAddresses(configuration)
    }

    var store: any StoreReader { services.store }

    /// Adds every DCI route to the router, behind DCI's error shape and authentication.
    public func addRoutes(to router: Router<AppRequestContext>) {
        var credentials = CredentialPolicy.token
        credentials.acceptsBareToken = false
        credentials.acceptsPasswords = true
        credentials.signatures = DCISignedRequests(store: store, maxBodyBytes: Self.maxBodyBytes, now: now)
        let group = router.group("dci/api/v1")
            .add(middleware: DoorErrorMiddleware(DCIErrors()))
            .add(
                middleware: Authentication(
                    services.authenticator,
                    policy: credentials,
                    shape: DCIErrors(),
                    addresses: addresses
                )
            )
            .group(context: AuthenticatedContext.self)
        let routes = DoorRoutes(group: group)
        DCIIdentityController(api: self).addRoutes(to: routes)
        DCITopicController(api: self).addRoutes(to: routes)
        DCICatalogController(api: self).addRoutes(to: routes)
        DCIJobController(api: self).addRoutes(to: routes)
        DCIJobstateController(api: self).addRoutes(to: routes)
        DCIFileController(api: self).addRoutes(to: routes)
        // Anything else under the prefix is DCI's 404 or 405, not the native API's.
        routes.addMethodFallbacks { _, _ in
            DCIError(.methodNotAllowed, "The method is not allowed for the requested URL.")
        }
        DoorRoutes.answerUnknownPaths(under: group) {
            DCIError(.notFound, "The requested URL was not found on the server.")
        }
    }

    // MARK: Helpers shared by the controllers

    /// The JSON object of a request body; DCI answers a missing or malformed body with 400.
    func object(_ request: Request) async throws -> [String: JSONValue] {
        try await JSONBody.reading({ try await JSONBody.object(request, limit: maxJSONBytes) }) { problem in
            switch problem {
            case .tooLarge(let limit): return DCIError(.contentTooLarge, "the body is larger than \(limit) bytes")
            case .empty: return DCIError.malformed(["the request needs a JSON body"])
            case .malformed: return DCIError.malformed(["the body is not valid JSON"])
            case .notAnObject: return DCIError.malformed(["the body must be a JSON object"])
            }
        }
    }

    /// Refuses keys outside a schema's properties, in DCI's words.
    func allow(_ object: [String: JSONValue], only keys: Set<String>) throws {
        let unexpected = object.keys.filter { !keys.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            throw DCIError.malformed(
                unexpected.map { "Additional properties are not allowed ('\($0)' was unexpected)" }
            )
        }
    }

    /// A visible (in scope, not archived) row, or DCI's 404 ("job not found"). Runs Proctor executes are not
    /// DCI's jobs, nor are their files and events DCI's (a core rule, ``ReportedRuns/dciJobs``).
    func require(_ resource: DCIResource, id: String, principal: Principal) async throws -> Record {
        guard id.count <= 100, let record = try await store.get(resource.kind, id: id, scope: principal.scope),
            !resource.archivable || record.string("state") != "archived"
        else { throw DCIError.notFound(resource.singular) }
        switch resource.kind {
        case .runs:
            guard let run = Run(record), ReportedRuns.isDCIJob(run) else { throw DCIError.notFound(resource.singular) }
        case .files, .runEvents:
            guard let runID = record.string("run_id"),
                let run = try await store.get(Run.self, id: runID, scope: .everything),
                ReportedRuns.isDCIJob(run)
            else { throw DCIError.notFound(resource.singular) }
        default: break
        }
        return record
    }

    /// The `If-Match` value a PUT or DELETE must carry (412 without it).
    func ifMatch(_ request: Request) throws -> String {
        guard let value = request.ifMatchTag,
            !value.isEmpty
        else { throw DCIError.ifMatchMissing }
        return value
    }

    /// Writing needs the member role in the row's team (a remote CI is a member of its own team).
    func requireWrite(_ record: Record, principal: Principal) throws {
        guard principal.has(.member, in: record.groupID ?? "") else {
            throw DCIError(.unauthorized, "Operation not authorized.")
        }
    }

    /// The team a new row belongs to: `team_id` when the caller is in it, else the caller's only (or first
    /// admin) team.
    func owningTeam(_ object: [String: JSONValue], principal: Principal, role: Role) throws -> String {
        if let teamID = object["team_id"]?.stringValue {
            guard principal.has(role, in: teamID) else { throw DCIError(.unauthorized, "Operation not authorized.") }
            return teamID
        }
        if let membership = principal.memberships.first(where: { $0.role >= role }) { return membership.groupID }
        throw DCIError(.unauthorized, "Operation not authorized.")
    }

    /// Lists one DCI resource with the request's arguments and renders the envelope.
    ///
    /// - Parameters:
    ///   - render: renders the page's rows.
    func list(
        _ resource: DCIResource,
        _ request: Request,
        principal: Principal,
        extra: Filter? = nil,
        parent: Record? = nil,
        excluding: [String] = [],
        render: ([Record]) async throws -> [JSONValue]
    ) async throws -> Response {
        let (items, total) = try await page(
            resource,
            arguments: try DCIListArguments(request),
            principal: principal,
            extra: extra,
            parent: parent,
            excluding: excluding
        )
        return DCIRender.list(resource.plural, try await render(items), count: total)
    }

    /// One page of a DCI resource as the caller may see it, and how many rows match in all.
    ///
    /// - Parameters:
    ///   - parent: the visible row a nested list belongs to (`extra` filters on it). Its children are then read
    ///     without the team filter, which would only repeat the parent's and can mislead SQLite's planner into
    ///     scanning the whole team.
    ///   - excluding: core fields the rendering does not need (large JSON is costly to read).
    func page(
        _ resource: DCIResource,
        arguments: DCIListArguments,
        principal: Principal,
        extra: Filter? = nil,
        parent: Record? = nil,
        excluding: [String] = []
    ) async throws -> (items: [Record], total: Int) {
        // DCI lists its own jobs only, runs of a topic reported by a remote CI, and their files and events (a
        // core rule). A nested list's parent is already one of them.
        var extra = extra
        if parent == nil || resource.kind == .runs {
            switch resource.kind {
            case .runs: extra = extra && ReportedRuns.dciJobs
            case .files, .runEvents: extra = extra && ReportedRuns.ofDCIJobs
            default: break
            }
        }
        var query = try arguments.query(for: resource, extra: extra)
        query.excludedFields = excluding
        if resource.kind == .runEvents {
            // Events are numbered as they are recorded: `seq` is their creation order, and is indexed per run.
            query.sort = query.sort.map { $0.field == "created_at" ? SortKey("seq", descending: $0.descending) : $0 }
        }
        let page = try await store.list(
            resource.kind,
            query: query,
            scope: parent == nil ? principal.scope : .everything
        )
        return (page.items, page.total ?? page.items.count)
    }
}
