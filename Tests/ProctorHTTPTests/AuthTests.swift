import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProctorCore
import ProctorHTTP
import ProctorStore
import ProctorStoreWriting
import Testing

/// Login, API tokens, users and group memberships over `/api/v1`, including the 404-not-403 rule.
@Suite struct AuthTests {
    // MARK: Login

    @Test func loginIssuesAWorkingTokenAndRefusesBadCredentials() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let created = try await send(
                client,
                .post,
                "/api/v1/users",
                token: TestApp.adminToken,
                body: #"{"name": "alice", "password": "alice-password", "email": "a@example.com"}"#
            )
            #expect(created.status == .created)
            let createdText = String(buffer: created.body)
            #expect(!createdText.contains("password"))
            #expect(!createdText.contains("pbkdf2"))

            let login = try await send(
                client,
                .post,
                "/api/v1/auth/login",
                body: #"{"name": "alice", "password": "alice-password"}"#
            )
            #expect(login.status == .created)
            let body = try json(login)
            let token = try #require(body["token"]?.stringValue)
            #expect(token.hasPrefix("pt_"))
            #expect(body["token_id"]?.stringValue?.isEmpty == false)
            #expect(body["user"]?["name"] == .string("alice"))
            #expect(body["user"]?["password_hash"] == nil)
            let expires = try #require(body["expires_at"]?.stringValue.flatMap(Timestamp.parse))
            #expect(expires > Timestamp.now() + 29 * 24 * 3600 * 1_000_000)

            let whoami = try await send(client, .get, "/api/v1/whoami", token: token)
            #expect(whoami.status == .ok)
            #expect(try json(whoami)["name"] == .string("alice"))

            let byUsername = try await send(
                client,
                .post,
                "/api/v1/auth/login",
                body: #"{"username": "alice", "password": "alice-password", "expires_in": 60}"#
            )
            #expect(byUsername.status == .created)

