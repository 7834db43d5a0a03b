import Hummingbird
import Logging
import ProctorCore
import ProctorStore

/// Opens the store the configuration names (PostgreSQL when a URL is given, else SQLite in the data dir)
/// and brings its schema up to date.
public func openStore(_ configuration: AppConfiguration, logger: Logger) async throws -> SQLStore {
    let store: SQLStore
    if let url = configuration.databaseURL {
        store = try await SQLStore.postgres(url: url, logger: logger)
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
    let router = Router(context: AppRequestContext.self)
    let metrics = AppMetrics()
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    router.add(middleware: NativeErrorMiddleware())
    SystemController(store: store).addRoutes(to: router)
    MetricsController(store: store, metrics: metrics).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    let auth = AuthController(store: store, maxJSONBytes: configuration.maxJSONBytes)
    auth.addPublicRoutes(to: router)
    let api = router.group("api/v1").add(middleware: TokenAuthMiddleware(authenticator: Authenticator(store: store)))
    auth.addRoutes(to: api)
    ApplyController(store: store, maxJSONBytes: configuration.maxJSONBytes).addRoutes(to: api)
    for kind in NativeAPI.resourceKinds {
        ResourceController(
            kind: kind, store: store, maxJSONBytes: configuration.maxJSONBytes,
            writeRole: NativeAPI.memberWritable.contains(kind) ? .member : .admin
        ).addRoutes(to: api)
    }
    return router
}

/// What the native API serves generically.
public enum NativeAPI {
    public static let resourceKinds: [ResourceKind] = [
        .groups, .harnesses, .engines, .testbeds, .configs, .products, .topics, .components, .definitions, .profiles,
        .bundles, .remotecis, .runs, .imageBuilds,
    ]
    static let memberWritable: Set<ResourceKind> = [.runs]
}

/// Assembles the application: store, bootstrap, routes. Tests call this too, with their own store.
public func buildApplication(
    configuration: AppConfiguration, store: any Store, logger: Logger
) async throws -> some ApplicationProtocol {
    let router = buildRouter(store: store, configuration: configuration)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "proctor"),
        logger: logger
    )
}
