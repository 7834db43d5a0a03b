/// Every kind of resource Proctor stores. The raw value is the plural used in native API paths.
public enum ResourceKind: String, Sendable, CaseIterable, Hashable, Codable {
    case groups
    case users
    case memberships
    case tokens
    case remotecis
    case harnesses
    case engines
    case agents
    case testbeds
    case configs
    case products
    case topics
    case components
    case definitions
    case profiles
    case bundles
    case runs
    case runEvents = "run_events"
    case files
    case testResults = "test_results"
    case logChunks = "log_chunks"
    case imageBuilds = "image_builds"
    case webhooks
    case webhookDeliveries = "webhook_deliveries"

    /// This kind's schema, built once (``Catalog/all``).
    public var schema: ResourceSchema { Catalog.all[ordinal] }

    /// The case's position in `allCases` (and in ``Catalog/all``): a schema is found by index, without hashing
    /// the raw value as a dictionary keyed by kind would on every row a request touches.
    public var ordinal: Int {
        switch self {
        case .groups: return 0
        case .users: return 1
        case .memberships: return 2
        case .tokens: return 3
        case .remotecis: return 4
        case .harnesses: return 5
        case .engines: return 6
        case .agents: return 7
        case .testbeds: return 8
        case .configs: return 9
        case .products: return 10
        case .topics: return 11
        case .components: return 12
        case .definitions: return 13
        case .profiles: return 14
        case .bundles: return 15
        case .runs: return 16
        case .runEvents: return 17
        case .files: return 18
        case .testResults: return 19
        case .logChunks: return 20
        case .imageBuilds: return 21
        case .webhooks: return 22
        case .webhookDeliveries: return 23
        }
    }

    /// The singular noun for messages ("no such harness").
    public var singular: String {
        switch self {
        case .groups: return "group"
        case .users: return "user"
        case .memberships: return "membership"
        case .tokens: return "token"
        case .remotecis: return "remoteci"
        case .harnesses: return "harness"
        case .engines: return "engine"
        case .agents: return "agent"
        case .testbeds: return "testbed"
        case .configs: return "config"
        case .products: return "product"
        case .topics: return "topic"
        case .components: return "component"
        case .definitions: return "definition"
        case .profiles: return "profile"
        case .bundles: return "bundle"
        case .runs: return "run"
        case .runEvents: return "run event"
        case .files: return "file"
        case .testResults: return "test result"
        case .logChunks: return "log chunk"
        case .imageBuilds: return "image build"
        case .webhooks: return "webhook"
        case .webhookDeliveries: return "webhook delivery"
        }
    }
}

/// The schema of every resource, with field names taken from the seed documents so that each API is a
/// mapping, not a translation: XPRESSO's harness/engine/job/profile keys, DCI's topic/component/job keys,
/// CDRouter's job options and device interfaces, KernelCI's job labels.
public enum Catalog {
    /// The schema version the code expects; migrations bring a store up to it.
    public static let version = 9

    /// Every kind's schema, built once, in `ResourceKind.allCases` order (so `all[kind.ordinal]` is its schema).
    public static let all: [ResourceSchema] = ResourceKind.allCases.map { schema(for: $0) }

    private static let states: Value = .string("ENABLED")