            for bad in [
                #"{"name": "alice", "password": "wrong-password"}"#,
                #"{"name": "nobody", "password": "alice-password"}"#,
            ] {
                let refused = try await send(client, .post, "/api/v1/auth/login", body: bad)
                #expect(refused.status == .unauthorized)
                #expect(try json(refused)["error"]?["code"] == .string("unauthorized"))
                #expect(try json(refused)["error"]?["message"] == .string("invalid user name or password"))
            }
            let missing = try await send(client, .post, "/api/v1/auth/login", body: #"{"name": "alice"}"#)
            #expect(missing.status == .badRequest)
            #expect(try json(missing)["error"]?["field"] == .string("password"))
            let unknown = try await send(
                client,
                .post,
                "/api/v1/auth/login",
                body: #"{"name": "alice", "password": "x", "otp": 1}"#
            )
            #expect(unknown.status == .badRequest)
            #expect(try json(unknown)["error"]?["field"] == .string("otp"))
            let badLifetime = try await send(
                client,
                .post,
                "/api/v1/auth/login",
                body: #"{"name": "alice", "password": "alice-password", "expires_in": 0}"#
            )
            #expect(badLifetime.status == .unprocessableContent)
        }
    }

    // MARK: Tokens

    @Test func tokenCreateUseListRevoke() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let created = try await send(
                client,
                .post,
                "/api/v1/tokens",
                token: TestApp.adminToken,
                body: #"{"name": "ci", "expires_in": 3600, "scopes": ["read"]}"#
            )
            #expect(created.status == .created)
            let body = try json(created)
            let secret = try #require(body["token"]?.stringValue)
            let id = try #require(body["id"]?.stringValue)
            #expect(secret.hasPrefix("pt_"))
            #expect(body["name"] == .string("ci"))
            #expect(body["prefix"] == .string(String(secret.prefix(7))))
            #expect(body["scopes"] == .array([.string("read")]))
            #expect(body["revoked"] == .bool(false))
            #expect(body["token_hash"] == nil)
            #expect(body["expires_at"]?.stringValue != nil)

            #expect(try await send(client, .get, "/api/v1/whoami", token: secret).status == .ok)

            let list = try await send(
                client,
                .get,
                "/api/v1/tokens?sort=name&limit=1&count=true",
                token: TestApp.adminToken
            )
            #expect(list.status == .ok)
            let listText = String(buffer: list.body)
            #expect(!listText.contains(secret))
            #expect(!listText.contains("token_hash"))
            let page = try json(list)
            #expect(page["total"] == .number(2))
            #expect(page["limit"] == .number(1))
            #expect(page["items"]?.arrayValue?.first?["name"] == .string("bootstrap"))
            let cursor = try #require(page["next_cursor"]?.stringValue)
            let next = try json(
                try await send(
                    client,
                    .get,
                    "/api/v1/tokens?sort=name&limit=1&cursor=\(cursor)",
                    token: TestApp.adminToken
                )
            )
            #expect(next["items"]?.arrayValue?.first?["name"] == .string("ci"))
            #expect(next["items"]?.arrayValue?.first?["token"] == nil)

            #expect(
                try await send(client, .delete, "/api/v1/tokens/\(id)", token: TestApp.adminToken).status == .noContent
            )
            let revoked = try await send(client, .get, "/api/v1/whoami", token: secret)
            #expect(revoked.status == .unauthorized)
            #expect(try json(revoked)["error"]?["code"] == .string("unauthorized"))
            #expect(
                try await send(client, .delete, "/api/v1/tokens/\(id)", token: TestApp.adminToken).status == .noContent
            )
            let listed = try json(
                try await send(client, .get, "/api/v1/tokens?filter=name=ci", token: TestApp.adminToken)
            )
            #expect(listed["items"]?.arrayValue?.first?["revoked"] == .bool(true))
            #expect(
                try await send(client, .delete, "/api/v1/tokens/nope", token: TestApp.adminToken).status == .notFound
            )
        }
    }

    @Test func expiredTokensAndBadExpiries() async throws {
        let app = try await TestApp.make()
        let admin = try #require(try await app.store.first(.users, matching: ["name": .string("admin")]))
        let expired = try await Authenticator(store: app.store).issueToken(
            userID: admin.id,
            name: "old",
            expiresAt: Timestamp.now() - 1_000_000
        )
        try await app.test { client in
            let refused = try await send(client, .get, "/api/v1/whoami", token: expired.token)
            #expect(refused.status == .unauthorized)
            #expect(try json(refused)["error"]?["message"] == .string("invalid or expired token"))

            let past = try await send(
                client,
                .post,
                "/api/v1/tokens",
                token: TestApp.adminToken,
                body: #"{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}"#
            )
            #expect(past.status == .unprocessableContent)
            #expect(try json(past)["error"]?["field"] == .string("expires_at"))
            let both = try await send(
                client,
                .post,
                "/api/v1/tokens",
                token: TestApp.adminToken,
                body: #"{"name": "x", "expires_in": 5, "expires_at": "2999-01-01T00:00:00Z"}"#
            )
            #expect(both.status == .badRequest)
            let noName = try await send(
                client,
                .post,
                "/api/v1/tokens",
                token: TestApp.adminToken,
                body: #"{"expires_in": 5}"#
            )
            #expect(noName.status == .badRequest)
            #expect(try json(noName)["error"]?["field"] == .string("name"))
            let wrongType = try await send(
                client,
                .post,
                "/api/v1/tokens",
                token: TestApp.adminToken,
                body: #"{"name": "x", "expires_in": "soon"}"#
            )
            #expect(wrongType.status == .badRequest)
            let future = try await send(
                client,
                .post,
                "/api/v1/tokens",
                token: TestApp.adminToken,
                body: #"{"name": "later", "expires_at": "2999-01-01T00:00:00Z"}"#
            )
            #expect(future.status == .unprocessableContent)
            let soon = try await send(
                client,
                .post,
                "/api/v1/tokens",
                token: TestApp.adminToken,
                body: #"{"name": "soon", "expires_in": 1}"#
            )
            let secret = try #require(try json(soon)["token"]?.stringValue)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await send(client, .get, "/api/v1/whoami", token: secret).status == .unauthorized)
        }
    }

    @Test func tokensAreTheirOwnersOnly() async throws {
        let app = try await TestApp.make()
        let lab = try await Lab.make(app.store)
        try await app.test { client in
            let aliceToken = try json(
                try await send(client, .post, "/api/v1/tokens", token: lab.alice.token, body: #"{"name": "mine"}"#)
            )
            let aliceTokenID = try #require(aliceToken["id"]?.stringValue)
            #expect(
                try await send(client, .delete, "/api/v1/tokens/\(aliceTokenID)", token: lab.bob.token).status
                    == .notFound
            )
            let foreign = try await send(client, .get, "/api/v1/tokens?user_id=\(lab.alice.id)", token: lab.bob.token)
            #expect(foreign.status == .forbidden)
            let own = try json(try await send(client, .get, "/api/v1/tokens", token: lab.bob.token))
            #expect(own["items"]?.arrayValue?.compactMap { $0["user_id"]?.stringValue } == [lab.bob.id])
            let asAdmin = try json(
                try await send(
                    client,
                    .get,
                    "/api/v1/tokens?user_id=\(lab.alice.id)&fields=name",
                    token: TestApp.adminToken
                )
            )
            #expect(
                Set(asAdmin["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []) == ["test", "mine"]
            )
            #expect(
                try await send(client, .delete, "/api/v1/tokens/\(aliceTokenID)", token: TestApp.adminToken).status
                    == .noContent
            )
            let badParameter = try await send(client, .get, "/api/v1/tokens?owner=x", token: lab.bob.token)
            #expect(badParameter.status == .badRequest)
            #expect(try json(badParameter)["error"]?["field"] == .string("owner"))
        }
    }

    // MARK: Users

    @Test func usersAreManagedByTheSiteAdmin() async throws {
        let app = try await TestApp.make()
        let lab = try await Lab.make(app.store)
        try await app.test { client in
            let admin = TestApp.adminToken
            let created = try await send(
                client,
                .post,
                "/api/v1/users",
                token: admin,
                body: #"{"name": "dave", "password": "dave-password", "fullname": "Dave"}"#
            )
            #expect(created.status == .created)
            #expect(created.headers[.eTag] != nil)
            let dave = try json(created)
            let daveID = try #require(dave["id"]?.stringValue)
            #expect(dave["is_site_admin"] == .bool(false))
            #expect(dave["state"] == .string("active"))
            #expect(dave["password_hash"] == nil)

            let duplicate = try await send(client, .post, "/api/v1/users", token: admin, body: #"{"name": "dave"}"#)
            #expect(duplicate.status == .conflict)
            let short = try await send(
                client,
                .post,
                "/api/v1/users",
                token: admin,
                body: #"{"name": "eve", "password": "short"}"#
            )
            #expect(short.status == .unprocessableContent)
            #expect(try json(short)["error"]?["field"] == .string("password"))
            let hash = try await send(
                client,
                .post,
                "/api/v1/users",
                token: admin,
                body: #"{"name": "eve", "password_hash": "x"}"#
            )
            #expect(hash.status == .badRequest)
            let badState = try await send(
                client,
                .post,
                "/api/v1/users",
                token: admin,
                body: #"{"name": "eve", "state": "zombie"}"#
            )
            #expect(badState.status == .badRequest)
            #expect(try json(badState)["error"]?["field"] == .string("state"))
            let byMember = try await send(
                client,
                .post,
                "/api/v1/users",
                token: lab.alice.token,
                body: #"{"name": "eve"}"#
            )
            #expect(byMember.status == .forbidden)

            // A user sees themselves only.
            #expect(try await send(client, .get, "/api/v1/users/\(lab.alice.id)", token: lab.alice.token).status == .ok)
            let other = try await send(client, .get, "/api/v1/users/\(lab.bob.id)", token: lab.alice.token)
            #expect(other.status == .notFound)
            #expect(try json(other)["error"]?["code"] == .string("not_found"))
            let visible = try json(try await send(client, .get, "/api/v1/users", token: lab.alice.token))
            #expect(visible["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["alice"])
            let all = try json(try await send(client, .get, "/api/v1/users?count=true", token: admin))
            #expect(all["total"] == .number(5))

            let renamed = try await send(
                client,
                .patch,
                "/api/v1/users/\(lab.alice.id)",
                token: lab.alice.token,
                body: #"{"fullname": "Alice A.", "password": "new-alice-password"}"#
            )
            #expect(renamed.status == .ok)
            #expect(try json(renamed)["fullname"] == .string("Alice A."))
            let promote = try await send(
                client,
                .patch,
                "/api/v1/users/\(lab.alice.id)",
                token: lab.alice.token,
                body: #"{"is_site_admin": true}"#
            )
            #expect(promote.status == .forbidden)
            let otherPatch = try await send(
                client,
                .patch,
                "/api/v1/users/\(lab.bob.id)",
                token: lab.alice.token,
                body: #"{"fullname": "x"}"#
            )
            #expect(otherPatch.status == .notFound)
            let stale = try await send(
                client,
                .patch,
                "/api/v1/users/\(daveID)",
                headers: [.ifMatch: "\"stale\""],
                token: admin,
                body: #"{"fullname": "D"}"#
            )
            #expect(stale.status == .conflict)

            let login = try await send(
                client,
                .post,
                "/api/v1/auth/login",
                body: #"{"name": "dave", "password": "dave-password"}"#
            )
            let daveToken = try #require(try json(login)["token"]?.stringValue)
            #expect(
                try await send(client, .delete, "/api/v1/users/\(daveID)", token: lab.alice.token).status == .notFound
            )
            #expect(
                try await send(client, .delete, "/api/v1/users/\(lab.alice.id)", token: lab.alice.token).status
                    == .forbidden
            )
            #expect(try await send(client, .delete, "/api/v1/users/\(daveID)", token: admin).status == .noContent)
            #expect(try await send(client, .get, "/api/v1/whoami", token: daveToken).status == .unauthorized)
            #expect(try await send(client, .get, "/api/v1/users/\(daveID)", token: admin).status == .notFound)
            let adminID = try #require(
                try json(try await send(client, .get, "/api/v1/whoami", token: admin))["id"]?.stringValue
            )
            #expect(try await send(client, .delete, "/api/v1/users/\(adminID)", token: admin).status == .conflict)
        }
    }

    // MARK: Memberships

    @Test func membershipsAcrossThreeGroups() async throws {
        let app = try await TestApp.make()
        let lab = try await Lab.make(app.store)
        try await app.test { client in
            // alice is admin of A, bob member of B, carol viewer of C.
            let listA = try await send(client, .get, "/api/v1/groups/\(lab.groupA)/members", token: lab.alice.token)
            #expect(listA.status == .ok)
            let membersA = try json(listA)["items"]?.arrayValue ?? []
            #expect(membersA.compactMap { $0["user"]?["name"]?.stringValue } == ["alice"])
            #expect(membersA.first?["role"] == .string("admin"))

            for group in [lab.groupB, lab.groupC, "no-such-group"] {
                let hidden = try await send(client, .get, "/api/v1/groups/\(group)/members", token: lab.alice.token)
                #expect(hidden.status == .notFound)
                let add = try await send(
                    client,
                    .post,
                    "/api/v1/groups/\(group)/members",
                    token: lab.alice.token,
                    body: #"{"user_id": "\#(lab.alice.id)", "role": "admin"}"#
                )
                #expect(add.status == .notFound)
                let remove = try await send(
                    client,
                    .delete,
                    "/api/v1/groups/\(group)/members/\(lab.bob.id)",
                    token: lab.alice.token
                )
                #expect(remove.status == .notFound)
            }

            let added = try await send(
                client,
                .post,
                "/api/v1/groups/\(lab.groupA)/members",
                token: lab.alice.token,
                body: #"{"user": "bob", "role": "viewer"}"#
            )
            #expect(added.status == .created)
            #expect(try json(added)["role"] == .string("viewer"))
            #expect(try json(added)["user_id"] == .string(lab.bob.id))
            let changed = try await send(
                client,
                .post,
                "/api/v1/groups/\(lab.groupA)/members",
                token: lab.alice.token,
                body: #"{"user_id": "\#(lab.bob.id)", "role": "member", "permissions": ["add_docker_image"]}"#
            )
            #expect(changed.status == .ok)
            let whoami = try json(try await send(client, .get, "/api/v1/whoami", token: lab.bob.token))
            let inA = whoami["groups"]?.arrayValue?.first { $0["id"] == .string(lab.groupA) }
            #expect(inA?["role"] == .string("member"))
            #expect(inA?["permissions"] == .array([.string("add_docker_image")]))

            // bob now reads A's members but, as a member and not an admin, cannot change them.
            #expect(
                try await send(client, .get, "/api/v1/groups/\(lab.groupA)/members", token: lab.bob.token).status == .ok
            )
            let notAdmin = try await send(
                client,
                .post,
                "/api/v1/groups/\(lab.groupA)/members",
                token: lab.bob.token,
                body: #"{"user_id": "\#(lab.carol.id)"}"#
            )
            #expect(notAdmin.status == .forbidden)
            #expect(
                try await send(
                    client,
                    .delete,
                    "/api/v1/groups/\(lab.groupA)/members/\(lab.alice.id)",
                    token: lab.bob.token
                ).status == .forbidden
            )
            // carol (viewer of C) sees nothing of A.
            #expect(
                try await send(client, .get, "/api/v1/groups/\(lab.groupA)/members", token: lab.carol.token).status
                    == .notFound
            )

            let badRole = try await send(
                client,
                .post,
                "/api/v1/groups/\(lab.groupA)/members",
                token: lab.alice.token,
                body: #"{"user_id": "\#(lab.carol.id)", "role": "owner"}"#
            )
            #expect(badRole.status == .badRequest)
            #expect(try json(badRole)["error"]?["field"] == .string("role"))
            let noUser = try await send(
                client,
                .post,
                "/api/v1/groups/\(lab.groupA)/members",
                token: lab.alice.token,
                body: #"{"user_id": "nobody"}"#
            )
            #expect(noUser.status == .notFound)
            let noWho = try await send(
                client,
                .post,
                "/api/v1/groups/\(lab.groupA)/members",
                token: lab.alice.token,
                body: #"{"role": "viewer"}"#
            )
            #expect(noWho.status == .badRequest)

            let asAdmin = try json(
                try await send(
                    client,
                    .get,
                    "/api/v1/groups/\(lab.groupC)/members?count=true",
                    token: TestApp.adminToken
                )
            )
            #expect(asAdmin["total"] == .number(1))

            #expect(
                try await send(
                    client,
                    .delete,
                    "/api/v1/groups/\(lab.groupA)/members/\(lab.bob.id)",
                    token: lab.alice.token
                ).status == .noContent
            )
            #expect(
                try await send(
                    client,
                    .delete,
                    "/api/v1/groups/\(lab.groupA)/members/\(lab.bob.id)",
                    token: lab.alice.token
                ).status == .notFound
            )
            #expect(
                try await send(client, .get, "/api/v1/groups/\(lab.groupA)/members", token: lab.bob.token).status
                    == .notFound
            )
        }
    }

    @Test func loginNeedsNoTokenButEverythingElseDoes() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            for (method, uri) in [
                (HTTPRequest.Method.get, "/api/v1/tokens"), (.post, "/api/v1/tokens"), (.get, "/api/v1/users"),
                (.delete, "/api/v1/tokens/x"), (.get, "/api/v1/groups/x/members"),
            ] {
                let response = try await send(client, method, uri, body: method == .post ? "{}" : nil)
                #expect(response.status == .unauthorized, "\(method) \(uri)")
            }
            let login = try await send(
                client,
                .post,
                "/api/v1/auth/login",
                token: "pt_garbage_garbage",
                body: #"{"name": "x", "password": "y"}"#
            )
            #expect(login.status == .unauthorized)
            #expect(try json(login)["error"]?["message"] == .string("invalid user name or password"))
        }
    }

    @Test func theAuthorizationHeaderTakesBearerTokenOrABareToken() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            let token = TestApp.adminToken
            let accepted = ["Bearer \(token)", "bearer   \(token)  ", "Token \(token)", token, "\t Bearer \(token)\t"]
            for header in accepted {
                let response = try await client.execute(
                    uri: "/api/v1/users",
                    method: .get,
                    headers: [.authorization: header]
                )
                #expect(response.status == .ok, "\(header)")
            }
            for header in ["Basic \(token)", "Bearer", "Bearer \(token)x", "   "] {
                let response = try await client.execute(
                    uri: "/api/v1/users",
                    method: .get,
                    headers: [.authorization: header]
                )
                #expect(response.status == .unauthorized, "\(header)")
            }
            // Two Authorization fields are one joined value ("Bearer …, Bearer …"), which is no token.
            var twice = HTTPFields()
            twice.append(HTTPField(name: .authorization, value: "Bearer \(token)"))
            twice.append(HTTPField(name: .authorization, value: "Bearer \(token)"))
            let response = try await client.execute(uri: "/api/v1/users", method: .get, headers: twice)
            #expect(response.status == .unauthorized)
        }
    }

    // MARK: Helpers

    /// Three groups, a user in each (alice admin of A, bob member of B, carol viewer of C), with API tokens.
    struct Lab {
        struct User {
            var id: String
            var token: String
        }

        var groupA: String
        var groupB: String
        var groupC: String
        var alice: User
        var bob: User
        var carol: User

        static func make(_ store: any Store) async throws -> Lab {
            var groups: [String] = []
            for name in ["group-a", "group-b", "group-c"] {
                groups.append(try await store.insert(Record(.groups, ["name": .string(name)])).id)
            }
            var users: [User] = []
            for (index, (name, role)) in [("alice", Role.admin), ("bob", .member), ("carol", .viewer)].enumerated() {
                let user = try await store.insert(Record(.users, ["name": .string(name)]))
                _ = try await store.insert(
                    Record(
                        .memberships,
                        [
                            "group_id": .string(groups[index]), "user_id": .string(user.id),
                            "role": .string(role.rawValue),
                        ]
                    )
                )
                let token = "pt_test_\(name)_token_00000000000"
                _ = try await Authenticator(store: store).issueToken(userID: user.id, name: "test", value: token)
                users.append(User(id: user.id, token: token))
            }
            return Lab(
                groupA: groups[0],
                groupB: groups[1],
                groupC: groups[2],
                alice: users[0],
                bob: users[1],
                carol: users[2]
            )
        }
    }
}

/// One request: JSON body, optional bearer token and extra headers.
private func send(
    _ client: any TestClientProtocol,
    _ method: HTTPRequest.Method,
    _ uri: String,
    headers: HTTPFields = [:],
    token: String? = nil,
    body: String? = nil
) async throws -> TestResponse {
    var fields = headers
    fields[.contentType] = "application/json"
    if let token { fields[.authorization] = "Bearer \(token)" }
    return try await client.execute(
        uri: uri,
        method: method,
        headers: fields,
        body: body.map { ByteBuffer(string: $0) }
    )
}
