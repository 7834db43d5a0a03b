import ProctorCore
import ProctorHTTPKit

/// The native API's OpenAPI 3.1 document, generated from code: the generic resources from their schemas
/// (``NativeAPI/resourceKinds``) and every other route from ``RouteRegistry``.
///
/// `OpenAPITests` walks the real router and fails on any route missing here, so the document stays complete.
enum OpenAPIDocument {
    /// Built once: it depends only on code.
    static let document: JSONValue = build()

    static let listParameterNames = ["filter", "type", "sort", "limit", "offset", "cursor", "fields", "count"]

    /// The query model's list parameters (`docs/query-language.md`).
    static let sharedParameters: [String: JSONValue] = {
        func query(_ name: String, _ description: String, _ schema: JSONValue, extra: [String: JSONValue] = [:])
            -> JSONValue
        {
            var object: [String: JSONValue] = [
                "name": .string(name), "in": .string("query"), "required": .bool(false),
                "description": .string(description), "schema": schema,
            ]
            for (key, value) in extra { object[key] = value }
            return .object(object)
        }
        return [
            "filter": query(
                "filter",
                "`<field><op><value>`, repeatable; operators `=`, `!=`, `<`, `<=`, `>`, `>=`, `~` (regex), `!~`, `~*`, "
                    + "`!~*`, `@>`, `<@`, `&&`; lists as PostgreSQL array literals, `{a,b}` (inner spaces kept, "
                    + "`{\"a,b\"}` quoted); run labels as `labels.<key>`; times RFC 3339 or `YYYY-MM-DD`, a date "
                    + "that does not exist is a 400. Decoded as a form: `+` is a space.",
                SchemaDoc.array(SchemaDoc.string),
                extra: ["style": .string("form"), "explode": .bool(true)]
            ),
            "type": query(
                "type",
                "How filters combine: `inter` (AND, default) or `union` (OR).",
                SchemaDoc.enumeration(["inter", "union"])
            ),
            "sort": query("sort", "Comma-separated fields, `-` for descending: `-created_at,name`.", SchemaDoc.string),
            "limit": query(
                "limit",
                "Page size (default 50, at most 1000).",
                SchemaDoc.integer(minimum: 0, maximum: 1_000_000_000)
            ),
            "offset": query("offset", "Rows to skip.", SchemaDoc.integer(minimum: 0, maximum: 1_000_000_000)),
            "cursor": query("cursor", "The `next_cursor` of the previous page (keyset paging).", SchemaDoc.string),
            "fields": query(
                "fields",
                "Projection: comma-separated fields (`id` is always included).",
                SchemaDoc.string
            ),
            "count": query("count", "Also return `total`, the number of matches.", SchemaDoc.boolean),
        ]
    }()

    /// The error responses every route shares, by status: component name and meaning.
    static let errorResponses: [Int: (name: String, description: String)] = [
        400: ("BadRequest", "Bad input; `field` names the offending field or parameter."),
        401: ("Unauthorized", "Missing, invalid, expired or revoked credentials."),
        403: ("Forbidden", "Authenticated, but lacking the role or permission."),
        404: ("NotFound", "No such resource, or it belongs to a group the caller cannot see."),
        409: ("Conflict", "Duplicate name, stale ETag or an illegal state change."),
        413: ("TooLarge", "The body is larger than the configured limit."),
        415: ("UnsupportedMediaType", "The body's content type is not the one the route takes."),
        422: ("Unprocessable", "Well-formed but invalid."),
        429: ("TooManyRequests", "Too many failed logins; `Retry-After` (and `retry_after`) says when to try again."),
        503: ("Unavailable", "The store or the file store is unavailable."),
    ]

