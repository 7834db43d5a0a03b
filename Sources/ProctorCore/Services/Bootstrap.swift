import ProctorStoreWriting

/// First start of a fresh store: the `default` group and the site admin `admin`, with an API token.
public enum Bootstrap {
    public struct Outcome: Sendable {
        /// Whether this call created the admin (false: the store already had users).
        public var created: Bool
        /// The admin token when this call generated it (to print once); nil when it came from the caller.
        public var generatedToken: String?
    }

    public static let defaultGroup = "default"
    public static let adminName = "admin"

    public static func run(store: any Store, adminToken: String?, adminPassword: String? = nil) async throws -> Outcome
    {
        if try await store.count(.users, query: Query(), scope: .everything) > 0 {
            return Outcome(created: false, generatedToken: nil)
        }
        let token = adminToken ?? Credentials.newToken()
        try await store.transaction { store in
            var group = try await store.first(.groups, matching: ["name": .string(defaultGroup)])
            if group == nil {
                group = try await store.insert(
                    Record(.groups, ["name": .string(defaultGroup), "description": .string("The default group")])
                )
            }
            guard let group else { throw ProctorError(.internal, "the default group could not be created") }
            let hash = try adminPassword.map { try Credentials.hashPassword($0) }
            let admin = try await store.insert(
                Record(
                    .users,
                    [
                        "name": .string(adminName), "fullname": .string("Site administrator"),
                        "is_site_admin": .bool(true), "password_hash": hash.map(Value.string) ?? .null,
                    ]
                )
            )
            _ = try await store.insert(
                Record(
                    .memberships,
                    ["group_id": .string(group.id), "user_id": .string(admin.id), "role": .string(Role.admin.rawValue)]
                )
            )
            _ = try await Authenticator(store: store).issueToken(userID: admin.id, name: "bootstrap", value: token)
        }
        return Outcome(created: true, generatedToken: adminToken == nil ? token : nil)
    }
}
