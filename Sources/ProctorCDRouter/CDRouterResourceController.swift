import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `packages/`, `devices/`, `configs/`: list and get with CDRouter paging and filters; create, edit, delete.
/// Packages are job definitions (``CDRouterPackages``), devices testbeds, configs configs.
struct CDRouterResourceController {
    enum Resource: String {
        case packages
        case devices
        case configs

        var kind: ResourceKind {
            switch self {
            case .packages: return .definitions
            case .devices: return .testbeds
            case .configs: return .configs
            }
        }

        var noun: String { String(rawValue.dropLast()) }

        var base: Filter? { self == .packages ? CDRouterPackages.filter : nil }
    }

    let api: CDRouterAPI
    let resource: Resource

    var store: any StoreReader { api.store }
    var catalog: CatalogEditor { api.services.catalog }
    var query: CDRouterQuery { CDRouterQuery(api: api, fields: CDRouterQuery.catalogFields(resource.kind)) }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>) {
        let path = resource.rawValue
        group.get(RouterPath(path), use: list)
        group.post(RouterPath(path), use: create)
        group.get(RouterPath("\(path)/:id"), use: get)
        group.patch(RouterPath("\(path)/:id"), use: edit)
        group.delete(RouterPath("\(path)/:id"), use: delete)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        if resource == .configs, request.uri.queryParameters["template"] != nil {
            return CDRouterAPI.data(.object(["contents": .string("")]))
        }
        let (page, paging) = try await query.page(resource.kind, request, base: resource.base, scope: principal.scope)
        let detailed = try CDRouterAPI.flag(request, "detailed")
        var items: [JSONValue] = []
        var lookup = CDRouterLookup(store: store)
        for row in page.items { items.append(try await render(row, detailed: detailed, lookup: &lookup)) }
        return CDRouterAPI.list(items, page: paging, total: page.total ?? items.count)
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let row = try await require(try CDRouterAPI.pathID(context), scope: principal.scope)
        if resource == .configs, request.uri.queryParameters["format"] == "text" {
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: .init(string: row.string("contents") ?? ""))
            )
        }
        var lookup = CDRouterLookup(store: store)
        return CDRouterAPI.data(try await render(row, detailed: true, lookup: &lookup))
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        if let process = request.uri.queryParameters["process"] {
            throw CDRouterError(.badRequest, "process=\(process) is not supported")
        }
        if request.uri.queryParameters["bulk"] != nil {
            throw CDRouterError(.badRequest, "bulk operations on \(resource.rawValue) are not supported")
        }
        let body = try await api.object(request)
        guard let name = body["name"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CDRouterError(.badRequest, "name is required")
        }
        let groupID = try await api.owningGroup(request, principal: principal)
        let values = try await changes(body, existing: nil, groupID: groupID)
        let row = try await catalog.create(resource.kind, values, groupID: groupID, role: .admin, principal: principal)
        var lookup = CDRouterLookup(store: store)
        return CDRouterAPI.data(try await render(row, detailed: true, lookup: &lookup))
    }

    @Sendable func edit(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let existing = try await require(try CDRouterAPI.pathID(context), scope: principal.scope)
        try CatalogEditor.authorize(existing, role: .admin, principal: principal)
        let body = try await api.object(request)
        let values = try await changes(body, existing: existing, groupID: existing.groupID ?? "")
        let row = try await catalog.update(existing, changes: values, role: .admin, principal: principal)
        var lookup = CDRouterLookup(store: store)
        return CDRouterAPI.data(try await render(row, detailed: true, lookup: &lookup))
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let existing = try await require(try CDRouterAPI.pathID(context), scope: principal.scope)
        if resource == .packages {
            // Runs keep their definition: a package with jobs is retired, not removed.
            try await catalog.removeOrRetire(existing, role: .admin, principal: principal)
        } else {
            try await catalog.delete(existing, role: .admin, principal: principal)
        }
        return Response(status: .noContent)
    }

    // MARK: Helpers

    func require(_ id: String, scope: Scope) async throws -> Record {
        guard let row = try await api.references.row(resource.kind, seq: id, scope: scope, within: resource.base) else {
            throw CDRouterError.noSuch(resource.noun)
        }
        return row
    }

    func render(_ row: Record, detailed: Bool, lookup: inout CDRouterLookup) async throws -> JSONValue {
        switch resource {
        case .packages: return try await CDRouterRender.package(row, detailed: detailed, lookup: &lookup)
        case .devices: return CDRouterRender.device(row)
        case .configs: return CDRouterRender.config(row, detailed: detailed)
        }
    }

    static func string(_ body: [String: JSONValue], _ key: String) throws -> String? {
        guard let value = body[key] else { return nil }
        guard let text = value.stringValue else { throw CDRouterError(.badRequest, "\(key) must be a string") }
        return text
    }

    static func strings(_ body: [String: JSONValue], _ key: String) throws -> [String]? {
        guard let value = body[key] else { return nil }
        guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
            throw CDRouterError(.badRequest, "\(key) must be a list of strings")
        }
        return list.compactMap(\.stringValue)
    }

    /// The core fields a create or edit body sets (members left out or null keep their value).
    func changes(_ body: [String: JSONValue], existing: Record?, groupID: String) async throws -> [String: Value] {
        var values: [String: Value] = [:]
        if let name = try Self.string(body, "name") { values["name"] = .string(name) }
        if let tags = try Self.strings(body, "tags") { values["tags"] = .strings(tags) }
        switch resource {
        case .configs:
            if let description = try Self.string(body, "description") { values["description"] = .string(description) }
            if let contents = try Self.string(body, "contents") { values["contents"] = .string(contents) }
        case .devices:
            var topology = existing?["topology"].jsonValue?.objectValue ?? [:]
            var extra = topology["cdrouter"]?.objectValue ?? [:]
            for key in CDRouterRender.deviceStrings {
                if let text = try Self.string(body, key) { extra[key] = .string(text) }
            }
            topology["cdrouter"] = .object(extra)
            values["topology"] = .json(.object(topology))
        case .packages:
            if existing == nil { values["harness"] = .string(CDRouterPackages.harness) }
            if let description = try Self.string(body, "description") { values["description"] = .string(description) }
            var config = existing?["config"].jsonValue?.objectValue ?? [:]
            var settings = config[CDRouterPackages.configKey]?.objectValue ?? [:]
            if let testlist = try Self.strings(body, "testlist") {
                settings["testlist"] = .array(testlist.map(JSONValue.string))
            }
            for key in ["extra_cli_args", "note"] {
                if let text = try Self.string(body, key) { settings[key] = .string(text) }
            }
            if let flag = body["use_as_testlist"] {
                guard case .bool = flag else { throw CDRouterError(.badRequest, "use_as_testlist must be a boolean") }
                settings["use_as_testlist"] = flag
            }
            let scope = Scope.groups([groupID])
            for (field, kind, noun) in [
                ("device_id", ResourceKind.testbeds, "device"), ("config_id", .configs, "config"),
            ] {
                guard let id = try CDRouterAPI.idValue(body[field], field: field) else { continue }
                if id == "0" {
                    settings[field] = nil
                } else {
                    guard let row = try await api.references.row(kind, seq: id, scope: scope) else {
                        throw CDRouterError.noSuch(noun)
                    }
                    settings[field] = .string(row.id)
                }
            }
            config[CDRouterPackages.configKey] = .object(settings)
            values["config"] = .json(.object(config))
        }
        return values
    }
}
