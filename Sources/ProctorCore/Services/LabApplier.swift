import ProctorStoreWriting

/// Applies a lab described as code (`proctor apply -f lab.yaml`): groups, users, tokens, remote CIs,
/// harnesses, engines, testbeds, configs, products, topics, components, job definitions with profiles,
/// and bundles.
///
/// Keys mirror the model's field names; a name is an identity within its group; references are written by
/// name (`engine: local`, `testbeds: [bench-1]`). Applying the same document twice changes nothing.
public struct LabApplier: Sendable {
    public enum Action: String, Sendable, Codable {
        case created
        case updated
        case unchanged
    }

    /// One line of the report: what happened to which resource.
    public struct Change: Sendable, Equatable, Codable {
        public var action: Action
        public var kind: String
        public var name: String
        public var id: String

        public init(action: Action, kind: String, name: String, id: String) {
            self.action = action
            self.kind = kind
            self.name = name
            self.id = id
        }

        public var line: String { "\(action.rawValue) \(kind) \(name)" }
    }

    /// The order sections are applied in, so that references resolve.
    public static let sections: [(key: String, kind: ResourceKind)] = [
        ("groups", .groups), ("users", .users), ("tokens", .tokens), ("remotecis", .remotecis),
        ("harnesses", .harnesses), ("engines", .engines), ("testbeds", .testbeds), ("configs", .configs),
        ("products", .products), ("topics", .topics), ("components", .components), ("definitions", .definitions),
        ("bundles", .bundles),
    ]

    public let store: any Store

    public init(store: any Store) {
        self.store = store
    }

    /// Applies the document in one transaction and returns what changed, in order.
    public func apply(_ document: JSONValue) async throws -> [Change] {
        guard case .object(let root) = document else {
            throw ProctorError.badRequest("a lab document is a mapping of sections (groups, users, ...)")
        }
        let known = Set(Self.sections.map(\.key)).union(["jobs"])
        for key in root.keys where !known.contains(key) {
            throw ProctorError.unknownField(key, valid: Self.sections.map(\.key), role: "section")
        }
        return try await store.transaction { store in
            var run = Run(store: store)
            for (key, kind) in Self.sections {
                let items = key == "definitions" ? (root[key] ?? root["jobs"]) : root[key]
                guard let items else { continue }
                guard case .array(let list) = items else {
                    throw ProctorError.badRequest("section '\(key)' must be a list", field: key)
                }
                for (index, item) in list.enumerated() {
                    guard case .object(let object) = item else {
                        throw ProctorError.badRequest("\(key)[\(index)] must be a mapping", field: key)
                    }
                    do {
                        try await run.apply(kind, object)
                    } catch var error as ProctorError {
                        error.message = "\(key)[\(index)]: \(error.message)"
                        throw error
                    }
                }
            }
            return run.changes
        }
    }

    /// The state of one application: the store of its transaction and what it changed.
    private struct Run {
        let store: any Store
        var changes: [Change] = []
        var groupIDs: [String: String] = [:]

        init(store: any Store) {
            self.store = store
        }

        mutating func apply(_ kind: ResourceKind, _ object: [String: JSONValue]) async throws {
            switch kind {
            case .groups: try await applyGroup(object)
            case .users: try await applyUser(object)
            case .tokens: try await applyToken(object)
            case .definitions: try await applyDefinition(object)
            default: try await applyGrouped(kind, object)
            }
        }

        // MARK: Helpers

        func string(_ object: [String: JSONValue], _ key: String) throws -> String? {
            guard let value = object[key], !value.isNull else { return nil }
            guard case .string(let s) = value else {
                throw ProctorError.badRequest("'\(key)' must be a string", field: key)
            }
            return s
        }

        func requiredName(_ object: [String: JSONValue]) throws -> String {
            guard let name = try string(object, "name"), !name.isEmpty else {
                throw ProctorError.badRequest("'name' is required", field: "name")
            }
            return name
        }

        func stringList(_ object: [String: JSONValue], _ key: String) throws -> [String]? {
            guard let value = object[key], !value.isNull else { return nil }
            if case .string(let s) = value { return [s] }
            guard case .array(let items) = value else {
                throw ProctorError.badRequest("'\(key)' must be a list of names", field: key)
            }
            return try items.map {
                guard case .string(let s) = $0 else {
                    throw ProctorError.badRequest("'\(key)' must be a list of names", field: key)
                }
                return s
            }
        }