    public static func schema(for kind: ResourceKind) -> ResourceSchema {
        switch kind {
        case .groups:
            return ResourceSchema(
                kind: kind,
                table: "groups",
                grouped: false,
                fields: [
                    FieldSpec(Group.Field.name, .string, nullable: false),
                    FieldSpec(Group.Field.description, .string, default: .string("")),
                ],
                defaultSort: [SortKey("name")]
            )
        case .users:
            return ResourceSchema(
                kind: kind,
                table: "users",
                grouped: false,
                fields: [
                    FieldSpec(User.Field.name, .string, nullable: false),
                    FieldSpec(User.Field.email, .string),
                    FieldSpec(User.Field.fullname, .string),
                    FieldSpec(User.Field.passwordHash, .string, secret: true),
                    FieldSpec(User.Field.isSiteAdmin, .bool, nullable: false),
                    FieldSpec(User.Field.state, .string, nullable: false, default: .string("active")),
                ],
                defaultSort: [SortKey("name")]
            )
        case .memberships:
            return ResourceSchema(
                kind: kind,
                table: "memberships",
                namedUniquely: false,
                fields: [
                    FieldSpec(Membership.Field.userID, .id, nullable: false),
                    FieldSpec(Membership.Field.role, .string, nullable: false, default: .string("member")),
                    FieldSpec(Membership.Field.permissions, .strings, nullable: false),
                ],
                indexes: [IndexSpec(["user_id", "group_id"], unique: true)]
            )
        case .tokens:
            return ResourceSchema(
                kind: kind,
                table: "tokens",
                grouped: false,
                namedUniquely: false,
                fields: [
                    FieldSpec(Token.Field.userID, .id, nullable: false),
                    FieldSpec(Token.Field.name, .string, nullable: false),
                    FieldSpec(Token.Field.tokenHash, .string, nullable: false, secret: true),
                    FieldSpec(Token.Field.prefix, .string, nullable: false),
                    FieldSpec(Token.Field.scopes, .strings, nullable: false),
                    FieldSpec(Token.Field.expiresAt, .timestamp),
                    FieldSpec(Token.Field.lastUsedAt, .timestamp),
                    FieldSpec(Token.Field.revoked, .bool, nullable: false),
                ],
                indexes: [IndexSpec(["token_hash"], unique: true), IndexSpec(["user_id", "name"])]
            )
        case .remotecis:
            return ResourceSchema(
                kind: kind,
                table: "remotecis",
                fields: [
                    FieldSpec(RemoteCI.Field.name, .string, nullable: false),
                    FieldSpec(RemoteCI.Field.clientType, .string, nullable: false, default: .string("remoteci")),
                    FieldSpec(RemoteCI.Field.apiSecret, .string, nullable: false, secret: true),
                    FieldSpec(RemoteCI.Field.state, .string, nullable: false, default: .string("active")),
                    FieldSpec(RemoteCI.Field.`public`, .bool, nullable: false),
                    FieldSpec(RemoteCI.Field.data, .json, nullable: false),
                ]
            )
        case .harnesses:
            return ResourceSchema(
                kind: kind,
                table: "harnesses",
                fields: [
                    FieldSpec(Harness.Field.name, .string, nullable: false),
                    FieldSpec(Harness.Field.harness, .string, nullable: false, default: .string("shell")),
                    FieldSpec(Harness.Field.path, .string, nullable: false, default: .string("")),
                    FieldSpec(Harness.Field.supportingPath, .string, nullable: false, default: .string("")),
                    FieldSpec(Harness.Field.configurationState, .string, nullable: false, default: states),
                    FieldSpec(Harness.Field.operationalState, .string, nullable: false, default: .string("ONLINE")),
                    FieldSpec(Harness.Field.site, .string),
                    FieldSpec(Harness.Field.bldg, .string),
                    FieldSpec(Harness.Field.config, .text, nullable: false, default: .string("")),
                    FieldSpec(Harness.Field.createdBy, .string),
                    FieldSpec(Harness.Field.deleted, .bool, nullable: false),
                ]
            )
        case .engines:
            return ResourceSchema(
                kind: kind,
                table: "engines",
                fields: [
                    FieldSpec(Engine.Field.name, .string, nullable: false),
                    FieldSpec(Engine.Field.type, .string, nullable: false, default: .string("local")),
                    FieldSpec(Engine.Field.baseURL, .string),
                    FieldSpec(Engine.Field.configurationState, .string, nullable: false, default: states),
                    FieldSpec(Engine.Field.operationalState, .string, nullable: false, default: .string("ONLINE")),
                    FieldSpec(Engine.Field.site, .string),
                    FieldSpec(Engine.Field.bldg, .string),
                    FieldSpec(Engine.Field.labels, .strings, nullable: false),
                    FieldSpec(Engine.Field.createdBy, .string),
                    FieldSpec(Engine.Field.deleted, .bool, nullable: false),
                ]
            )
        case .agents:
            return ResourceSchema(
                kind: kind,
                table: "agents",
                fields: [
                    FieldSpec(Agent.Field.name, .string, nullable: false),
                    FieldSpec(Agent.Field.labels, .strings, nullable: false),
                    FieldSpec(Agent.Field.version, .string),
                    FieldSpec(Agent.Field.slots, .int, nullable: false, default: .int(1)),
                    FieldSpec(Agent.Field.state, .string, nullable: false, default: .string("offline")),
                    FieldSpec(Agent.Field.lastSeenAt, .timestamp),
                ]
            )
        case .testbeds:
            return ResourceSchema(
                kind: kind,
                table: "testbeds",
                fields: [
                    FieldSpec(Testbed.Field.name, .string, nullable: false),
                    FieldSpec(Testbed.Field.clean, .string),
                    FieldSpec(Testbed.Field.interfaces, .json, nullable: false, default: .json(.array([]))),
                    FieldSpec(Testbed.Field.topology, .json, nullable: false),
                    FieldSpec(Testbed.Field.config, .text, nullable: false, default: .string("")),
                    FieldSpec(Testbed.Field.tags, .strings, nullable: false),
                    FieldSpec(Testbed.Field.createdBy, .string),
                ]
            )
        case .configs:
            return ResourceSchema(
                kind: kind,
                table: "configs",
                fields: [
                    FieldSpec(Config.Field.name, .string, nullable: false),
                    FieldSpec(Config.Field.description, .string, nullable: false, default: .string("")),
                    FieldSpec(Config.Field.contents, .text, nullable: false, default: .string("")),
                    FieldSpec(Config.Field.tags, .strings, nullable: false),
                ]
            )
        case .products:
            return ResourceSchema(
                kind: kind,
                table: "products",
                fields: [
                    FieldSpec(Product.Field.name, .string, nullable: false),
                    FieldSpec(Product.Field.label, .string),
                    FieldSpec(Product.Field.description, .string),
                    FieldSpec(Product.Field.state, .string, nullable: false, default: .string("active")),
                ]
            )
        case .topics:
            return ResourceSchema(
                kind: kind,
                table: "topics",
                fields: [
                    FieldSpec(Topic.Field.name, .string, nullable: false),
                    FieldSpec(Topic.Field.productID, .id),
                    FieldSpec(Topic.Field.componentTypes, .strings, nullable: false),
                    FieldSpec(Topic.Field.state, .string, nullable: false, default: .string("active")),
                    FieldSpec(Topic.Field.exportControl, .bool, nullable: false),
                    FieldSpec(Topic.Field.nextTopicID, .id),
                    FieldSpec(Topic.Field.data, .json, nullable: false),
                ]
            )
        case .components:
            return ResourceSchema(
                kind: kind,
                table: "components",
                namedUniquely: false,
                fields: [
                    FieldSpec(Component.Field.name, .string, nullable: false),
                    FieldSpec(Component.Field.topicID, .id),
                    FieldSpec(Component.Field.type, .string, nullable: false),
                    FieldSpec(Component.Field.canonicalProjectName, .string),
                    FieldSpec(Component.Field.title, .string),
                    FieldSpec(Component.Field.message, .string),
                    FieldSpec(Component.Field.url, .string),
                    FieldSpec(Component.Field.data, .json, nullable: false),
                    FieldSpec(Component.Field.tags, .strings, nullable: false),
                    FieldSpec(Component.Field.state, .string, nullable: false, default: .string("active")),
                    FieldSpec(Component.Field.releasedAt, .timestamp),
                    // DCI's display name and version (a row from before version 4 has neither).
                    FieldSpec(Component.Field.displayName, .string, since: 4),
                    FieldSpec(Component.Field.version, .string, since: 4),
                ],
                indexes: [
                    IndexSpec(["group_id", "topic_id", "name"], unique: true),
                    IndexSpec(["topic_id", "type", "state", "created_at"]),
                ]
            )
        case .definitions:
            return ResourceSchema(
                kind: kind,
                table: "definitions",
                fields: [
                    FieldSpec(Definition.Field.name, .string, nullable: false),
                    FieldSpec(Definition.Field.harness, .string, nullable: false, default: .string("shell")),
                    FieldSpec(Definition.Field.jobFile, .string, nullable: false, default: .string("")),
                    FieldSpec(Definition.Field.description, .string, nullable: false, default: .string("")),
                    FieldSpec(Definition.Field.supportMailers, .string, nullable: false, default: .string("")),
                    FieldSpec(Definition.Field.interestLists, .strings, nullable: false),
                    FieldSpec(Definition.Field.args, .json, nullable: false, default: .json(.array([]))),
                    FieldSpec(Definition.Field.tags, .strings, nullable: false),
                    FieldSpec(Definition.Field.config, .json, nullable: false),
                    FieldSpec(Definition.Field.configurationState, .string, nullable: false, default: states),
                    FieldSpec(Definition.Field.site, .string),
                    FieldSpec(Definition.Field.bldg, .string),
                    FieldSpec(Definition.Field.createdBy, .string),
                    FieldSpec(Definition.Field.deleted, .bool, nullable: false),
                ]
            )
        case .profiles:
            return ResourceSchema(
                kind: kind,
                table: "profiles",
                namedUniquely: false,
                fields: [
                    FieldSpec(Profile.Field.definitionID, .id, nullable: false),
                    FieldSpec(Profile.Field.name, .string, nullable: false),
                    FieldSpec(Profile.Field.isDefault, .bool, nullable: false),
                    FieldSpec(Profile.Field.priority, .int, nullable: false, default: .int(4)),
                    FieldSpec(Profile.Field.configurationState, .string, nullable: false, default: states),
                    FieldSpec(Profile.Field.engineID, .id),
                    FieldSpec(Profile.Field.harnessIDs, .strings, nullable: false),
                    FieldSpec(Profile.Field.testbedIDs, .strings, nullable: false),
                    FieldSpec(Profile.Field.configID, .id),
                    FieldSpec(Profile.Field.envargs, .json, nullable: false, default: .json(.array([]))),
                    FieldSpec(Profile.Field.jobargs, .json, nullable: false, default: .json(.array([]))),
                    FieldSpec(Profile.Field.maxRunTime, .int, nullable: false, default: .int(43200)),
                    FieldSpec(Profile.Field.metadata, .json, nullable: false, default: .json(.array([]))),
                    FieldSpec(Profile.Field.topologies, .json, nullable: false, default: .json(.array([]))),
                    FieldSpec(Profile.Field.interestLists, .strings, nullable: false),
                    FieldSpec(Profile.Field.supportMailers, .string, nullable: false, default: .string("")),
                    FieldSpec(Profile.Field.createdBy, .string),
                    FieldSpec(Profile.Field.deleted, .bool, nullable: false),
                ],
                indexes: [IndexSpec(["group_id", "definition_id", "name"], unique: true)]
            )
        case .bundles:
            return ResourceSchema(
                kind: kind,
                table: "bundles",
                fields: [
                    FieldSpec(ProfileBundle.Field.name, .string, nullable: false),
                    FieldSpec(ProfileBundle.Field.description, .string, nullable: false, default: .string("")),
                    FieldSpec(ProfileBundle.Field.profileIDs, .strings, nullable: false),
                    FieldSpec(ProfileBundle.Field.createdBy, .string),
                    FieldSpec(ProfileBundle.Field.deleted, .bool, nullable: false),
                ]
            )
        case .runs:
            return ResourceSchema(
                kind: kind,
                table: "runs",
                namedUniquely: false,
                fields: [
                    FieldSpec(Run.Field.name, .string),
                    FieldSpec(Run.Field.status, .string, nullable: false, default: .string("new")),
                    FieldSpec(Run.Field.reason, .string),
                    FieldSpec(Run.Field.executor, .string, nullable: false, default: .string("local")),
                    FieldSpec(Run.Field.definitionID, .id),
                    FieldSpec(Run.Field.profileID, .id),
                    FieldSpec(Run.Field.testbedID, .id),
                    FieldSpec(Run.Field.configID, .id),
                    FieldSpec(Run.Field.engineID, .id),
                    FieldSpec(Run.Field.topicID, .id),
                    FieldSpec(Run.Field.remoteciID, .id),
                    FieldSpec(Run.Field.launchedBy, .id),
                    FieldSpec(Run.Field.previousRunID, .id),
                    FieldSpec(Run.Field.requestID, .string),
                    FieldSpec(Run.Field.priority, .int, nullable: false, default: .int(4)),
                    FieldSpec(Run.Field.options, .json, nullable: false),
                    FieldSpec(Run.Field.tags, .strings, nullable: false),
                    FieldSpec(Run.Field.labels, .labels, nullable: false),
                    FieldSpec(Run.Field.components, .strings, nullable: false),
                    FieldSpec(Run.Field.comment, .string),
                    FieldSpec(Run.Field.url, .string),
                    FieldSpec(Run.Field.configuration, .string),
                    FieldSpec(Run.Field.data, .json, nullable: false),
                    FieldSpec(Run.Field.clientVersion, .string),
                    FieldSpec(Run.Field.userAgent, .string),
                    FieldSpec(Run.Field.state, .string, nullable: false, default: .string("active")),
                    FieldSpec(Run.Field.runAt, .timestamp),
                    FieldSpec(Run.Field.startedAt, .timestamp),
                    FieldSpec(Run.Field.finishedAt, .timestamp),
                    FieldSpec(Run.Field.duration, .double),
                    FieldSpec(Run.Field.maxRunTime, .int),
                    FieldSpec(Run.Field.claimedBy, .string),
                    FieldSpec(Run.Field.leaseExpiresAt, .timestamp),
                    FieldSpec(Run.Field.attempts, .int, nullable: false),
                    FieldSpec(Run.Field.testsTotal, .int, nullable: false),
                    FieldSpec(Run.Field.testsPassed, .int, nullable: false),
                    FieldSpec(Run.Field.testsFailed, .int, nullable: false),
                    FieldSpec(Run.Field.testsErrored, .int, nullable: false),
                    FieldSpec(Run.Field.testsSkipped, .int, nullable: false),
                    FieldSpec(Run.Field.cancelRequested, .bool, nullable: false, since: 2),
                    FieldSpec(Run.Field.exitCode, .int, since: 2),
                    FieldSpec(Run.Field.harness, .string, since: 2),
                    FieldSpec(Run.Field.engineLabels, .strings, nullable: false, since: 2),
                ],
                indexes: [
                    IndexSpec(["group_id", "status", "created_at"]),
                    IndexSpec(["status", "created_at"]),
                    IndexSpec(["status", "priority", "created_at"], until: 6),
                    IndexSpec(["definition_id", "created_at"]),
                    IndexSpec(["profile_id", "created_at"], until: 6),
                    IndexSpec(["testbed_id", "status"], until: 6),
                    // The dashboard's runs table filtered by testbed, newest first (issue #9).
                    IndexSpec(["testbed_id", "created_at"], since: 3),
                    IndexSpec(["topic_id", "remoteci_id", "created_at"], until: 6),
                    IndexSpec(["group_id", "name", "created_at"]),
                    IndexSpec(["request_id"], until: 6),
                    // `seq` is the INTEGER PRIMARY KEY (SQLite) or the primary key (PostgreSQL) already.
                    IndexSpec(["seq"], unique: true, until: 6),
                    // Version 6: runs reported by a client have no profile, only DCI jobs have a topic, only
                    // XPRESSO requests a request: those rows stay out of these indexes.
                    IndexSpec(["profile_id", "created_at"], condition: IndexSpec.notNull("profile_id"), since: 6),
                    IndexSpec(
                        ["topic_id", "remoteci_id", "created_at"],
                        condition: IndexSpec.notNull("topic_id"),
                        since: 6
                    ),
                    IndexSpec(["request_id"], condition: IndexSpec.notNull("request_id"), since: 6),
                    // Version 8: a DCI job's previous job (the latest earlier one of its topic, remote CI and name,
                    // which its JUnit results are compared with) is one seek, not a scan of the remote CI's jobs.
                    IndexSpec(
                        ["topic_id", "remoteci_id", "name", "seq"],
                        condition: IndexSpec.notNull("topic_id"),
                        since: 8
                    ),
                    // Version 8: DCI's job lists count the jobs they page through (`_meta.count`) from this index
                    // alone, not from every job's row (20,000 jobs: 3.3 ms of a 4.3 ms page).
                    IndexSpec(
                        ["group_id", "topic_id", "remoteci_id", "state"],
                        condition: IndexSpec.notNull("topic_id"),
                        since: 8
                    ),
                    // Whether a testbed is busy: only the runs holding one (the queue's query repeats the
                    // condition). Which runs wait is `(status, created_at)`'s question; the few are then sorted.
                    IndexSpec(["testbed_id"], condition: RunStatus.activeCondition, since: 6),
                ]
            )
        case .runEvents:
            return ResourceSchema(
                kind: kind,
                table: "run_events",
                namedUniquely: false,
                fields: [
                    FieldSpec(RunEvent.Field.runID, .id, nullable: false),
                    FieldSpec(RunEvent.Field.status, .string, nullable: false),
                    FieldSpec(RunEvent.Field.previousStatus, .string),
                    FieldSpec(RunEvent.Field.comment, .string),
                ],
                indexes: [IndexSpec(["run_id", "seq"]), IndexSpec(["seq"], unique: true, until: 6)],
                defaultSort: [SortKey("seq")]
            )
        case .files:
            return ResourceSchema(
                kind: kind,
                table: "files",
                namedUniquely: false,
                fields: [
                    FieldSpec(StoredFile.Field.runID, .id),
                    FieldSpec(StoredFile.Field.eventID, .id),
                    FieldSpec(StoredFile.Field.name, .string, nullable: false),
                    FieldSpec(StoredFile.Field.mime, .string, nullable: false, default: .string("text/plain")),
                    FieldSpec(StoredFile.Field.size, .int, nullable: false),
                    FieldSpec(StoredFile.Field.md5, .string),
                    FieldSpec(StoredFile.Field.sha256, .string),
                    FieldSpec(StoredFile.Field.storagePath, .string, secret: true),
                    FieldSpec(StoredFile.Field.state, .string, nullable: false, default: .string("active")),
                ],
                indexes: [IndexSpec(["run_id", "created_at"])]
            )
        case .testResults:
            return ResourceSchema(
                kind: kind,
                table: "test_results",
                namedUniquely: false,
                fields: [
                    FieldSpec(TestResult.Field.runID, .id, nullable: false),
                    FieldSpec(TestResult.Field.fileID, .id),
                    FieldSpec(TestResult.Field.suite, .string, nullable: false, default: .string("")),
                    FieldSpec(TestResult.Field.classname, .string, nullable: false, default: .string("")),
                    FieldSpec(TestResult.Field.name, .string, nullable: false),
                    FieldSpec(TestResult.Field.status, .string, nullable: false),
                    FieldSpec(TestResult.Field.time, .double, nullable: false),
                    FieldSpec(TestResult.Field.message, .text),
                    FieldSpec(TestResult.Field.systemOut, .text),
                    FieldSpec(TestResult.Field.systemErr, .text),
                    FieldSpec(TestResult.Field.regression, .string),
                ],
                indexes: [IndexSpec(["run_id", "status"]), IndexSpec(["run_id", "seq"])],
                defaultSort: [SortKey("seq")],
                // Version 9: test cases are listed and counted by run and file only; the two creation-time indexes
                // were a third of the B-trees every stored case was written into.
                timeIndexesUntil: 9
            )
        case .logChunks:
            return ResourceSchema(
                kind: kind,
                table: "log_chunks",
                namedUniquely: false,
                fields: [
                    FieldSpec(LogChunk.Field.runID, .id, nullable: false),
                    FieldSpec(LogChunk.Field.offset, .int, nullable: false),
                    FieldSpec(LogChunk.Field.firstLine, .int, nullable: false),
                    FieldSpec(LogChunk.Field.lineCount, .int, nullable: false),
                    FieldSpec(LogChunk.Field.content, .text, nullable: false),
                ],
                indexes: [IndexSpec(["run_id", "offset"], unique: true)],
                defaultSort: [SortKey("offset")]
            )
        case .imageBuilds:
            return ResourceSchema(
                kind: kind,
                table: "image_builds",
                namedUniquely: false,
                fields: [
                    FieldSpec(ImageBuild.Field.name, .string, nullable: false),
                    FieldSpec(ImageBuild.Field.tag, .string, nullable: false),
                    FieldSpec(ImageBuild.Field.gitRef, .string, nullable: false),
                    FieldSpec(ImageBuild.Field.baseRef, .string),
                    FieldSpec(ImageBuild.Field.groups, .strings, nullable: false),
                    FieldSpec(ImageBuild.Field.status, .string, nullable: false, default: .string("building")),
                    FieldSpec(ImageBuild.Field.type, .string, nullable: false, default: .string("genie")),
                    FieldSpec(ImageBuild.Field.storagePath, .string),
                    FieldSpec(ImageBuild.Field.size, .int, nullable: false),
                    FieldSpec(ImageBuild.Field.imageID, .string, nullable: false, default: .string("0")),
                    FieldSpec(ImageBuild.Field.data, .json, nullable: false),
                    FieldSpec(ImageBuild.Field.submittedBy, .string),
                    FieldSpec(ImageBuild.Field.runID, .id),
                ],
                // run_id: deleting a run deletes its builds (ON DELETE CASCADE) without scanning them all.
                indexes: [
                    IndexSpec(["group_id", "name", "tag"]),
                    IndexSpec(["run_id"], condition: IndexSpec.notNull("run_id"), since: 7),
                ]
            )
        case .webhooks:
            return ResourceSchema(
                kind: kind,
                table: "webhooks",
                fields: [
                    FieldSpec(Webhook.Field.name, .string, nullable: false),
                    FieldSpec(Webhook.Field.url, .string, nullable: false),
                    FieldSpec(Webhook.Field.secret, .string, nullable: false, secret: true),
                    FieldSpec(Webhook.Field.statuses, .strings, nullable: false),
                    FieldSpec(Webhook.Field.active, .bool, nullable: false, default: .bool(true)),
                ],
                since: 2
            )
        case .webhookDeliveries:
            return ResourceSchema(
                kind: kind,
                table: "webhook_deliveries",
                namedUniquely: false,
                fields: [
                    FieldSpec(WebhookDelivery.Field.webhookID, .id, nullable: false),
                    FieldSpec(WebhookDelivery.Field.eventSeq, .int, nullable: false),
                    FieldSpec(WebhookDelivery.Field.runID, .id),
                    FieldSpec(WebhookDelivery.Field.status, .string, nullable: false, default: .string("pending")),
                    FieldSpec(WebhookDelivery.Field.attempts, .int, nullable: false),
                    FieldSpec(WebhookDelivery.Field.responseCode, .int),
                    FieldSpec(WebhookDelivery.Field.error, .string),
                    FieldSpec(WebhookDelivery.Field.nextAttemptAt, .timestamp),
                    FieldSpec(WebhookDelivery.Field.deliveredAt, .timestamp),
                ],
                // run_id: deleting a run removes its deliveries without scanning them all.
                indexes: [
                    IndexSpec(["status", "next_attempt_at"]), IndexSpec(["webhook_id", "created_at"]),
                    IndexSpec(["webhook_id", "event_seq"], unique: true),
                    IndexSpec(["run_id"], condition: IndexSpec.notNull("run_id"), since: 7),
                ],
                since: 2
            )
        }
    }
}
