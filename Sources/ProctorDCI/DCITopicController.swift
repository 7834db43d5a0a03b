import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// Topics and their components: `GET/POST /topics`, `GET /topics/{id}`, `GET /topics/{id}/components`,
/// `GET/POST /components`, `GET /components/{id}`.
///
/// Topics and components belong to a Proctor group (DCI's are global, governed by product access); a caller
/// sees those of its teams. Creating needs the admin role in the team, or a feeder of the team.
struct DCITopicController {
    let api: DCIAPI

    func addRoutes(to group: DoorRoutes) {
        group.get("topics", use: listTopics)
        group.post("topics", use: createTopic)
        group.get("topics/:id", use: getTopic)
        group.get("topics/:id/components", use: listTopicComponents)
        group.get("components", use: listComponents)
        group.post("components", use: createComponent)
        group.get("components/:id", use: getComponent)
    }

    // MARK: Topics

    @Sendable func listTopics(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        return try await api.list(.topics, request, principal: principal) { $0.map(DCIRender.topic) }
    }

    @Sendable func getTopic(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let topic = try await api.require(.topics, id: try context.parameters.require("id"), principal: principal)
        return DCIRender.one("topic", DCIRender.topic(topic), etag: topic.etag)
    }

    static let topicKeys: Set<String> = [
        "name", "state", "component_types", "export_control", "product_id", "next_topic_id", "data", "team_id",
    ]

    @Sendable func createTopic(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        try api.allow(object, only: Self.topicKeys)
        guard let name = object["name"]?.stringValue, !name.isEmpty else {
            throw DCIError.malformed(["'name' is a required property"])
        }
        let teamID = try await creatorTeam(object, principal: principal)
        var values = try FieldCoding.values(
            from: object.filter {
                ["state", "component_types", "export_control", "product_id", "next_topic_id", "data"].contains($0.key)
            },
            schema: ResourceKind.topics.schema
        )
        values = values.filter { !$0.value.isNull }
        values["name"] = .string(name)
        if let product = values["product_id"]?.stringValue {
            _ = try await api.require(.products, id: product, principal: principal)
        }
        let topic = try await insert(.topics, values, teamID: teamID, principal: principal)
        return DCIRender.one("topic", DCIRender.topic(topic), etag: topic.etag, status: .created)
    }

    // MARK: Components

    @Sendable func listTopicComponents(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let topic = try await api.require(.topics, id: try context.parameters.require("id"), principal: principal)
        return try await api.list(
            .components,
            request,
            principal: principal,
            extra: .equal("topic_id", topic.id),
            parent: topic
        ) {
            $0.map(DCIRender.component)
        }
    }

    @Sendable func listComponents(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        return try await api.list(.components, request, principal: principal) { $0.map(DCIRender.component) }
    }

    @Sendable func getComponent(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let component = try await api.require(
            .components,
            id: try context.parameters.require("id"),
            principal: principal
        )
        return DCIRender.one("component", DCIRender.component(component), etag: component.etag)
    }

    static let componentKeys: Set<String> = [
        "name", "display_name", "title", "message", "canonical_project_name", "version", "url", "uid", "type",
        "topic_id",
        "team_id", "state", "data", "tags", "released_at",
    ]

    /// `POST /components` as `component.create`/`create_v2` send it: `name` defaults to `display_name` and
    /// `display_name` to `name`; `version`, when not given, is read from the name as DCI does (after the last
    /// `:`, `@` or space, or after `RHEL-`/`RHOS-`); the type is lower-cased as DCI does.
    @Sendable func createComponent(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        try api.allow(object, only: Self.componentKeys)
        var missing: [String] = []
        if object["type"]?.stringValue == nil { missing.append("'type' is a required property") }
        if object["topic_id"]?.stringValue == nil { missing.append("'topic_id' is a required property") }
        let name = object["name"]?.stringValue ?? object["display_name"]?.stringValue
        if name?.isEmpty ?? true { missing.append("'name' or 'display_name' is a required property") }
        guard missing.isEmpty, let name, let type = object["type"]?.stringValue,
            let topicID = object["topic_id"]?.stringValue
        else { throw DCIError.malformed(missing) }

        let topic = try await api.require(.topics, id: topicID, principal: principal)
        guard let teamID = topic.groupID, try await mayCreate(in: teamID, principal: principal) else {
            throw DCIError(.unauthorized, "Operation not authorized.")
        }
        let plain = [
            "title", "message", "canonical_project_name", "url", "state", "data", "tags", "released_at", "display_name",
            "version",
        ]
        var values = try FieldCoding.values(
            from: object.filter { plain.contains($0.key) },
            schema: ResourceKind.components.schema
        ).filter { !$0.value.isNull }
        ComponentNaming.fillDefaults(&values, name: name)
        values["name"] = .string(name)
        values["type"] = .string(type.lowercased())
        values["topic_id"] = .string(topic.id)
        if values["released_at"] == nil { values["released_at"] = .timestamp(Timestamp.now()) }
        let component = try await insert(.components, values, teamID: teamID, principal: principal)
        return DCIRender.one("component", DCIRender.component(component), etag: component.etag, status: .created)
    }

    // MARK: Helpers

    /// Stores a topic or component in the team (DCI's own rule of who may, checked before, is stricter than the
    /// catalog's member role); a duplicate is DCI's 409 "A similar resource already exists".
    private func insert(_ kind: ResourceKind, _ values: [String: Value], teamID: String, principal: Principal)
        async throws -> Record
    {
        do {
            return try await api.services.catalog.create(
                kind,
                values,
                groupID: teamID,
                role: .member,
                principal: principal
            )
        } catch let failure as ProctorError where failure.code == .conflict {
            throw DCIError(.conflict, "We are unable to create this resource. A similar resource already exists.")
        }
    }

    /// The team a topic is created in: `team_id` or the caller's first team where it may create.
    private func creatorTeam(_ object: [String: JSONValue], principal: Principal) async throws -> String {
        if let teamID = object["team_id"]?.stringValue {
            guard try await mayCreate(in: teamID, principal: principal) else {
                throw DCIError(.unauthorized, "Operation not authorized.")
            }
            return teamID
        }
        for membership in principal.memberships where try await mayCreate(in: membership.groupID, principal: principal)
        {
            return membership.groupID
        }
        throw DCIError(.unauthorized, "Operation not authorized.")
    }

    /// Team admins (and the site admin) create topics and components; so do feeders of the team.
    private func mayCreate(in teamID: String, principal: Principal) async throws -> Bool {
        if principal.kind == .user { return principal.has(.admin, in: teamID) }
        guard principal.membership(in: teamID) != nil else { return false }
        return try await api.store.get(.remotecis, id: principal.id)?.string("client_type") == "feeder"
    }
}