        mutating func groupID(named name: String?) async throws -> String {
            let name = name ?? Bootstrap.defaultGroup
            if let id = groupIDs[name] { return id }
            guard let group = try await store.first(.groups, matching: ["name": .string(name)]) else {
                if name == Bootstrap.defaultGroup {
                    let created = try await store.insert(Record(.groups, ["name": .string(name)]))
                    changes.append(Change(action: .created, kind: "group", name: name, id: created.id))
                    groupIDs[name] = created.id
                    return created.id
                }
                throw ProctorError.notFound("no such group: \(name)")
            }
            groupIDs[name] = group.id
            return group.id
        }

        func reference(_ kind: ResourceKind, named name: String, in groupID: String, extra: [String: Value] = [:])
            async throws -> String
        {
            var matching = extra
            matching["name"] = .string(name)
            if kind.schema.grouped { matching["group_id"] = .string(groupID) }
            guard let row = try await store.first(kind, matching: matching) else {
                throw ProctorError.notFound("no such \(kind.singular): \(name)")
            }
            return row.id
        }

        /// Creates the row or updates the fields that differ; records what it did.
        @discardableResult
        mutating func upsert(
            _ kind: ResourceKind,
            identity: [String: Value],
            values: [String: Value],
            label: String
        ) async throws -> Record {
            if let existing = try await store.first(kind, matching: identity) {
                var changed: [String: Value] = [:]
                for (key, value) in values where !Self.same(existing[key], value) {
                    changed[key] = value
                }
                if changed.isEmpty {
                    changes.append(Change(action: .unchanged, kind: kind.singular, name: label, id: existing.id))
                    return existing
                }
                let updated = try await store.update(
                    kind,
                    id: existing.id,
                    changes: changed,
                    ifMatch: nil,
                    scope: .everything
                )
                changes.append(Change(action: .updated, kind: kind.singular, name: label, id: existing.id))
                return updated
            }
            var all = identity
            for (key, value) in values { all[key] = value }
            let created = try await store.insert(Record(kind, all))
            changes.append(Change(action: .created, kind: kind.singular, name: label, id: created.id))
            return created
        }

        /// Value equality as stored: JSON numbers and strings lists compare by content.
        static func same(_ a: Value, _ b: Value) -> Bool {
            switch (a, b) {
            case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
            case (.strings(let x), .json(let y)), (.json(let y), .strings(let x)):
                return JSONValue.array(x.map { .string($0) }) == y
            default: return a == b
            }
        }

        // MARK: Sections

        mutating func applyGroup(_ object: [String: JSONValue]) async throws {
            let name = try requiredName(object)
            let values = try FieldCoding.values(from: object, schema: ResourceKind.groups.schema, ignoring: ["name"])
            let row = try await upsert(.groups, identity: ["name": .string(name)], values: values, label: name)
            groupIDs[name] = row.id
        }

        mutating func applyUser(_ object: [String: JSONValue]) async throws {
            let name = try requiredName(object)
            var values = try FieldCoding.values(
                from: object,
                schema: ResourceKind.users.schema,
                ignoring: ["name", "password", "groups", "site_admin", "permissions", "is_site_admin"]
            )
            if let siteAdmin = object["site_admin"] ?? object["is_site_admin"] {
                guard case .bool(let b) = siteAdmin else {
                    throw ProctorError.badRequest("'site_admin' must be true or false", field: "site_admin")
                }
                values[User.Field.isSiteAdmin.rawValue] = .bool(b)
            }
            let existing = try await store.first(User.self, matching: [.name: .string(name)])
            if let password = try string(object, "password") {
                if let hash = existing?.passwordHash, Credentials.verifyPassword(password, hash: hash) {
                    // Unchanged: keep the stored hash so that re-applying is a no-op.
                } else {
                    values[User.Field.passwordHash.rawValue] = .string(try Credentials.hashPassword(password))
                }
            }
            let user = try await upsert(.users, identity: ["name": .string(name)], values: values, label: name)
            try await applyMemberships(user: user, object)
        }