    /// The generic routes of one resource kind, as ``ResourceController`` serves them.
    static func resourceRoutes(_ kind: ResourceKind) -> [RouteDoc] {
        let base = "/api/v1/\(kind.rawValue)"
        let name = ResourceDocs.name(kind)
        let one = SchemaDoc.ref(name)
        let tag = kind.rawValue
        let who = kind.schema.grouped ? "the caller's groups" : "every group"
        return [
            RouteDoc(
                .get,
                base,
                "List \(kind.rawValue)",
                tag: tag,
                description: "A page of \(kind.rawValue) in \(who), filtered, sorted and projected by the query model.",
                parameters: ParameterDoc.list,
                replies: [.ok(SchemaDoc.page(of: one))]
            ),
            RouteDoc(
                .post,
                base,
                "Create a \(kind.singular)",
                tag: tag,
                body: .json(SchemaDoc.ref("\(name)Create")),
                replies: [.created(one, etag: true)]
            ),
            RouteDoc(.get, "\(base)/{id}", "Get a \(kind.singular)", tag: tag, replies: [.ok(one, etag: true)]),
            RouteDoc(
                .patch,
                "\(base)/{id}",
                "Change a \(kind.singular)",
                tag: tag,
                parameters: [.ifMatch],
                body: .json(SchemaDoc.ref("\(name)Update")),
                replies: [.ok(one, etag: true)]
            ),
            RouteDoc(
                .delete,
                "\(base)/{id}",
                "Delete a \(kind.singular)",
                tag: tag,
                parameters: [.ifMatch],
                replies: [.noContent("Deleted.")]
            ),
        ]
    }

    /// The methods of every documented path, for the native API's 405 answers.
    package static let allowedMethods = AllowedMethods(
        routes: routes.map { ($0.path, $0.method.rawValue.uppercased()) }
    )

    /// Every documented route: the generic ones, replaced by registry entries of the same method and path,
    /// then the registry's own.
    static var routes: [RouteDoc] {
        let special = Dictionary(RouteRegistry.routes.map { ("\($0.method) \($0.path)", $0) }, uniquingKeysWith: { $1 })
        var seen: Set<String> = []
        var out: [RouteDoc] = []
        for route in NativeAPI.resourceKinds.flatMap(resourceRoutes) + RouteRegistry.routes {
            let key = "\(route.method) \(route.path)"
            guard seen.insert(key).inserted else { continue }
            out.append(special[key] ?? route)
        }
        return out
    }

