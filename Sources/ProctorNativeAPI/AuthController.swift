import Hummingbird
import HummingbirdCore
import ProctorCore
import ProctorHTTPKit

/// Accounts over HTTP: `POST /api/v1/auth/login` (the one route that needs no token), API tokens, users and
/// group members. The rules live in ``Accounts`` so that other dialects share them; this only parses and renders.
struct AuthController {
    let store: any StoreReader
    let maxJSONBytes: Int
    /// The server's authenticator, whose limiter counts failed logins.
    let authenticator: Authenticator
    let addresses: ClientAddresses

    init(services: RunServices, configuration: AppConfiguration) {
        self.store = services.store
        self.maxJSONBytes = configuration.maxJSONBytes
        self.authenticator = services.authenticator
        self.addresses = ClientAddresses(configuration)
    }

    private var accounts: Accounts { Accounts(authenticator: authenticator) }

    /// Routes reachable without credentials: mount them outside the token-checking group.
    func addPublicRoutes(to router: Router<AppRequestContext>) {
        router.mount(Self.publicRoutes, of: self, at: "")
    }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        group.mount(Self.routes, of: self, at: "/api/v1")
    }

    // MARK: Login

    /// `{"name" | "username", "password", "expires_in"?}` → 201 `{token, token_id, user, expires_at}`; 429 with
    /// `Retry-After` while the name or the client address has too many recent failures.
    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await JSONResponse.decode(LoginRequest.self, from: request, limit: maxJSONBytes)
        let (token, user) = try await accounts.login(
            name: body.name,
            password: body.password,
            lifetime: body.expiresIn,
            from: addresses.key(request, context)
        )
        return JSONResponse.make(
            .object([
                "token": .string(token.secret), "token_id": .string(token.record.id), "user": user.publicJSON(),
                "expires_at": token.record["expires_at"].json,
            ]),
            status: .created
        )
    }

    // MARK: Tokens

    @Sendable func listTokens(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let parameters = request.uri.formParameters
        let query = try NativeQuery.parse(
            FlatDictionary(parameters.filter { $0.key != "user_id" }),
            schema: ResourceKind.tokens.schema
        )
        let userID = parameters["user_id"].map(String.init)
        let page = try await accounts.tokens(for: principal, userID: userID, query: query)
        return JSONResponse.page(page)
    }

    /// `{name, expires_in? | expires_at?, scopes?}` → 201 with the secret in `token`, shown only this once.
    @Sendable func createToken(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let body = try await JSONResponse.decode(TokenRequest.self, from: request, limit: maxJSONBytes)
        var expiresAt: Int64?
        switch (body.expiresIn, body.expiresAt) {
        case (.some, .some):
            throw ProctorError.badRequest("give 'expires_in' or 'expires_at', not both", field: "expires_at")
        case (.some(let seconds), nil):
            expiresAt = try Accounts.expiry(inSeconds: seconds)
        case (nil, .some(let text)):
            guard let time = Timestamp.parse(text) else {
                throw ProctorError.badRequest("'expires_at' must be a time (RFC 3339)", field: "expires_at")
            }
            expiresAt = time
        case (nil, nil):
            expiresAt = nil
        }
        let issued = try await accounts.issueToken(
            for: principal,
            name: body.name,
            scopes: body.scopes,
            expiresAt: expiresAt
        )
        var reply = issued.record.publicJSON().objectValue ?? [:]
        reply["token"] = .string(issued.secret)
        return JSONResponse.make(.object(reply), status: .created)
    }

    @Sendable func revokeToken(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        try await accounts.revokeToken(id: try context.parameters.require("id"), by: principal)
        return Response(status: .noContent)
    }

    // MARK: Users

    @Sendable func listUsers(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let query = try NativeQuery.parse(request.uri.formParameters, schema: ResourceKind.users.schema)
        let page = try await accounts.users(for: principal, query: query)
        return JSONResponse.page(page)
    }

    @Sendable func getUser(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let user = try await accounts.user(id: try context.parameters.require("id"), for: principal)
        return Self.respond(user)
    }

    /// `{name, password?, email?, fullname?, is_site_admin?, state?}` → 201 (site admin only).
    @Sendable func createUser(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let (values, password) = try await userInput(request)
        let user = try await accounts.createUser(values, password: password, by: principal)
        return Self.respond(user, status: .created)
    }

    @Sendable func updateUser(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        // Look the user up first, so that another user's id answers 404 before the body is judged.
        _ = try await accounts.user(id: id, for: principal)
        let (values, password) = try await userInput(request)
        let user = try await accounts.updateUser(
            id: id,
            values,
            password: password,
            ifMatch: request.ifMatchTag,
            by: principal
        )
        return Self.respond(user)
    }

    @Sendable func deleteUser(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        try await accounts.deleteUser(
            id: try context.parameters.require("id"),
            ifMatch: request.ifMatchTag,
            by: principal
        )
        return Response(status: .noContent)
    }

    /// A user body as typed fields plus the plain password (which is never a stored field).
    private func userInput(_ request: Request) async throws -> ([String: Value], String?) {
        var object = try await JSONResponse.object(request, limit: maxJSONBytes)
        let password = try Self.string(object, "password")
        object["password"] = nil
        if object["password_hash"] != nil {
            throw ProctorError.unknownField(
                "password_hash",
                valid: ["name", "email", "fullname", "is_site_admin", "state", "password"]
            )
        }
        return (try FieldCoding.values(from: object, schema: ResourceKind.users.schema), password)
    }

    // MARK: Members

    @Sendable func listMembers(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let groupID = try context.parameters.require("id")
        let query = try NativeQuery.parse(request.uri.formParameters, schema: ResourceKind.memberships.schema)
        let (members, page) = try await accounts.members(of: groupID, for: principal, query: query)
        return JSONResponse.page(page, items: members.map(Self.memberJSON))
    }

    /// `{user_id | user (a name), role?, permissions?}` → 201 when added, 200 when an existing member changed.
    @Sendable func addMember(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let groupID = try context.parameters.require("id")
        _ = try await accounts.visibleGroup(groupID, for: principal)
        let body = try await JSONResponse.decode(MemberRequest.self, from: request, limit: maxJSONBytes)
        let userID: String
        if let id = body.userID {
            userID = id
        } else if let name = body.user {
            guard let user = try await store.first(User.self, matching: [.name: .string(name)]) else {
                throw ProctorError.notFound("no such user: \(name)")
            }
            userID = user.id
        } else {
            throw ProctorError.badRequest("say who: 'user_id' or 'user' (a name)", field: "user_id")
        }
        let roleText = body.role ?? Role.member.rawValue
        guard let role = Role(rawValue: roleText) else {
            throw ProctorError.badRequest(
                "unknown role '\(roleText)'; valid roles: viewer, member, admin",
                field: "role",
                details: ["valid": Role.allCases.map(\.rawValue)]
            )
        }
        let permissions = body.permissions ?? []
        let (member, created) = try await accounts.setMember(
            groupID: groupID,
            userID: userID,
            role: role,
            permissions: permissions,
            by: principal
        )
        return JSONResponse.make(Self.memberJSON(member), status: created ? .created : .ok)
    }

    @Sendable func removeMember(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        try await accounts.removeMember(
            groupID: try context.parameters.require("id"),
            userID: try context.parameters.require("user_id"),
            by: principal
        )
        return Response(status: .noContent)
    }

    private static func memberJSON(_ member: Accounts.Member) -> JSONValue {
        var object = member.membership.publicJSON().objectValue ?? [:]
        if let user = member.user {
            object["user"] = .object([
                "id": .string(user.id), "name": user["name"].json, "fullname": user["fullname"].json,
                "email": user["email"].json,
            ])
        }
        return .object(object)
    }

    // MARK: Helpers

    private static func respond(_ record: Record, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [:]
        headers[.eTag] = "\"\(record.etag)\""
        return JSONResponse.make(record, status: status, headers: headers)
    }

    private static func string(_ object: [String: JSONValue], _ key: String) throws -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .string(let text) = value else {
            throw ProctorError.badRequest("'\(key)' must be a string", field: key)
        }
        return text
    }

}