        /// `groups: {lab: admin}` or `groups: [{group: lab, role: admin, permissions: [add_docker_image]}]`
        /// or `groups: [lab]` (member); `permissions: {lab: [add_docker_image]}` adds named permissions.
        mutating func applyMemberships(user: Record, _ object: [String: JSONValue]) async throws {
            var wanted: [(group: String, role: Role, permissions: [String])] = []
            func role(_ text: String) throws -> Role {
                guard let role = Role(rawValue: text) else {
                    throw ProctorError.badRequest(
                        "unknown role '\(text)'; valid roles: viewer, member, admin",
                        field: "groups",
                        details: ["valid": Role.allCases.map(\.rawValue)]
                    )
                }
                return role
            }
            switch object["groups"] {
            case nil, .null?: break
            case .object(let map)?:
                for (group, value) in map.sorted(by: { $0.key < $1.key }) {
                    guard case .string(let r) = value else {
                        throw ProctorError.badRequest("groups.\(group) must be a role name", field: "groups")
                    }
                    wanted.append((group, try role(r), []))
                }
            case .array(let items)?:
                for item in items {
                    switch item {
                    case .string(let group): wanted.append((group, .member, []))
                    case .object(let entry):
                        guard let group = entry["group"]?.stringValue else {
                            throw ProctorError.badRequest("each membership needs 'group'", field: "groups")
                        }
                        let r = try role(entry["role"]?.stringValue ?? "member")
                        let permissions = try stringList(entry, "permissions") ?? []
                        wanted.append((group, r, permissions))
                    default:
                        throw ProctorError.badRequest("'groups' entries are names or mappings", field: "groups")
                    }
                }
            default:
                throw ProctorError.badRequest("'groups' must be a mapping of group to role, or a list", field: "groups")
            }
            var extra: [String: [String]] = [:]
            if case .object(let map)? = object["permissions"] {
                for (group, value) in map {
                    extra[group] = try stringList([group: value], group) ?? []
                }
            } else if let value = object["permissions"], !value.isNull {
                throw ProctorError.badRequest(
                    "'permissions' must map a group to a list of permissions",
                    field: "permissions"
                )
            }
            for entry in wanted {
                let groupID = try await groupID(named: entry.group)
                let permissions = Array(Set(entry.permissions + (extra[entry.group] ?? []))).sorted()
                try await upsert(
                    .memberships,
                    identity: ["user_id": .string(user.id), "group_id": .string(groupID)],
                    values: ["role": .string(entry.role.rawValue), "permissions": .strings(permissions)],
                    label: "\(user.name ?? "")@\(entry.group)"
                )
            }
        }

        mutating func applyToken(_ object: [String: JSONValue]) async throws {
            guard let userName = try string(object, "user") else {
                throw ProctorError.badRequest("a token needs 'user'", field: "user")
            }
            let name = try requiredName(object)
            guard let user = try await store.first(.users, matching: ["name": .string(userName)]) else {
                throw ProctorError.notFound("no such user: \(userName)")
            }
            let identity: [String: Value] = ["user_id": .string(user.id), "name": .string(name)]
            let scopes = try stringList(object, "scopes") ?? []
            try AccessScope.validate(scopes)
            var values: [String: Value] = ["scopes": .strings(scopes)]
            if let expires = try string(object, "expires_at") {
                guard let t = Timestamp.parse(expires) else {
                    throw ProctorError.badRequest("'expires_at' must be a time (RFC 3339)", field: "expires_at")
                }
                values["expires_at"] = .timestamp(t)
            }
            let value = try string(object, "value")
            if let value {
                guard value.count >= 16 else {
                    throw ProctorError.badRequest("a fixed token value needs at least 16 characters", field: "value")
                }
                values["token_hash"] = .string(Credentials.tokenHash(value))
                values["prefix"] = .string(Credentials.tokenPrefix(value))
            } else if try await store.first(.tokens, matching: identity) == nil {
                let generated = Credentials.newToken()
                values["token_hash"] = .string(Credentials.tokenHash(generated))
                values["prefix"] = .string(Credentials.tokenPrefix(generated))
            }
            try await upsert(.tokens, identity: identity, values: values, label: "\(userName)/\(name)")
        }

