import ProctorCore
import ProctorHTTPKit

/// The native API's route documentation, gathered from the controllers' route tables (``NativeRoute``: each route
/// declared once, with its handler), plus the schemas the routes name. The generic resource routes are
/// ``OpenAPIDocument/resourceRoutes(_:)``.
///
/// To add a route, add a ``NativeRoute`` to its controller's table, and its schema to a schemas table here if it
/// has a new shape:
/// ```swift
/// NativeRoute(RouteDoc(.post, "/api/v1/runs/{id}/cancel", "Cancel a run", tag: "runs", replies: […]), { $0.cancel })
/// ```
enum RouteRegistry {
    static let routes: [RouteDoc] =
        SystemController.routes.map(\.doc) + MetricsController.routes.map(\.doc) + OpenAPIController.routes.map(\.doc)
        + AuthController.publicRoutes.map(\.doc) + AuthController.routes.map(\.doc)
        + ApplyController.routes.map(\.doc) + RunController.routes.map(\.doc) + AgentController.routes.map(\.doc)
        + WebhookController.routes.map(\.doc)

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
