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

    public var schema: ResourceSchema { Catalog.byKind[self] ?? Catalog.schema(for: self) }

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
    public static let version = 7

    public static let all: [ResourceSchema] = ResourceKind.allCases.map { schema(for: $0) }
    /// Built once: a schema is read on every row a request touches.
    static let byKind: [ResourceKind: ResourceSchema] = Dictionary(uniqueKeysWithValues: all.map { ($0.kind, $0) })

    private static let states: Value = .string("ENABLED")

    public static func schema(for kind: ResourceKind) -> ResourceSchema {
        switch kind {
        case .groups:
            return ResourceSchema(
                kind: kind,
                table: "groups",
                grouped: false,
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("description", .string, default: .string("")),
                ],
                defaultSort: [SortKey("name")]
            )
        case .users:
            return ResourceSchema(
                kind: kind,
                table: "users",
                grouped: false,
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("email", .string),
                    FieldSpec("fullname", .string),
                    FieldSpec("password_hash", .string, secret: true),
                    FieldSpec("is_site_admin", .bool, nullable: false),
                    FieldSpec("state", .string, nullable: false, default: .string("active")),
                ],
                defaultSort: [SortKey("name")]
            )
        case .memberships:
            return ResourceSchema(
                kind: kind,
                table: "memberships",
                namedUniquely: false,
                fields: [
                    FieldSpec("user_id", .id, nullable: false),
                    FieldSpec("role", .string, nullable: false, default: .string("member")),
                    FieldSpec("permissions", .strings, nullable: false),
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
                    FieldSpec("user_id", .id, nullable: false),
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("token_hash", .string, nullable: false, secret: true),
                    FieldSpec("prefix", .string, nullable: false),
                    FieldSpec("scopes", .strings, nullable: false),
                    FieldSpec("expires_at", .timestamp),
                    FieldSpec("last_used_at", .timestamp),
                    FieldSpec("revoked", .bool, nullable: false),
                ],
                indexes: [IndexSpec(["token_hash"], unique: true), IndexSpec(["user_id", "name"])]
            )
        case .remotecis:
            return ResourceSchema(
                kind: kind,
                table: "remotecis",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("client_type", .string, nullable: false, default: .string("remoteci")),
                    FieldSpec("api_secret", .string, nullable: false, secret: true),
                    FieldSpec("state", .string, nullable: false, default: .string("active")),
                    FieldSpec("public", .bool, nullable: false),
                    FieldSpec("data", .json, nullable: false),
                ]
            )
        case .harnesses:
            return ResourceSchema(
                kind: kind,
                table: "harnesses",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("harness", .string, nullable: false, default: .string("shell")),
                    FieldSpec("path", .string, nullable: false, default: .string("")),
                    FieldSpec("supporting_path", .string, nullable: false, default: .string("")),
                    FieldSpec("configuration_state", .string, nullable: false, default: states),
                    FieldSpec("operational_state", .string, nullable: false, default: .string("ONLINE")),
                    FieldSpec("site", .string),
                    FieldSpec("bldg", .string),
                    FieldSpec("config", .text, nullable: false, default: .string("")),
                    FieldSpec("created_by", .string),
                    FieldSpec("deleted", .bool, nullable: false),
                ]
            )
        case .engines:
            return ResourceSchema(
                kind: kind,
                table: "engines",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("type", .string, nullable: false, default: .string("local")),
                    FieldSpec("base_url", .string),
                    FieldSpec("configuration_state", .string, nullable: false, default: states),
                    FieldSpec("operational_state", .string, nullable: false, default: .string("ONLINE")),
                    FieldSpec("site", .string),
                    FieldSpec("bldg", .string),
                    FieldSpec("labels", .strings, nullable: false),
                    FieldSpec("created_by", .string),
                    FieldSpec("deleted", .bool, nullable: false),
                ]
            )
        case .agents:
            return ResourceSchema(
                kind: kind,
                table: "agents",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("labels", .strings, nullable: false),
                    FieldSpec("version", .string),
                    FieldSpec("slots", .int, nullable: false, default: .int(1)),
                    FieldSpec("state", .string, nullable: false, default: .string("offline")),
                    FieldSpec("last_seen_at", .timestamp),
                ]
            )
        case .testbeds:
            return ResourceSchema(
                kind: kind,
                table: "testbeds",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("clean", .string),
                    FieldSpec("interfaces", .json, nullable: false, default: .json(.array([]))),
                    FieldSpec("topology", .json, nullable: false),
                    FieldSpec("config", .text, nullable: false, default: .string("")),
                    FieldSpec("tags", .strings, nullable: false),
                    FieldSpec("created_by", .string),
                ]
            )
        case .configs:
            return ResourceSchema(
                kind: kind,
                table: "configs",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("description", .string, nullable: false, default: .string("")),
                    FieldSpec("contents", .text, nullable: false, default: .string("")),
                    FieldSpec("tags", .strings, nullable: false),
                ]
            )
        case .products:
            return ResourceSchema(
                kind: kind,
                table: "products",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("label", .string),
                    FieldSpec("description", .string),
                    FieldSpec("state", .string, nullable: false, default: .string("active")),
                ]
            )
        case .topics:
            return ResourceSchema(
                kind: kind,
                table: "topics",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("product_id", .id),
                    FieldSpec("component_types", .strings, nullable: false),
                    FieldSpec("state", .string, nullable: false, default: .string("active")),
                    FieldSpec("export_control", .bool, nullable: false),
                    FieldSpec("next_topic_id", .id),
                    FieldSpec("data", .json, nullable: false),
                ]
            )
        case .components:
            return ResourceSchema(
                kind: kind,
                table: "components",
                namedUniquely: false,
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("topic_id", .id),
                    FieldSpec("type", .string, nullable: false),
                    FieldSpec("canonical_project_name", .string),
                    FieldSpec("title", .string),
                    FieldSpec("message", .string),
                    FieldSpec("url", .string),
                    FieldSpec("data", .json, nullable: false),
                    FieldSpec("tags", .strings, nullable: false),
                    FieldSpec("state", .string, nullable: false, default: .string("active")),
                    FieldSpec("released_at", .timestamp),
                    // DCI's display name and version (a row from before version 4 has neither).
                    FieldSpec("display_name", .string, since: 4),
                    FieldSpec("version", .string, since: 4),
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
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("harness", .string, nullable: false, default: .string("shell")),
                    FieldSpec("job_file", .string, nullable: false, default: .string("")),
                    FieldSpec("description", .string, nullable: false, default: .string("")),
                    FieldSpec("support_mailers", .string, nullable: false, default: .string("")),
                    FieldSpec("interest_lists", .strings, nullable: false),
                    FieldSpec("args", .json, nullable: false, default: .json(.array([]))),
                    FieldSpec("tags", .strings, nullable: false),
                    FieldSpec("config", .json, nullable: false),
                    FieldSpec("configuration_state", .string, nullable: false, default: states),
                    FieldSpec("site", .string),
                    FieldSpec("bldg", .string),
                    FieldSpec("created_by", .string),
                    FieldSpec("deleted", .bool, nullable: false),
                ]
            )
        case .profiles:
            return ResourceSchema(
                kind: kind,
                table: "profiles",
                namedUniquely: false,
                fields: [
                    FieldSpec("definition_id", .id, nullable: false),
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("is_default", .bool, nullable: false),
                    FieldSpec("priority", .int, nullable: false, default: .int(4)),
                    FieldSpec("configuration_state", .string, nullable: false, default: states),
                    FieldSpec("engine_id", .id),
                    FieldSpec("harness_ids", .strings, nullable: false),
                    FieldSpec("testbed_ids", .strings, nullable: false),
                    FieldSpec("config_id", .id),
                    FieldSpec("envargs", .json, nullable: false, default: .json(.array([]))),
                    FieldSpec("jobargs", .json, nullable: false, default: .json(.array([]))),
                    FieldSpec("max_run_time", .int, nullable: false, default: .int(43200)),
                    FieldSpec("metadata", .json, nullable: false, default: .json(.array([]))),
                    FieldSpec("topologies", .json, nullable: false, default: .json(.array([]))),
                    FieldSpec("interest_lists", .strings, nullable: false),
                    FieldSpec("support_mailers", .string, nullable: false, default: .string("")),
                    FieldSpec("created_by", .string),
                    FieldSpec("deleted", .bool, nullable: false),
                ],
                indexes: [IndexSpec(["group_id", "definition_id", "name"], unique: true)]
            )
        case .bundles:
            return ResourceSchema(
                kind: kind,
                table: "bundles",
                fields: [
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("description", .string, nullable: false, default: .string("")),
                    FieldSpec("profile_ids", .strings, nullable: false),
                    FieldSpec("created_by", .string),
                    FieldSpec("deleted", .bool, nullable: false),
                ]
            )
        case .runs:
            return ResourceSchema(
                kind: kind,
                table: "runs",
                namedUniquely: false,
                fields: [
                    FieldSpec("name", .string),
                    FieldSpec("status", .string, nullable: false, default: .string("new")),
                    FieldSpec("reason", .string),
                    FieldSpec("executor", .string, nullable: false, default: .string("local")),
                    FieldSpec("definition_id", .id),
                    FieldSpec("profile_id", .id),
                    FieldSpec("testbed_id", .id),
                    FieldSpec("config_id", .id),
                    FieldSpec("engine_id", .id),
                    FieldSpec("topic_id", .id),
                    FieldSpec("remoteci_id", .id),
                    FieldSpec("launched_by", .id),
                    FieldSpec("previous_run_id", .id),
                    FieldSpec("request_id", .string),
                    FieldSpec("priority", .int, nullable: false, default: .int(4)),
                    FieldSpec("options", .json, nullable: false),
                    FieldSpec("tags", .strings, nullable: false),
                    FieldSpec("labels", .labels, nullable: false),
                    FieldSpec("components", .strings, nullable: false),
                    FieldSpec("comment", .string),
                    FieldSpec("url", .string),
                    FieldSpec("configuration", .string),
                    FieldSpec("data", .json, nullable: false),
                    FieldSpec("client_version", .string),
                    FieldSpec("user_agent", .string),
                    FieldSpec("state", .string, nullable: false, default: .string("active")),
                    FieldSpec("run_at", .timestamp),
                    FieldSpec("started_at", .timestamp),
                    FieldSpec("finished_at", .timestamp),
                    FieldSpec("duration", .double),
                    FieldSpec("max_run_time", .int),
                    FieldSpec("claimed_by", .string),
                    FieldSpec("lease_expires_at", .timestamp),
                    FieldSpec("attempts", .int, nullable: false),
                    FieldSpec("tests_total", .int, nullable: false),
                    FieldSpec("tests_passed", .int, nullable: false),
                    FieldSpec("tests_failed", .int, nullable: false),
                    FieldSpec("tests_errored", .int, nullable: false),
                    FieldSpec("tests_skipped", .int, nullable: false),
                    FieldSpec("cancel_requested", .bool, nullable: false, since: 2),
                    FieldSpec("exit_code", .int, since: 2),
                    FieldSpec("harness", .string, since: 2),
                    FieldSpec("engine_labels", .strings, nullable: false, since: 2),
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
                    FieldSpec("run_id", .id, nullable: false),
                    FieldSpec("status", .string, nullable: false),
                    FieldSpec("previous_status", .string),
                    FieldSpec("comment", .string),
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
                    FieldSpec("run_id", .id),
                    FieldSpec("event_id", .id),
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("mime", .string, nullable: false, default: .string("text/plain")),
                    FieldSpec("size", .int, nullable: false),
                    FieldSpec("md5", .string),
                    FieldSpec("sha256", .string),
                    FieldSpec("storage_path", .string, secret: true),
                    FieldSpec("state", .string, nullable: false, default: .string("active")),
                ],
                indexes: [IndexSpec(["run_id", "created_at"])]
            )
        case .testResults:
            return ResourceSchema(
                kind: kind,
                table: "test_results",
                namedUniquely: false,
                fields: [
                    FieldSpec("run_id", .id, nullable: false),
                    FieldSpec("file_id", .id),
                    FieldSpec("suite", .string, nullable: false, default: .string("")),
                    FieldSpec("classname", .string, nullable: false, default: .string("")),
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("status", .string, nullable: false),
                    FieldSpec("time", .double, nullable: false),
                    FieldSpec("message", .text),
                    FieldSpec("system_out", .text),
                    FieldSpec("system_err", .text),
                    FieldSpec("regression", .string),
                ],
                indexes: [IndexSpec(["run_id", "status"]), IndexSpec(["run_id", "seq"])],
                defaultSort: [SortKey("seq")]
            )
        case .logChunks:
            return ResourceSchema(
                kind: kind,
                table: "log_chunks",
                namedUniquely: false,
                fields: [
                    FieldSpec("run_id", .id, nullable: false),
                    FieldSpec("offset", .int, nullable: false),
                    FieldSpec("first_line", .int, nullable: false),
                    FieldSpec("line_count", .int, nullable: false),
                    FieldSpec("content", .text, nullable: false),
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
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("tag", .string, nullable: false),
                    FieldSpec("git_ref", .string, nullable: false),
                    FieldSpec("base_ref", .string),
                    FieldSpec("groups", .strings, nullable: false),
                    FieldSpec("status", .string, nullable: false, default: .string("building")),
                    FieldSpec("type", .string, nullable: false, default: .string("genie")),
                    FieldSpec("storage_path", .string),
                    FieldSpec("size", .int, nullable: false),
                    FieldSpec("image_id", .string, nullable: false, default: .string("0")),
                    FieldSpec("data", .json, nullable: false),
                    FieldSpec("submitted_by", .string),
                    FieldSpec("run_id", .id),
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
                    FieldSpec("name", .string, nullable: false),
                    FieldSpec("url", .string, nullable: false),
                    FieldSpec("secret", .string, nullable: false, secret: true),
                    FieldSpec("statuses", .strings, nullable: false),
                    FieldSpec("active", .bool, nullable: false, default: .bool(true)),
                ],
                since: 2
            )
        case .webhookDeliveries:
            return ResourceSchema(
                kind: kind,
                table: "webhook_deliveries",
                namedUniquely: false,
                fields: [
                    FieldSpec("webhook_id", .id, nullable: false),
                    FieldSpec("event_seq", .int, nullable: false),
                    FieldSpec("run_id", .id),
                    FieldSpec("status", .string, nullable: false, default: .string("pending")),
                    FieldSpec("attempts", .int, nullable: false),
                    FieldSpec("response_code", .int),
                    FieldSpec("error", .string),
                    FieldSpec("next_attempt_at", .timestamp),
                    FieldSpec("delivered_at", .timestamp),
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