        /// Resources that belong to a group and are named within it, with references written by name.
        mutating func applyGrouped(_ kind: ResourceKind, _ object: [String: JSONValue]) async throws {
            var object = object
            let groupID = try await groupID(named: try string(object, "group"))
            object["group"] = nil
            let name = try requiredName(object)
            var identity: [String: Value] = ["group_id": .string(groupID), "name": .string(name)]
            var resolved: [String: Value] = [:]
            switch kind {
            case .remotecis:
                if let id = try string(object, "client_id") ?? string(object, "id") { identity = ["id": .string(id)] }
                object["client_id"] = nil
                object["id"] = nil
                if let secret = try string(object, "api_secret") { resolved["api_secret"] = .string(secret) }
                object["api_secret"] = nil
                if identity["id"] != nil { resolved["name"] = .string(name); resolved["group_id"] = .string(groupID) }
                if try await store.first(.remotecis, matching: identity) == nil, resolved["api_secret"] == nil {
                    resolved["api_secret"] = .string(Credentials.newSecret())
                }
            case .topics:
                if let product = try string(object, "product") {
                    resolved["product_id"] = .string(try await reference(.products, named: product, in: groupID))
                }
                object["product"] = nil
            case .components:
                if let topic = try string(object, "topic") {
                    let topicID = try await reference(.topics, named: topic, in: groupID)
                    resolved["topic_id"] = .string(topicID)
                    identity["topic_id"] = .string(topicID)
                }
                object["topic"] = nil
                var naming: [String: Value] = [:]
                for key in ["display_name", "version"] {
                    if let given = try string(object, key) { naming[key] = .string(given) }
                }
                ComponentNaming.fillDefaults(&naming, name: name)
                for (key, value) in naming { resolved[key] = value }
                object["display_name"] = nil
                object["version"] = nil
            case .bundles:
                if let profiles = try stringList(object, "profiles") {
                    var ids: [String] = []
                    for path in profiles {
                        let parts = path.split(separator: "/", maxSplits: 1).map(String.init)
                        guard parts.count == 2 else {
                            throw ProctorError.badRequest(
                                "bundle profiles are written 'definition/profile'",
                                field: "profiles"
                            )
                        }
                        let definitionID = try await reference(.definitions, named: parts[0], in: groupID)
                        ids.append(
                            try await reference(
                                .profiles,
                                named: parts[1],
                                in: groupID,
                                extra: ["definition_id": .string(definitionID)]
                            )
                        )
                    }
                    resolved["profile_ids"] = .strings(ids)
                }
                object["profiles"] = nil
            default:
                break
            }
            object["name"] = nil
            var values = try FieldCoding.values(from: object, schema: kind.schema)
            for (key, value) in resolved { values[key] = value }
            try await upsert(kind, identity: identity, values: values, label: name)
        }

        mutating func applyDefinition(_ object: [String: JSONValue]) async throws {
            var object = object
            let groupName = try string(object, "group")
            let groupID = try await groupID(named: groupName)
            let profiles = object["profiles"]
            object["profiles"] = nil
            object["group"] = nil
            let name = try requiredName(object)
            object["name"] = nil
            let values = try FieldCoding.values(from: object, schema: ResourceKind.definitions.schema)
            let definition = try await upsert(
                .definitions,
                identity: ["group_id": .string(groupID), "name": .string(name)],
                values: values,
                label: name
            )
            guard let profiles, !profiles.isNull else { return }
            guard case .array(let list) = profiles else {
                throw ProctorError.badRequest("'profiles' must be a list", field: "profiles")
            }
            for item in list {
                guard case .object(var profile) = item else {
                    throw ProctorError.badRequest("each profile must be a mapping", field: "profiles")
                }
                let profileName = try requiredName(profile)
                var resolved: [String: Value] = [:]
                if let engine = try string(profile, "engine") {
                    resolved["engine_id"] = .string(try await reference(.engines, named: engine, in: groupID))
                }
                if let config = try string(profile, "config") {
                    resolved["config_id"] = .string(try await reference(.configs, named: config, in: groupID))
                }
                if let harnesses = try stringList(profile, "harnesses") {
                    var ids: [String] = []
                    for harness in harnesses {
                        ids.append(try await reference(.harnesses, named: harness, in: groupID))
                    }
                    resolved["harness_ids"] = .strings(ids)
                }
                if let testbeds = try stringList(profile, "testbeds") {
                    var ids: [String] = []
                    for testbed in testbeds { ids.append(try await reference(.testbeds, named: testbed, in: groupID)) }
                    resolved["testbed_ids"] = .strings(ids)
                }
                for key in ["name", "engine", "config", "harnesses", "testbeds"] { profile[key] = nil }
                var values = try FieldCoding.values(from: profile, schema: ResourceKind.profiles.schema)
                for (key, value) in resolved { values[key] = value }
                try await upsert(
                    .profiles,
                    identity: [
                        "group_id": .string(groupID), "definition_id": .string(definition.id),
                        "name": .string(profileName),
                    ],
                    values: values,
                    label: "\(name)/\(profileName)"
                )
            }
        }
    }
}
