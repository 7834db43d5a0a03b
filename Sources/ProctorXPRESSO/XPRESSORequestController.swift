import Foundation
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `POST requests` runs a profile (on some testbeds) or a bundle; `GET requests/:id` follows it.
///
/// A request is a batch of runs launched together (``RunLifecycle/launch(batch:principal:scope:requestID:)``):
/// its id `REQ#######` comes from its first run, its items `REQ#######-n` are its runs in order, one per
/// profile and testbed. The runs are ordinary runs: the native API shows them with their logs and test results.
struct XPRESSORequestController {
    let api: XPRESSOAPI

    var store: any StoreReader { api.store }

    func addRoutes(to group: DoorRoutes) {
        group.post("requests", use: create)
        group.get("requests/:id", use: get)
    }

    /// `{"profile": id}` or `{"bundle": id}`, with optional `testbeds` (names or ids: one item per testbed and
    /// profile; by default each profile's own testbed), `tags`, `label` and `args` (values of the job's declared
    /// args and envargs by name, ``LaunchParameters``; anything else is a 400).
    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let membership = try await api.group(request, principal)
        let body = try await api.object(request)
        let known: Set<String> = ["profile", "bundle", "testbeds", "topologies", "tags", "label", "args"]
        if let unknown = body.keys.sorted().first(where: { !known.contains($0) }) {
            throw XPRESSOError(
                .badRequest,
                "Unknown field '\(unknown)'; valid fields: \(known.sorted().joined(separator: ", "))."
            )
        }
        let profileID = try Self.string(body["profile"], "profile")
        let bundleID = try Self.string(body["bundle"], "bundle")
        guard (profileID == nil) != (bundleID == nil) else {
            throw XPRESSOError(.badRequest, "Give either 'profile' or 'bundle' (one of them).")
        }
        if let topologies = body["topologies"], !topologies.isNull {
            throw XPRESSOError(
                .badRequest,
                body["testbeds"] != nil
                    ? "Give either 'testbeds' or 'topologies', not both."
                    : "'topologies' are not supported; give 'testbeds'."
            )
        }
        let testbeds = try Self.strings(body["testbeds"], "testbeds")
        let tags = try Self.strings(body["tags"], "tags")
        let label = try Self.string(body["label"], "label")
        var args: [String: JSONValue] = [:]
        if let value = body["args"], !value.isNull {
            guard let object = value.objectValue else {
                throw XPRESSOError(.badRequest, "'args' must be an object of values by arg name.")
            }
            args = object
        }
        let scope = Scope.groups([membership.groupID])