    static func build() -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        var tags: [String] = []
        for route in routes {
            paths[route.path, default: [:]][route.method.rawValue] = operation(route)
            if !tags.contains(route.tag) { tags.append(route.tag) }
        }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string("Proctor native API"),
                "version": .string("1"),
                "description": .string(
                    "Proctor's own API: every resource of the lab under `/api/v1`, accounts, runs and their output. "
                        + "Authenticate with `Authorization: Bearer <token>` (from `POST /api/v1/auth/login` or an "
                        + "API token). Every error is `{\"error\": {\"code\", \"message\", \"field\"}}`."
                ),
            ]),
            "tags": .array(tags.map { .object(["name": .string($0)]) }),
            "security": .array([.object(["bearerAuth": .array([])])]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object([
                "securitySchemes": .object([
                    "bearerAuth": .object([
                        "type": .string("http"), "scheme": .string("bearer"),
                        "description": .string("An API token (`pt_…`); `Token <token>` is accepted too."),
                    ])
                ]),
                "parameters": .object(sharedParameters),
                "responses": .object(
                    Dictionary(
                        uniqueKeysWithValues: errorResponses.values.map { ($0.name, errorResponse($0.description)) }
                    )
                ),
                "schemas": .object(schemas()),
            ]),
        ])
    }

    private static func operation(_ route: RouteDoc) -> JSONValue {
        var object: [String: JSONValue] = [
            "operationId": .string(route.operationID), "summary": .string(route.summary),
            "tags": .array([.string(route.tag)]),
        ]
        if let description = route.description { object["description"] = .string(description) }
        if route.isPublic { object["security"] = .array([]) }
        var parameters: [JSONValue] = route.pathParameters.map { name in
            .object([
                "name": .string(name), "in": .string("path"), "required": .bool(true), "schema": SchemaDoc.string,
                "description": .string(name == "id" ? "The resource's id." : "The \(name.replacingUnderscores)."),
            ])
        }
        for parameter in route.parameters {
            if let reference = parameter.reference {
                parameters.append(.object(["$ref": .string("#/components/parameters/\(reference)")]))
            } else {
                parameters.append(
                    .object([
                        "name": .string(parameter.name), "in": .string(parameter.location.rawValue),
                        "required": .bool(parameter.required), "description": .string(parameter.description),
                        "schema": parameter.schema,
                    ])
                )
            }
        }
        if !parameters.isEmpty { object["parameters"] = .array(parameters) }
        if let body = route.body {
            object["requestBody"] = .object([
                "required": .bool(body.required),
                "content": .object([body.mediaType: .object(["schema": body.schema])]),
            ])
        }
        var responses: [String: JSONValue] = [:]
        for reply in route.replies {
            var response: [String: JSONValue] = ["description": .string(reply.description)]
            if !reply.content.isEmpty {
                response["content"] = .object(reply.content.mapValues { .object(["schema": $0]) })
            }
            if !reply.headers.isEmpty {
                response["headers"] = .object(reply.headers.mapValues { .object(["schema": $0]) })
            }
            responses[String(reply.status)] = .object(response)
        }
        for status in route.errors where responses[String(status)] == nil {
            guard let shared = errorResponses[status] else { continue }
            responses[String(status)] = .object(["$ref": .string("#/components/responses/\(shared.name)")])
        }
        object["responses"] = .object(responses)
        return .object(object)
    }

    private static func errorResponse(_ description: String) -> JSONValue {
        var response: [String: JSONValue] = [
            "description": .string(description),
            "content": .object(["application/json": .object(["schema": SchemaDoc.ref("Error")])]),
        ]
        if description.contains("Retry-After") {
            response["headers"] = .object([
                "Retry-After": .object([
                    "description": .string("Seconds until the refusal ends."),
                    "schema": SchemaDoc.integer(minimum: 1, maximum: nil),
                ])
            ])
        }
        return .object(response)
    }

    private static func schemas() -> [String: JSONValue] {
        var schemas: [String: JSONValue] = [:]
        for kind in ResourceKind.allCases { schemas[ResourceDocs.name(kind)] = ResourceDocs.resource(kind) }
        for kind in NativeAPI.resourceKinds {
            schemas["\(ResourceDocs.name(kind))Create"] = ResourceDocs.create(kind)
            schemas["\(ResourceDocs.name(kind))Update"] = ResourceDocs.update(kind)
        }
        schemas["Error"] = SchemaDoc.object(
            [
                "error": SchemaDoc.object(
                    [
                        "code": SchemaDoc.described(
                            SchemaDoc.string,
                            "bad_request, unauthorized, forbidden, not_found, conflict, precondition_failed, too_large, "
                                + "unsupported_media_type, unprocessable, too_many_requests, unavailable or internal."
                        ),
                        "message": SchemaDoc.described(SchemaDoc.string, "For people."),
                        "field": SchemaDoc.described(
                            SchemaDoc.string,
                            "The offending field or parameter, when there is one."
                        ),
                        "valid": SchemaDoc.described(
                            SchemaDoc.array(SchemaDoc.string),
                            "The valid choices, when known."
                        ),
                        "retry_after": SchemaDoc.described(
                            SchemaDoc.integer(minimum: 1, maximum: nil),
                            "Seconds until a 429 refusal ends (also `Retry-After`)."
                        ),
                    ],
                    required: ["code", "message"]
                )
            ],
            required: ["error"],
            description: "The one error shape of the native API."
        )
        for (name, schema) in RouteRegistry.schemas { schemas[name] = schema }
        return schemas
    }
}

extension String {
    /// `user_id` → `user id`, for generated descriptions.
    fileprivate var replacingUnderscores: String {
        String(map { $0 == "_" ? " " : $0 })
    }
}
