import Foundation
import Hummingbird
import Logging
import ProctorCDRouter
import ProctorCore
import ProctorDCI
import ProctorDashboard
import ProctorExec
import ProctorHTTPKit
import ProctorKernelCI
import ProctorNativeAPI
import ProctorObjectStore
import ProctorStore
import ProctorStoreWriting
import ProctorXPRESSO

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
    let router = Router(context: AppRequestContext.self)
    let metrics = AppMetrics()
    services.activity.add(metrics)
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    router.add(middleware: RouteScopeMiddleware())
    router.add(middleware: DoorErrorMiddleware(NativeAPI.errors))
    NativeAPI.addRoutes(to: router, services: services, configuration: configuration, metrics: metrics)
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

/// Assembles the application: store, bootstrap, routes. Tests call this too, with their own store.
public func buildApplication(
    configuration: AppConfiguration,
    store: any Store,
    logger: Logger
) async throws -> some ApplicationProtocol {
    let services = configuration.runServices(store: store)
    services.activity.add(RunActivityLog(logger: logger))
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
        worker: worker,
        agents: services.agents
    )
    return Application(
        router: router,
        server: .http1(limits: configuration.requestHeadLimits),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "proctor"),
        services: [executor, WebhookDispatcher(services: services, logger: logger)],
        logger: logger
    )
}

extension AppConfiguration {
    /// The run machinery over a store, configured from here.
    public func runServices(store: any Store) -> RunServices {
        RunServices(
            store: store,
            filesRoot: filesDirectory,
            maxFileBytes: maxFileBytes,
            fileStore: objectStore.map { S3FileStore(settings: $0) },
            leaseSeconds: leaseSeconds,
            maxAttempts: maxRunAttempts,
            loginLimits: loginLimits
        )
    }

    /// The sandbox the local executor runs jobs in, hiding the data directory, the image storage and the other
    /// runs' work directories. Throws, saying what to install or change, when it cannot be had.
    public func makeSandbox() throws -> Sandbox {
        let imageStorage = imageStoragePath ?? URL(fileURLWithPath: dataDirectory).appendingPathComponent("images").path
        return try Sandbox.prepare(sandbox, workRoot: runsDirectory, ownDirectories: [dataDirectory, imageStorage])
    }
}