extension AuthController {
    /// The routes this controller serves without credentials, each declared once with its documentation.
    static let publicRoutes: [NativeRoute<AuthController, AppRequestContext>] = [
        NativeRoute(
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
            { $0.login }
        )
    ]

    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<AuthController, AuthenticatedContext>] = [
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/tokens",
                "List API tokens",
                tag: "tokens",
                description: "The caller's tokens (never their secrets); the site admin may pass `user_id`.",
                parameters: ParameterDoc.list + [.query("user_id", "Another user's tokens (site admin only).")],
                replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("Token")))]
            ),
            { $0.listTokens }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/tokens",
                "Create an API token",
                tag: "tokens",
                body: .json(SchemaDoc.ref("TokenCreate")),
                replies: [.created(SchemaDoc.ref("IssuedToken"), "Created; the secret `token` is shown only here.")]
            ),
            { $0.createToken }
        ),
        NativeRoute(
            RouteDoc(
                .delete,
                "/api/v1/tokens/{id}",
                "Revoke an API token",
                tag: "tokens",
                description: "Another user's token answers 404 (the site admin may revoke any).",
                replies: [.noContent("Revoked; the token now answers 401.")]
            ),
            { $0.revokeToken }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/users",
                "List users",
                tag: "users",
                description: "Every user for the site admin; only the caller otherwise.",
                parameters: ParameterDoc.list,
                replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("User")))]
            ),
            { $0.listUsers }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/users",
                "Create a user",
                tag: "users",
                description: "Site admin only.",
                body: .json(SchemaDoc.ref("UserCreate")),
                replies: [.created(SchemaDoc.ref("User"), etag: true)]
            ),
            { $0.createUser }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/users/{id}",
                "Get a user",
                tag: "users",
                description: "The caller themselves, or anyone for the site admin; other users answer 404.",
                replies: [.ok(SchemaDoc.ref("User"), etag: true)]
            ),
            { $0.getUser }
        ),
        NativeRoute(
            RouteDoc(
                .patch,
                "/api/v1/users/{id}",
                "Change a user",
                tag: "users",
                description:
                    "Users change their own `email`, `fullname` and `password`; the site admin changes anything.",
                parameters: [.ifMatch],
                body: .json(SchemaDoc.ref("UserUpdate")),
                replies: [.ok(SchemaDoc.ref("User"), etag: true)]
            ),
            { $0.updateUser }
        ),
        NativeRoute(
            RouteDoc(
                .delete,
                "/api/v1/users/{id}",
                "Delete a user",
                tag: "users",
                description: "Site admin only; deletes the user's tokens and memberships too.",
                parameters: [.ifMatch],
                replies: [.noContent("Deleted.")]
            ),
            { $0.deleteUser }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/groups/{id}/members",
                "List a group's members",
                tag: "groups",
                description: "Any member of the group may read it; other groups answer 404.",
                parameters: ParameterDoc.list,
                replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("Member")))]
            ),
            { $0.listMembers }
        ),
        NativeRoute(
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
            { $0.addMember }
        ),
        NativeRoute(
            RouteDoc(
                .delete,
                "/api/v1/groups/{id}/members/{user_id}",
                "Remove a member",
                tag: "groups",
                description: "Group admins and the site admin.",
                replies: [.noContent("Removed.")]
            ),
            { $0.removeMember }
        ),
    ]
}
