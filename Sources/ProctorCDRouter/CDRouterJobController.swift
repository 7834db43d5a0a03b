import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `jobs/`: list, get, launch (through ``RunLifecycle/launch(_:principal:scope:)``, so a job really runs on the
/// executor), edit while pending, delete, `?process=interfaces`, `?bulk=launch|delete`.
struct CDRouterJobController {
    let api: CDRouterAPI

    var store: any StoreReader { api.store }
    var query: CDRouterQuery { CDRouterQuery(api: api, fields: CDRouterQuery.jobFields) }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        group.get("jobs", use: list)
        group.post("jobs", use: post)
        group.get("jobs/:id", use: get)
        group.patch("jobs/:id", use: edit)
        group.delete("jobs/:id", use: delete)
    }

    /// The runs the jobs API shows: those of CDRouter packages the caller can see.
    func jobsFilter(scope: Scope) async throws -> Filter {
        let packages = try await store.list(
            .definitions,
            query: Query(filter: CDRouterPackages.filter, limit: api.references.maxMatches, fields: ["id"]),
            scope: scope
        ).items.map(\.id)
        return packages.isEmpty ? SeqReferences.nothing : .predicate(Condition("definition_id", .in, packages))
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let scope = principal.scope
        let detailed = try CDRouterAPI.flag(request, "detailed")
        let (page, paging) = try await query.page(
            .runs,
            request,
            base: try await jobsFilter(scope: scope),
            scope: scope
        )
        var lookup = CDRouterLookup(store: store)
        var items: [JSONValue] = []
        for run in page.items { items.append(try await CDRouterRender.job(run, detailed: detailed, lookup: &lookup)) }
        return CDRouterAPI.list(items, page: paging, total: page.total ?? items.count)
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireJob(try CDRouterAPI.pathID(context), principal: principal)
        var lookup = CDRouterLookup(store: store)
        return CDRouterAPI.data(try await CDRouterRender.job(run, detailed: true, lookup: &lookup))
    }

    /// `POST jobs/`: a launch, or `?process=interfaces`, or `?bulk=launch|delete`.
    @Sendable func post(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let parameters = request.uri.queryParameters
        let body = try await api.object(request)
        if let bulk = parameters["bulk"].map(String.init) {
            switch bulk {
            case "launch": return try await bulkLaunch(request, body: body, principal: principal)
            case "delete": return try await bulkDelete(request, body: body, principal: principal)
            default: throw CDRouterError(.badRequest, "bulk must be launch or delete")
            }
        }
        if let process = parameters["process"].map(String.init) {
            guard process == "interfaces" else { throw CDRouterError(.badRequest, "process must be interfaces") }
            let (target, runOptions) = try await launchInputs(body, principal: principal)
            return CDRouterAPI.data(
                .array(
                    try CDRouterInterfaces.interfaces(
                        testbed: target.testbed,
                        config: target.config,
                        runOptions: runOptions
                    )
                )
            )
        }
        let run = try await launch(body, principal: principal)
        var lookup = CDRouterLookup(store: store)
        return CDRouterAPI.data(try await CDRouterRender.job(run, detailed: true, lookup: &lookup))
    }

    /// `PATCH jobs/{id}/`: another package, device or config for a pending job; null members are "not given".
    @Sendable func edit(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireJob(try CDRouterAPI.pathID(context), principal: principal)
        try principal.require(.member, in: run.groupID ?? "", resource: "job")
        let body = try await api.object(request)
        let groupScope = Scope.groups([run.groupID ?? ""])
        var definition: Record?
        if let packageID = try CDRouterAPI.idValue(body["package_id"], field: "package_id") {
            definition = try await package(packageID, scope: groupScope)
        }
        let testbed = try await reference(
            .testbeds,
            body["device_id"],
            field: "device_id",
            noun: "device",
            scope: groupScope
        )
        let config = try await reference(
            .configs,
            body["config_id"],
            field: "config_id",
            noun: "config",
            scope: groupScope
        )
        var extra: [String: JSONValue] = [:]
        if definition != nil || testbed != nil || config != nil || body["options"] != nil {
            let current = run["options"].jsonValue?["cdrouter"]?.objectValue ?? [:]
            let options = try body["options"].map { try Self.jobOptions($0) } ?? current
            var lookup = CDRouterLookup(store: store)
            let effectiveDefinition = try await lookup.row(.definitions, run.string("definition_id"))
            let effectiveTestbed = try await lookup.row(.testbeds, run.string("testbed_id"))
            let effectiveConfig = try await lookup.row(.configs, run.string("config_id"))
            extra = Self.runOptions(
                options,
                definition: definition ?? effectiveDefinition,
                testbed: testbed ?? effectiveTestbed,
                config: config ?? effectiveConfig
            )
        }
        let updated = try await QueuedRuns(services: api.services).retarget(
            runID: run.id,
            definition: Definition(definition),
            testbedID: testbed?.id,
            configID: config?.id,
            extraOptions: extra,
            tags: extra["cdrouter"]?["tags"]?.arrayValue?.compactMap(\.stringValue),
            scope: principal.scope
        )
        var lookup = CDRouterLookup(store: store)
        return CDRouterAPI.data(try await CDRouterRender.job(updated.record, detailed: true, lookup: &lookup))
    }

    /// `DELETE jobs/{id}/`: 204; a running job is a conflict (stop it first).
    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireJob(try CDRouterAPI.pathID(context), principal: principal)
        guard
            try await QueuedRuns(services: api.services).deleteUnlessActive(
                runID: run.id,
                principal: principal,
                scope: principal.scope
            )
        else { throw CDRouterError.noSuch("job") }
        return Response(status: .noContent)
    }

    // MARK: Bulk

    /// `?bulk=launch`: `{"jobs": [...]}` launches each; else `{"fields": {...}}` launches every package matching the
    /// package `filter`s (or all of them with `all=true`). All or nothing.
    func bulkLaunch(_ request: Request, body: [String: JSONValue], principal: Principal) async throws -> Response {
        var launches: [LaunchRequest] = []
        if let jobs = body["jobs"] {
            guard let items = jobs.arrayValue else { throw CDRouterError(.badRequest, "jobs must be a list") }
            for item in items {
                guard let object = item.objectValue else {
                    throw CDRouterError(.badRequest, "each job must be an object")
                }
                launches.append(try await launchRequest(object.filter { $0.value != .null }, principal: principal))
            }
        } else {
            var fields: [String: JSONValue] = [:]
            if let value = body["fields"] {
                guard let object = value.objectValue else {
                    throw CDRouterError(.badRequest, "fields must be an object")
                }
                fields = object.filter { $0.value != .null }
            }
            let all = try CDRouterAPI.flag(request, "all")
            let packageQuery = CDRouterQuery(api: api, fields: CDRouterQuery.catalogFields(.definitions))
            let requested = try await packageQuery.filter(request, scope: principal.scope)
            guard all || requested != nil else {
                throw CDRouterError(.badRequest, "say which jobs to launch: a jobs list, a package filter, or all=true")
            }
            let packages = try await store.list(
                .definitions,
                query: Query(
                    filter: CDRouterPackages.filter && (requested ?? CDRouterPackages.filter),
                    sort: [SortKey("seq")],
                    limit: api.maxLimit
                ),
                scope: principal.scope
            ).items
            for package in packages {
                var object = fields
                object["package_id"] = .string(String(package.seq))
                launches.append(try await launchRequest(object, principal: principal))
            }
        }
        // Every job is checked before any is launched, and the batch is launched in one transaction: a refused
        // bulk launch leaves nothing on the lab for a retrying client to duplicate.
        let runs =
            launches.isEmpty
            ? []
            : try await api.services.lifecycle.launch(batch: launches, principal: principal, scope: principal.scope)
        var lookup = CDRouterLookup(store: store)
        var items: [JSONValue] = []
        for run in runs { items.append(try await CDRouterRender.job(run.record, detailed: true, lookup: &lookup)) }
        return CDRouterAPI.data(.array(items))
    }

    /// `?bulk=delete`: `{"jobs": [{"id"}]}`, or the job `filter`s, or `all=true` (every job not running). Running
    /// jobs are skipped; 204.
    func bulkDelete(_ request: Request, body: [String: JSONValue], principal: Principal) async throws -> Response {
        let queued = QueuedRuns(services: api.services)
        let scope = principal.scope
        if let jobs = body["jobs"] {
            guard let items = jobs.arrayValue else { throw CDRouterError(.badRequest, "jobs must be a list") }
            let visibleJobs = try await jobsFilter(scope: scope)
            for item in items {
                guard let id = try CDRouterAPI.idValue(item["id"], field: "id"),
                    let run = try await api.references.row(.runs, seq: id, scope: scope, within: visibleJobs)
                else { continue }
                do {
                    try await queued.deleteUnlessActive(runID: run.id, principal: principal, scope: scope)
                } catch let failure as ProctorError where failure.code == .conflict || failure.code == .forbidden {
                    continue
                }
            }
            return Response(status: .noContent)
        }
        let requested = try await query.filter(request, scope: scope)
        guard try CDRouterAPI.flag(request, "all") || requested != nil else {
            throw CDRouterError(.badRequest, "say which jobs to delete: a jobs list, a filter, or all=true")
        }
        var filter = try await jobsFilter(scope: scope)
        if let requested { filter = filter && requested }
        _ = try await queued.deleteInactive(matching: filter, principal: principal, scope: scope)
        return Response(status: .noContent)
    }

    // MARK: Launching

    struct Target {
        var definition: Record
        var testbed: Record?
        var config: Record?
    }

    /// The package, device and config a launch body names; device and config default to the package's.
    func resolve(_ body: [String: JSONValue], principal: Principal) async throws -> Target {
        guard let packageID = try CDRouterAPI.idValue(body["package_id"], field: "package_id") else {
            throw CDRouterError(.badRequest, "package_id is required")
        }
        let definition = try await package(packageID, scope: principal.scope)
        let groupScope = Scope.groups([definition.groupID ?? ""])
        let settings = CDRouterPackages.settings(definition)
        var testbed = try await reference(
            .testbeds,
            body["device_id"],
            field: "device_id",
            noun: "device",
            scope: groupScope
        )
        if testbed == nil, let id = settings["device_id"]?.stringValue {
            testbed = try await store.get(.testbeds, id: id, scope: groupScope)
        }
        var config = try await reference(
            .configs,
            body["config_id"],
            field: "config_id",
            noun: "config",
            scope: groupScope
        )
        if config == nil, let id = settings["config_id"]?.stringValue {
            config = try await store.get(.configs, id: id, scope: groupScope)
        }
        return Target(definition: definition, testbed: testbed, config: config)
    }

    func launch(_ body: [String: JSONValue], principal: Principal) async throws -> Record {
        try await api.services.lifecycle.launch(
            try await launchRequest(body, principal: principal),
            principal: principal,
            scope: principal.scope
        ).record
    }

    /// The core launch a CDRouter launch body asks for, checked (package, device, config, options) without
    /// launching anything.
    func launchRequest(_ body: [String: JSONValue], principal: Principal) async throws -> LaunchRequest {
        let (target, runOptions) = try await launchInputs(body, principal: principal)
        return LaunchRequest(
            definition: target.definition.id,
            testbed: target.testbed?.id,
            config: target.config?.id,
            harnessInputs: runOptions,
            tags: runOptions["cdrouter"]?["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        )
    }

    /// The package, device and config a launch body names, and the run options the launch would record.
    func launchInputs(_ body: [String: JSONValue], principal: Principal) async throws -> (
        Target, runOptions: [String: JSONValue]
    ) {
        let target = try await resolve(body, principal: principal)
        let options = try body["options"].map { try Self.jobOptions($0) } ?? [:]
        let runOptions = Self.runOptions(
            options,
            definition: target.definition,
            testbed: target.testbed,
            config: target.config
        )
        return (target, runOptions)
    }

    /// The job options a client sent, checked: `tags`, `skip_tests` (string lists), `begin_at`, `end_at`,
    /// `extra_cli_args` (strings), `testvars` (objects); nulls are dropped, and any other option is a 400 (a launch
    /// sets data, never how the job runs).
    static func jobOptions(_ value: JSONValue) throws -> [String: JSONValue] {
        if value == .null { return [:] }
        guard let object = value.objectValue else { throw CDRouterError(.badRequest, "options must be an object") }
        var options: [String: JSONValue] = [:]
        for (key, item) in object where item != .null {
            switch key {
            case "tags", "skip_tests":
                guard let list = item.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                    throw CDRouterError(.badRequest, "options.\(key) must be a list of strings")
                }
                options[key] = .array(list)
            case "begin_at", "end_at", "extra_cli_args":
                guard item.stringValue != nil else {
                    throw CDRouterError(.badRequest, "options.\(key) must be a string")
                }
                options[key] = item
            case "testvars":
                guard let list = item.arrayValue, list.allSatisfy({ $0.objectValue != nil }) else {
                    throw CDRouterError(.badRequest, "options.testvars must be a list of objects")
                }
                options[key] = .array(list.map { .object(($0.objectValue ?? [:]).filter { $0.value != .null }) })
            default:
                throw CDRouterError(
                    .badRequest,
                    "options.\(key) is not a job option; the options are begin_at, end_at, extra_cli_args, skip_tests, tags, testvars"
                )
            }
        }
        return options
    }

    /// What a CDRouter job adds to its run's options: the job options under `cdrouter`; the package, device and
    /// config names with the package's testlist and extra arguments under `cdrouter_target`. The `cdrouter`
    /// harness turns them into `cdrouter-cli` flags (also on a remote agent), and every harness into `CDROUTER_*`
    /// variables, for packages of another harness.
    static func runOptions(
        _ options: [String: JSONValue],
        definition: Record?,
        testbed: Record?,
        config: Record?
    ) -> [String: JSONValue] {
        let settings = definition.map(CDRouterPackages.settings) ?? [:]
        let target: [String: JSONValue] = [
            "package": .string(definition?.name ?? ""), "device": .string(testbed?.name ?? ""),
            "config": .string(config?.name ?? ""),
            "testlist": settings["testlist"] ?? .array([]), "extra_cli_args": settings["extra_cli_args"] ?? .string(""),
        ]
        return ["cdrouter": .object(options), "cdrouter_target": .object(target)]
    }

    // MARK: Lookups

    func requireJob(_ id: String, principal: Principal) async throws -> Record {
        guard
            let run = try await api.references.row(
                .runs,
                seq: id,
                scope: principal.scope,
                within: try await jobsFilter(scope: principal.scope)
            )
        else { throw CDRouterError.noSuch("job") }
        return run
    }

    func package(_ id: String, scope: Scope) async throws -> Record {
        guard
            let definition = try await api.references.row(
                .definitions,
                seq: id,
                scope: scope,
                within: CDRouterPackages.filter
            )
        else {
            throw CDRouterError.noSuch("package")
        }
        return definition
    }

    /// A device or config the body names by id (nil when not given); unknown ids are 404.
    func reference(_ kind: ResourceKind, _ value: JSONValue?, field: String, noun: String, scope: Scope) async throws
        -> Record?
    {
        guard let id = try CDRouterAPI.idValue(value, field: field) else { return nil }
        if id == "0" { return nil }
        guard let row = try await api.references.row(kind, seq: id, scope: scope) else {
            throw CDRouterError.noSuch(noun)
        }
        return row
    }
}
