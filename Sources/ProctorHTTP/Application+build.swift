import Foundation
import Hummingbird
import Logging
import ProctorCore
import ProctorExec
import ProctorStore

/// Opens the store the configuration names (PostgreSQL when a URL is given, else SQLite in the data dir)
/// and brings its schema up to date.
public func openStore(_ configuration: AppConfiguration, logger: Logger) async throws -> SQLStore {
    let store: SQLStore
    if let url = configuration.databaseURL {
        store = try await SQLStore.postgres(
            url: url,
            connections: configuration.postgresConnections,
            leaseTimeout: .seconds(configuration.postgresWaitSeconds),
            logger: logger
        )
    } else {
        store = try await SQLStore.sqlite(path: configuration.sqlitePath, logger: logger)
    }
    let applied: [Int]
    do {
        applied = try await store.migrate()
    } catch {
        await store.shutdown()
        throw error
    }
    if !applied.isEmpty { logger.info("migrated the \(store.flavor.rawValue) store to version \(applied.last ?? 0)") }
    return store
}

/// Builds the router of every front door over one store.
public func buildRouter(store: any Store, configuration: AppConfiguration) -> Router<AppRequestContext> {
    buildRouter(services: configuration.runServices(store: store), configuration: configuration)
}

/// Builds the router over shared run services (the executor wakes on the same event hub).
public func buildRouter(services: RunServices, configuration: AppConfiguration) -> Router<AppRequestContext> {
    let store = services.store
    let router = Router(context: AppRequestContext.self)
    let metrics = AppMetrics()
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    router.add(middleware: RouteScopeMiddleware())
    router.add(middleware: DoorErrorMiddleware(NativeErrors()))
    SystemController(store: store).addRoutes(to: router)
    MetricsController(store: store, metrics: metrics, token: configuration.metricsToken).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    let auth = AuthController(services: services, configuration: configuration)
    auth.addPublicRoutes(to: router)
    let api = router.group("api/v1")
        .add(middleware: Authentication(services.authenticator, shape: NativeErrors()))
        .group(context: AuthenticatedContext.self)
    auth.addRoutes(to: api)
    ApplyController(store: store, maxJSONBytes: configuration.maxJSONBytes).addRoutes(to: api)
    for kind in NativeAPI.resourceKinds {
        ResourceController(
            kind: kind,
            store: store,
            maxJSONBytes: configuration.maxJSONBytes,
            writeRole: NativeAPI.memberWritable.contains(kind) ? .member : .admin
        ).addRoutes(to: api)
    }
    RunController(
        services: services,
        maxJSONBytes: configuration.maxJSONBytes,
        maxFileBytes: configuration.maxFileBytes
    )
    .addRoutes(to: api)
    AgentController(services: services, maxJSONBytes: configuration.maxJSONBytes).addRoutes(to: api)
    WebhookController(store: store).addRoutes(to: api)
    DCIAPI(services: services, configuration: configuration).addRoutes(to: router)
    KernelCIAPI(
        services: services,
        configuration: configuration,
        options: .init(maxLimit: configuration.kernelciMaxLimit)
    ).addRoutes(to: router)
    CDRouterAPI(services: services, configuration: configuration).addRoutes(to: router)
    XPRESSOAPI(services: services, configuration: configuration).addRoutes(to: router)
    DashboardController(services: services, configuration: configuration).addRoutes(to: router)
    return router
}

/// What the native API serves generically.
public enum NativeAPI {
    public static let resourceKinds: [ResourceKind] = [
        .groups, .harnesses, .engines, .testbeds, .configs, .products, .topics, .components, .definitions, .profiles,
        .bundles, .remotecis, .runs, .imageBuilds, .agents, .webhooks,
    ]
    static let memberWritable: Set<ResourceKind> = [.runs]
    /// What PATCH may change on a run; its status moves only through launch, cancel and status reports.
    static let runPatchable: Set<String> = [
        "name", "comment", "tags", "labels", "priority", "data", "url", "configuration",
    ]
}

/// Assembles the application: store, bootstrap, routes. Tests call this too, with their own store.
public func buildApplication(
    configuration: AppConfiguration,
    store: any Store,
    logger: Logger
) async throws -> some ApplicationProtocol {
    let services = configuration.runServices(store: store)
    let abandoned = services.files.removeAbandonedUploads()
    if abandoned > 0 {
        logger.info("removed \(abandoned) partial uploads that a stopped server left in files/.incoming")
    }
    let router = buildRouter(services: services, configuration: configuration)
    // A server with no executor slots executes nothing, and needs no sandbox.
    var sandbox = Sandbox.unsandboxed(workRoot: configuration.runsDirectory)
    if configuration.executorSlots > 0 {
        sandbox = try configuration.makeSandbox()
        try await sandbox.check()
        if sandbox.mode == .none { logger.warning("\(sandbox.summary)") } else { logger.info("\(sandbox.summary)") }
    }
    let worker = RunWorker(
        workspace: URL(fileURLWithPath: configuration.workspace),
        sandbox: sandbox,
        gracePeriod: configuration.killGraceSeconds,
        heartbeatInterval: max(0.5, Double(configuration.leaseSeconds) / 10),
        harness: HarnessSettings(
            cdrouterBinary: configuration.cdrouterBinary,
            python: configuration.pythonBinary,
            pyats: configuration.pyatsBinary
        ),
        logger: logger
    )
    let executor = LocalExecutor(
        queue: services.queue,
        files: services.files,
        logs: services.logs,
        slots: configuration.executorSlots,
        worker: worker
    )
    return Application(
        router: router,
        server: .http1(limits: configuration.requestHeadLimits),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "proctor"),
        services: [executor, WebhookDispatcher(services: services, logger: logger)],
        logger: logger
    )
}
