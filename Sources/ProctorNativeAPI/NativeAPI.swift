import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// What the native API serves generically.
public enum NativeAPI {
    /// Adds the native API's routes (`/livez`, `/healthz`, `/metrics`, `/openapi.json`, `/docs`, `/api/v1/…`)
    /// to the server's root router.
    public static func addRoutes(
        to router: Router<AppRequestContext>,
        services: RunServices,
        configuration: AppConfiguration,
        metrics: AppMetrics
    ) {
        let store = services.store
        SystemController(store: store).addRoutes(to: router)
        MetricsController(store: store, metrics: metrics, token: configuration.metricsToken).addRoutes(to: router)
        OpenAPIController().addRoutes(to: router)
        let auth = AuthController(services: services, configuration: configuration)
        auth.addPublicRoutes(to: router)
        let api = router.group("api/v1")
            .add(middleware: Authentication(services.authenticator, shape: errors))
            .group(context: AuthenticatedContext.self)
        auth.addRoutes(to: api)
        ApplyController(services: services, maxJSONBytes: configuration.maxJSONBytes).addRoutes(to: api)
        for kind in NativeAPI.resourceKinds {
            ResourceController(
                kind: kind,
                services: services,
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
    }

    /// The native API's error shape, which also answers 405 on a documented path called with another method.
    public static let errors = NativeErrors(allowedMethods: OpenAPIDocument.allowedMethods)

    public static let resourceKinds: [ResourceKind] = [
        .groups, .harnesses, .engines, .testbeds, .configs, .products, .topics, .components, .definitions, .profiles,
        .bundles, .remotecis, .runs, .imageBuilds, .agents, .webhooks,
    ]
    package static let memberWritable: Set<ResourceKind> = [.runs]
    /// What PATCH may change on a run; its status moves only through launch, cancel and status reports.
    package static let runPatchable: Set<String> = [
        "name", "comment", "tags", "labels", "priority", "data", "url", "configuration",
    ]
}
