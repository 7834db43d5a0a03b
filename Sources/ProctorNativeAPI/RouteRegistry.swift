import ProctorCore
import ProctorHTTPKit

/// The documentation of every route that is not a generic resource route: one ``RouteDoc`` per method and
/// path, plus the schemas they name. An entry with the same method and path as a generic route replaces it.
///
/// To document a new route, add one entry to one of the lists ``routes`` joins (`system`, `accounts`, or `runs` in
/// `RouteRegistry+Runs.swift`), and its schema to a schemas table if it has a new shape:
/// ```swift
/// RouteDoc(.post, "/api/v1/runs/{id}/cancel", "Cancel a run", tag: "runs", replies: [.ok(SchemaDoc.ref("Run"))]),
/// ```
enum RouteRegistry {
    static let routes: [RouteDoc] = system + accounts + runs

    // MARK: System

    static let system: [RouteDoc] = [
        RouteDoc(
            .get,
            "/livez",
            "Liveness of the process",
            tag: "system",
            description: "Answers without touching the store: for liveness probes (a store outage should not restart "
                + "the server) and as the no-op baseline of the HTTP benchmark.",
            public: true,
            replies: [
                .ok(SchemaDoc.object(["status": SchemaDoc.string], required: ["status"]), "The process is serving.")
            ],
            errors: []
        ),
        RouteDoc(
            .get,
            "/healthz",
            "Health of the server and its store",
            tag: "system",
            public: true,
            replies: [
                .ok(SchemaDoc.ref("Health"), "The server and its store are up."),
                .json(503, "The store is unavailable.", SchemaDoc.ref("Health")),
            ],
            errors: []
        ),
        RouteDoc(
            .get,
            "/metrics",
            "Prometheus metrics",
            tag: "system",
            description: "Requests by route and status with latency histograms (`proctor_http_requests_total`, "
                + "`proctor_http_request_duration_seconds`), queue depth (`proctor_queue_depth`) and runs by status "
                + "(`proctor_runs`), in Prometheus text format. Open by default; when the server runs with "
                + "`--metrics-token` (or `PROCTOR_METRICS_TOKEN`), it needs `Authorization: Bearer <token>` with that "
                + "token, and answers 401 without it.",
            public: true,
            replies: [.text(200, "Prometheus text exposition format.", mediaType: "text/plain")],
            errors: []
        ),
        RouteDoc(
            .get,
            "/openapi.json",
            "This OpenAPI document",
            tag: "system",
            public: true,
            replies: [.ok(.object(["type": .string("object")]), "OpenAPI 3.1.")],
            errors: []
        ),
        RouteDoc(
            .get,
            "/docs",
            "This reference as HTML",
            tag: "system",
            public: true,
            replies: [.text(200, "A self-contained HTML page.", mediaType: "text/html")],
            errors: []
        ),
        RouteDoc(
            .get,
            "/api/v1/whoami",
            "The caller, with their groups, roles and permissions",
            tag: "auth",
            replies: [.ok(SchemaDoc.ref("Whoami"))]
        ),
        RouteDoc(
            .post,
            "/api/v1/apply",
            "Apply a lab document",
            tag: "system",
            description:
                "The JSON form of `lab.yaml`; site admin only. Applying the same document twice changes nothing.",
            body: .json(SchemaDoc.ref("LabDocument")),
            replies: [.ok(SchemaDoc.ref("ApplyResult"))]
        ),
    ]

    // MARK: Accounts