        var profiles: [Record] = []
        var labels: [String: String] = [:]
        if let profileID {
            guard profileID.count <= 128, let profile = try await store.get(.profiles, id: profileID, scope: scope)
            else {
                throw XPRESSOError.notFound
            }
            profiles = [profile]
        } else if let bundleID {
            guard bundleID.count <= 128, let bundle = try await store.get(.bundles, id: bundleID, scope: scope) else {
                throw XPRESSOError.notFound
            }
            for id in bundle.strings("profile_ids") {
                if let profile = try await store.get(.profiles, id: id, scope: scope) { profiles.append(profile) }
            }
            guard !profiles.isEmpty else { throw XPRESSOError(.badRequest, "The bundle has no profiles to run.") }
            labels["xpresso_bundle"] = bundleID
        }
        if let label { labels["xpresso_label"] = label }
        guard profiles.count * max(1, testbeds.count) <= 100 else {
            throw XPRESSOError(.badRequest, "A request runs at most 100 items.")
        }
        var launches: [LaunchRequest] = []
        for profile in profiles {
            let definition = profile.string("definition_id") ?? ""
            for testbed in testbeds.isEmpty ? [nil] : testbeds.map(Optional.some) {
                launches.append(
                    LaunchRequest(
                        definition: definition,
                        profile: profile.id,
                        testbed: testbed,
                        parameters: args,
                        tags: tags,
                        labels: labels
                    )
                )
            }
        }
        let runs = try await api.services.lifecycle.launch(batch: launches, principal: principal, scope: scope) {
            Self.requestID(seq: $0)
        }
        return XPRESSOAPI.json(try await render(runs.map(\.record), group: membership.groupName), status: .created)
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        guard id.count <= 32, id.hasPrefix("REQ"), id.dropFirst(3).allSatisfy(\.isNumber) else {
            throw XPRESSOError.notFound
        }
        let page = try await store.list(
            .runs,
            query: Query(filter: .equal("request_id", id), sort: [SortKey("seq")], limit: 100),
            scope: principal.scope
        )
        guard let first = page.items.first else { throw XPRESSOError.notFound }
        let group = try await store.get(.groups, id: first.groupID ?? "")
        return XPRESSOAPI.json(try await render(page.items, group: group?.name ?? ""))
    }

    /// `REQ` and at least seven digits.
    static func requestID(seq: Int64) -> String {
        let digits = String(seq)
        return "REQ" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    // MARK: Rendering

    /// A request: its state and result rolled up from its items.
    func render(_ runs: [Record], group: String) async throws -> JSONValue {
        let requestID = runs.first?.string("request_id") ?? ""
        var names: [String: String] = [:]
        var items: [JSONValue] = []
        for (index, run) in runs.enumerated() {
            let definition = run.string("definition_id") ?? ""
            if names[definition] == nil {
                names[definition] = try await store.get(.definitions, id: definition)?.name ?? ""
            }
            let status = RunStatus(rawValue: run.string("status") ?? "") ?? .new
            items.append(
                .object([
                    "id": .string("\(requestID)-\(index + 1)"), "run_id": .string(run.id),
                    "run_url": .string("/api/v1/runs/\(run.id)"),
                    "job": .string(definition), "job_name": .string(names[definition] ?? ""),
                    "profile": run["profile_id"].json,
                    "testbed": run["testbed_id"].json, "state": .string(Self.itemState(status)),
                    "result": Self.result(status).map(JSONValue.string) ?? .null,
                    "date_started": run["started_at"].json, "date_finished": run["finished_at"].json,
                ])
            )
        }
        let statuses = runs.map { RunStatus(rawValue: $0.string("status") ?? "") ?? .new }
        let labels = runs.first?["labels"].jsonValue
        return .object([
            "request_id": .string(requestID), "request_url": .string("/xpresso/api/v2/requests/\(requestID)"),
            "state": .string(Self.requestState(statuses)),
            "result": Self.rolledUp(statuses).map(JSONValue.string) ?? .null,
            "group": .string(group), "profile": runs.count == 1 ? (runs.first?["profile_id"].json ?? .null) : .null,
            "bundle": labels?["xpresso_bundle"] ?? .null, "label": labels?["xpresso_label"] ?? .null,
            "tags": runs.first?["tags"].json ?? .array([]), "date_created": runs.first?["created_at"].json ?? .null,
            "items": .array(items),
        ])
    }

    static func itemState(_ status: RunStatus) -> String {
        switch status {
        case .new: return "QUEUED"
        case .preRun: return "PREPARING"
        case .running, .postRun: return "RUNNING"
        default: return "COMPLETED"
        }
    }

    static func requestState(_ statuses: [RunStatus]) -> String {
        if statuses.allSatisfy(\.isTerminal) { return "COMPLETED" }
        if statuses.allSatisfy({ $0 == .new || $0 == .preRun }) { return "PREPARING" }
        return "RUNNING"
    }

    static func result(_ status: RunStatus) -> String? {
        switch status {
        case .success: return "PASSED"
        case .failure: return "FAILED"
        case .error: return "ERRORED"
        case .killed: return "ABORTED"
        default: return nil
        }
    }

    /// The worst item result once every item ended (pyATS's roll-up order: aborted, errored, failed, passed).
    static func rolledUp(_ statuses: [RunStatus]) -> String? {
        guard !statuses.isEmpty, statuses.allSatisfy(\.isTerminal) else { return nil }
        for worst in [RunStatus.killed, .error, .failure] where statuses.contains(worst) { return result(worst) }
        return result(.success)
    }

    // MARK: Body values

    static func string(_ value: JSONValue?, _ field: String) throws -> String? {
        guard let value, !value.isNull else { return nil }
        guard let text = value.stringValue, !text.isEmpty else {
            throw XPRESSOError(.badRequest, "'\(field)' must be a string.")
        }
        return text
    }

    static func strings(_ value: JSONValue?, _ field: String) throws -> [String] {
        guard let value, !value.isNull else { return [] }
        guard let list = value.arrayValue, list.count <= 100 else {
            throw XPRESSOError(.badRequest, "'\(field)' must be a list of at most 100 strings.")
        }
        return try list.map {
            guard let text = $0.stringValue, !text.isEmpty, text.count <= 256 else {
                throw XPRESSOError(.badRequest, "'\(field)' must be a list of strings.")
            }
            return text
        }
    }
}