    static let accounts: [RouteDoc] = [
        RouteDoc(
            .post,
            "/api/v1/auth/login",
            "Log in with a name and password",
            tag: "auth",
            description: "Returns a new API token (expiring after `expires_in` seconds, default 30 days). "
                + "Failed attempts are limited per user name and per client address: beyond the limit every attempt, "
                + "even with the right password, is a 429 with `Retry-After` until the window frees up.",
            public: true,
            body: .json(SchemaDoc.ref("LoginRequest")),
            replies: [.created(SchemaDoc.ref("LoginResponse"), "Logged in; the token is shown only here.")],
            errors: [400, 401, 413, 415, 422, 429, 503]
        ),
        RouteDoc(
            .get,
            "/api/v1/tokens",
            "List API tokens",
            tag: "tokens",
            description: "The caller's tokens (never their secrets); the site admin may pass `user_id`.",
            parameters: ParameterDoc.list + [.query("user_id", "Another user's tokens (site admin only).")],
            replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("Token")))]
        ),
        RouteDoc(
            .post,
            "/api/v1/tokens",
            "Create an API token",
            tag: "tokens",
            body: .json(SchemaDoc.ref("TokenCreate")),
            replies: [.created(SchemaDoc.ref("IssuedToken"), "Created; the secret `token` is shown only here.")]
        ),
        RouteDoc(
            .delete,
            "/api/v1/tokens/{id}",
            "Revoke an API token",
            tag: "tokens",
            description: "Another user's token answers 404 (the site admin may revoke any).",
            replies: [.noContent("Revoked; the token now answers 401.")]
        ),
        RouteDoc(
            .get,
            "/api/v1/users",
            "List users",
            tag: "users",
            description: "Every user for the site admin; only the caller otherwise.",
            parameters: ParameterDoc.list,
            replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("User")))]
        ),
        RouteDoc(
            .post,
            "/api/v1/users",
            "Create a user",
            tag: "users",
            description: "Site admin only.",
            body: .json(SchemaDoc.ref("UserCreate")),
            replies: [.created(SchemaDoc.ref("User"), etag: true)]
        ),
        RouteDoc(
            .get,
            "/api/v1/users/{id}",
            "Get a user",
            tag: "users",
            description: "The caller themselves, or anyone for the site admin; other users answer 404.",
            replies: [.ok(SchemaDoc.ref("User"), etag: true)]
        ),
        RouteDoc(
            .patch,
            "/api/v1/users/{id}",
            "Change a user",
            tag: "users",
            description: "Users change their own `email`, `fullname` and `password`; the site admin changes anything.",
            parameters: [.ifMatch],
            body: .json(SchemaDoc.ref("UserUpdate")),
            replies: [.ok(SchemaDoc.ref("User"), etag: true)]
        ),
        RouteDoc(
            .delete,
            "/api/v1/users/{id}",
            "Delete a user",
            tag: "users",
            description: "Site admin only; deletes the user's tokens and memberships too.",
            parameters: [.ifMatch],
            replies: [.noContent("Deleted.")]
        ),
        RouteDoc(
            .get,
            "/api/v1/groups/{id}/members",
            "List a group's members",
            tag: "groups",
            description: "Any member of the group may read it; other groups answer 404.",
            parameters: ParameterDoc.list,
            replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("Member")))]
        ),
        RouteDoc(
            .post,
            "/api/v1/groups/{id}/members",
            "Add a member or change their role",
            tag: "groups",
            description: "Group admins and the site admin.",
            body: .json(SchemaDoc.ref("MemberSet")),
            replies: [
                .created(SchemaDoc.ref("Member"), "Added."),
                .ok(SchemaDoc.ref("Member"), "An existing member's role and permissions changed."),
            ]
        ),
        RouteDoc(
            .delete,
            "/api/v1/groups/{id}/members/{user_id}",
            "Remove a member",
            tag: "groups",
            description: "Group admins and the site admin.",
            replies: [.noContent("Removed.")]
        ),
    ]

    // MARK: Schemas

    static let schemas: [String: JSONValue] = baseSchemas.merging(runSchemas) { $1 }

    private static let baseSchemas: [String: JSONValue] = [
        "Health": SchemaDoc.object([
            "status": SchemaDoc.enumeration(["ok", "unavailable"]),
            "store": SchemaDoc.object([
                "backend": SchemaDoc.string, "ok": SchemaDoc.boolean, "schema_version": SchemaDoc.integer,
            ]),
            "message": SchemaDoc.string,
        ]),
        "Whoami": SchemaDoc.object([
            "id": SchemaDoc.string, "name": SchemaDoc.string, "site_admin": SchemaDoc.boolean,
            "groups": SchemaDoc.array(
                SchemaDoc.object([
                    "id": SchemaDoc.string, "name": SchemaDoc.string, "role": SchemaDoc.enumeration(roles),
                    "permissions": SchemaDoc.array(SchemaDoc.string),
                ])
            ),
        ]),
        "LabDocument": labDocument,
        "ApplyResult": SchemaDoc.object([
            "changes": SchemaDoc.array(
                SchemaDoc.object([
                    "action": SchemaDoc.enumeration(["created", "updated", "unchanged"]), "kind": SchemaDoc.string,
                    "name": SchemaDoc.string, "id": SchemaDoc.string,
                ])
            )
        ]),
        "LoginRequest": .object([
            "type": .string("object"),
            "properties": .object([
                "name": SchemaDoc.string(minLength: 1),
                "username": SchemaDoc.described(SchemaDoc.string(minLength: 1), "Same as `name`."),
                "password": SchemaDoc.string,
                "expires_in": SchemaDoc.described(
                    SchemaDoc.integer(minimum: 1, maximum: Accounts.maximumTokenLifetime),
                    "Token lifetime in seconds."
                ),
            ]),
            "required": .array([.string("password")]),
            "anyOf": .array([
                .object(["required": .array([.string("name")])]), .object(["required": .array([.string("username")])]),
            ]),
            "additionalProperties": .bool(false),
        ]),
        "LoginResponse": SchemaDoc.object(
            [
                "token": SchemaDoc.described(
                    SchemaDoc.string,
                    "The secret: send it as `Authorization: Bearer <token>`."
                ),
                "token_id": SchemaDoc.string,
                "user": SchemaDoc.ref("User"),
                "expires_at": SchemaDoc.nullable(SchemaDoc.dateTime),
            ],
            required: ["token", "token_id", "user", "expires_at"]
        ),
        "TokenCreate": .object([
            "type": .string("object"),
            "properties": .object([
                "name": SchemaDoc.string(minLength: 1, maxLength: 200, pattern: "\\S"),
                "expires_in": SchemaDoc.described(
                    SchemaDoc.integer(minimum: 1, maximum: Accounts.maximumTokenLifetime),
                    "Lifetime in seconds."
                ),
                "expires_at": SchemaDoc.described(
                    SchemaDoc.dateTime,
                    "Expiry time, in the future (or give `expires_in`)."
                ),
                "scopes": SchemaDoc.array(SchemaDoc.string(minLength: 1, maxLength: 100)),
            ]),
            "required": .array([.string("name")]),
            "not": .object(["required": .array([.string("expires_in"), .string("expires_at")])]),
            "additionalProperties": .bool(false),
        ]),
        "IssuedToken": .object([
            "allOf": .array([
                SchemaDoc.ref("Token"),
                SchemaDoc.object(
                    ["token": SchemaDoc.described(SchemaDoc.string, "The secret, shown only once.")],
                    required: ["token"]
                ),
            ])
        ]),
        "UserCreate": SchemaDoc.object(userInput(nameLength: 1), required: ["name"], closed: true),
        "UserUpdate": SchemaDoc.object(userInput(nameLength: 1), closed: true),
        "Member": .object([
            "allOf": .array([
                SchemaDoc.ref("Membership"),
                SchemaDoc.object([
                    "user": SchemaDoc.object([
                        "id": SchemaDoc.string, "name": SchemaDoc.string,
                        "fullname": SchemaDoc.nullable(SchemaDoc.string),
                        "email": SchemaDoc.nullable(SchemaDoc.string),
                    ])
                ]),
            ])
        ]),
        "MemberSet": .object([
            "type": .string("object"),
            "properties": .object([
                "user_id": SchemaDoc.string,
                "user": SchemaDoc.described(SchemaDoc.string, "The user's name (or give `user_id`)."),
                "role": SchemaDoc.described(SchemaDoc.enumeration(roles), "Default `member`."),
                "permissions": SchemaDoc.array(SchemaDoc.string(minLength: 1, maxLength: 100)),
            ]),
            "anyOf": .array([
                .object(["required": .array([.string("user_id")])]), .object(["required": .array([.string("user")])]),
            ]),
            "additionalProperties": .bool(false),
        ]),
    ]

    static let roles = Role.allCases.map(\.rawValue)

    private static func userInput(nameLength: Int) -> KeyValuePairs<String, JSONValue> {
        [
            "name": SchemaDoc.string(minLength: nameLength),
            "password": SchemaDoc.described(
                SchemaDoc.string(minLength: Accounts.minimumPasswordLength, maxLength: 256),
                "Stored as a PBKDF2 hash, never shown."
            ),
            "email": SchemaDoc.nullable(SchemaDoc.string),
            "fullname": SchemaDoc.nullable(SchemaDoc.string),
            "is_site_admin": SchemaDoc.boolean,
            "state": SchemaDoc.enumeration(Accounts.userStates),
        ]
    }

    /// `lab.yaml` as JSON: each section a list of mappings whose keys mirror the model's fields.
    private static let labDocument: JSONValue = {
        var properties: [String: JSONValue] = [:]
        for key in LabApplier.sections.map(\.key) + ["jobs"] {
            properties[key] = SchemaDoc.array(.object(["type": .string("object")]))
        }
        return .object([
            "type": .string("object"), "properties": .object(properties), "additionalProperties": .bool(false),
            "description": .string("Sections of `lab.yaml`; `jobs` is another name for `definitions`."),
        ])
    }()
}
