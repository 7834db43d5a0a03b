import Foundation
import ProctorCore
import ProctorHTTPKit

/// Renders core rows as XPRESSO's v2 objects, with the keys and types of the documented examples: jobs with
/// their profiles, profiles with their engine, harness instances and testbeds, bundles, harnesses, engines.
///
/// Referenced rows are read once per answer (a cache per render); a reference to a row that no longer exists
/// is left out rather than failing the answer.
struct XPRESSORender {
    let store: any StoreReader
    private var cache: [String: Record?] = [:]

    init(store: any StoreReader) {
        self.store = store
    }

    // MARK: Jobs and profiles

    /// A job with its profiles (read in one query for every job given).
    mutating func jobs(_ definitions: [Record]) async throws -> [JSONValue] {
        guard !definitions.isEmpty else { return [] }
        let ids = definitions.map(\.id)
        var profiles: [String: [Record]] = [:]
        var query = Query(filter: .predicate(Condition("definition_id", .in, ids)), sort: [SortKey("seq")], limit: 1000)
        while true {
            let page = try await store.list(.profiles, query: query, scope: .everything)
            for row in page.items { profiles[row.string("definition_id") ?? "", default: []].append(row) }
            guard let next = page.nextCursor, !page.items.isEmpty else { break }
            query.cursor = next
        }
        var out: [JSONValue] = []
        for definition in definitions {
            var rendered: [JSONValue] = []
            for profile in profiles[definition.id] ?? [] { rendered.append(try await self.profile(profile)) }
            out.append(job(definition, profiles: rendered))
        }
        return out
    }

    func job(_ row: Record, profiles: [JSONValue]) -> JSONValue {
        let args = Self.list(row, "args").enumerated().map { index, arg in Self.arg(arg, index: index) }
        return .object([
            "id": .string(row.id), "name": .string(row.name ?? ""),
            "harness": .string(Self.harnessName(row.string("harness"))),
            "job_file": text(row, "job_file"), "description": text(row, "description"),
            "support_mailers": text(row, "support_mailers"), "interest_lists": row["interest_lists"].json,
            "profiles": .array(profiles), "args": .array(args),
            "configuration_state": text(row, "configuration_state"), "site": row["site"].json, "bldg": row["bldg"].json,
            "date_created": row["created_at"].json, "deleted": .bool(row.bool("deleted") ?? false),
            "created_by": text(row, "created_by"),
        ])
    }

    mutating func profile(_ row: Record) async throws -> JSONValue {
        var engine: JSONValue = .null
        if let id = row.string("engine_id"), let found = try await lookup(.engines, id) {
            engine = .object(["id": .string(found.id), "name": .string(found.name ?? "")])
        }
        var harnesses: [JSONValue] = []
        for id in row.strings("harness_ids") {
            guard let harness = try await lookup(.harnesses, id) else { continue }
            harnesses.append(
                .object([
                    "id": .string(harness.id), "name": .string(harness.name ?? ""),
                    "harness": .string(Self.harnessName(harness.string("harness"))), "path": text(harness, "path"),
                    "configuration_state": text(harness, "configuration_state"),
                    "operational_state": text(harness, "operational_state"), "site": harness["site"].json,
                    "bldg": harness["bldg"].json, "config": text(harness, "config"),
                ])
            )
        }
        var testbeds: [JSONValue] = []
        for id in row.strings("testbed_ids") {
            guard let testbed = try await lookup(.testbeds, id) else { continue }
            testbeds.append(
                .object([
                    "name": .string(testbed.name ?? ""), "id": .string(testbed.id), "clean": testbed["clean"].json,
                ])
            )
        }
        let jobArgs = Self.list(row, "jobargs")
        return .object([
            "id": .string(row.id), "name": .string(row.name ?? ""),
            "is_default": .bool(row.bool("is_default") ?? false),
            "priority": row["priority"].json, "configuration_state": text(row, "configuration_state"),
            "date_created": row["created_at"].json, "interest_lists": row["interest_lists"].json,
            "engine_instance": engine, "enginefields": .array([]), "harness_instances": .array(harnesses),
            "harnessfields": .array([]), "max_run_time": row["max_run_time"].json,
            "envargs": .array(Self.list(row, "envargs").enumerated().map { Self.envarg($1, index: $0) }),
            "jobargs": .array(jobArgs.enumerated().map { Self.jobarg($1, index: $0) }),
            "testbeds": .array(testbeds),
            "metadata": .array(Self.list(row, "metadata").enumerated().map { Self.metadata($1, index: $0) }),
            "topologies": .array(Self.list(row, "topologies")), "support_mailers": text(row, "support_mailers"),
            "created_by": text(row, "created_by"), "deleted": .bool(row.bool("deleted") ?? false),
        ])
    }

    // MARK: Bundles, harnesses, engines

    mutating func bundle(_ row: Record) async throws -> JSONValue {
        var profiles: [JSONValue] = []
        for id in row.strings("profile_ids") {
            guard let profile = try await lookup(.profiles, id) else { continue }
            profiles.append(try await self.profile(profile))
        }
        return .object([
            "id": .string(row.id), "name": .string(row.name ?? ""), "description": text(row, "description"),
            "deleted": .bool(row.bool("deleted") ?? false), "profiles": .array(profiles),
            "profile_ids": row["profile_ids"].json,
            "created_by": text(row, "created_by"), "date_created": row["created_at"].json,
        ])
    }

    func harness(_ row: Record) -> JSONValue {
        .object([
            "id": .string(row.id), "name": .string(row.name ?? ""),
            "harness": .string(Self.harnessName(row.string("harness"))),
            "path": text(row, "path"), "supporting_path": text(row, "supporting_path"),
            "configuration_state": text(row, "configuration_state"),
            "operational_state": text(row, "operational_state"),
            "site": row["site"].json, "bldg": row["bldg"].json, "created_by": text(row, "created_by"),
            "date_created": row["created_at"].json, "date_modified": row["updated_at"].json,
            "deleted": .bool(row.bool("deleted") ?? false),
        ])
    }

    func engine(_ row: Record) -> JSONValue {
        .object([
            "type": text(row, "type"), "created_by": text(row, "created_by"), "id": .string(row.id),
            "configuration_state": text(row, "configuration_state"), "base_url": row["base_url"].json,
            "site": row["site"].json, "bldg": row["bldg"].json, "deleted": .bool(row.bool("deleted") ?? false),
            "date_created": row["created_at"].json, "date_modified": row["updated_at"].json,
            "operational_state": text(row, "operational_state"), "name": .string(row.name ?? ""),
        ])
    }

    // MARK: Image builds

    /// A Polaris image build as `POST /images/polaris_build` answers it; `data` is the build's facts as the
    /// Python dict text XPRESSO shows.
    static func imageBuild(_ row: Record, group: String) -> JSONValue {
        let data = row["data"].jsonValue ?? .object([:])
        let path = data["nfs_path"] ?? row["storage_path"].json
        return .object([
            "credentials": .null, "uuid": .string(row.id), "name": .string(row.name ?? ""), "tag": row["tag"].json,
            "data": .string(
                pythonRepr(
                    data,
                    order: [
                        "name", "tag", "group", "git_ref", "retention_day", "submitter",
                        "is_nfs_storage", "nfs_path", "is_polaris_image",
                    ]
                )
            ),
            "status": row["status"].json, "group": .string(group), "git_ref": row["git_ref"].json,
            "date_created": row["created_at"].json, "date_updated": row["updated_at"].json, "container_details": .null,
            "yaml_content": .null, "worker_meta": .null, "size": row["size"].json, "virtual_size": row["size"].json,
            "image_id": row["image_id"].json, "jobs": .null, "manifests": .null, "push_url": .null,
            "pin_version": .null,
            "is_nfs_storage": .bool(true), "nfs_path": path, "is_deleted": .bool(false),
            "is_polaris_image": .bool(true),
            "base_ref": row["base_ref"].json, "meta": .null, "type": row["type"].json, "custom": .bool(true),
        ])
    }

    /// Python's `repr` of a JSON object (`{'a': True, 'b': 6}`), keys in `order` first.
    static func pythonRepr(_ value: JSONValue, order: [String] = []) -> String {
        switch value {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s):
            return "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        case .array(let items): return "[" + items.map { pythonRepr($0) }.joined(separator: ", ") + "]"
        case .object(let object):
            let keys = order.filter { object[$0] != nil } + object.keys.filter { !order.contains($0) }.sorted()
            return "{" + keys.map { "'\($0)': \(pythonRepr(object[$0] ?? .null))" }.joined(separator: ", ") + "}"
        }
    }

    // MARK: Helpers

    private mutating func lookup(_ kind: ResourceKind, _ id: String) async throws -> Record? {
        let key = "\(kind.rawValue)/\(id)"
        if let cached = cache[key] { return cached }
        let row = try await store.get(kind, id: id)
        cache[key] = row
        return row
    }

    private func text(_ row: Record, _ field: String) -> JSONValue { .string(row.string(field) ?? "") }

    static func list(_ row: Record, _ field: String) -> [JSONValue] { row[field].jsonValue?.arrayValue ?? [] }

    /// XPRESSO's spelling of the harness types Proctor knows.
    static func harnessName(_ type: String?) -> String {
        switch type?.lowercased() {
        case "pyats": return "pyATS"
        case let other?: return other
        case nil: return ""
        }
    }

    /// An item's own integer `id`, else its position (1-based).
    private static func itemID(_ item: JSONValue, index: Int) -> JSONValue {
        if case .number(let n)? = item["id"] { return .number(n) }
        return .number(Double(index + 1))
    }

    private static func string(_ item: JSONValue, _ key: String, default fallback: String = "") -> JSONValue {
        guard let value = item[key], !value.isNull else { return .string(fallback) }
        return value.stringValue.map(JSONValue.string) ?? .string(value.encodedString())
    }

    private static func flag(_ item: JSONValue, _ key: String) -> JSONValue { .bool(item[key] == .bool(true)) }

    static func arg(_ item: JSONValue, index: Int) -> JSONValue {
        let name = item.stringValue ?? item["name"]?.stringValue ?? ""
        return .object([
            "id": itemID(item, index: index), "name": .string(name),
            "code_name": .string(item["code_name"]?.stringValue ?? name),
            "default_value": item["default_value"] ?? .null,
            "description": string(item, "description"), "immutable": flag(item, "immutable"),
            "flag": flag(item, "flag"),
        ])
    }

    static func envarg(_ item: JSONValue, index: Int) -> JSONValue {
        .object(["id": itemID(item, index: index), "name": string(item, "name"), "value": string(item, "value")])
    }

    static func jobarg(_ item: JSONValue, index: Int) -> JSONValue {
        let name = item.stringValue ?? item["name"]?.stringValue ?? ""
        var jobArg: JSONValue = .null
        if case .number(let n)? = item["job_arg"] { jobArg = .number(n) }
        return .object([
            "id": itemID(item, index: index), "job_arg": jobArg, "name": .string(name), "value": string(item, "value"),
            "flag": flag(item, "flag"), "inherits": flag(item, "inherits"),
        ])
    }

    static func metadata(_ item: JSONValue, index: Int) -> JSONValue {
        .object([
            "id": itemID(item, index: index), "metaclass": string(item, "metaclass"),
            "identifier": string(item, "identifier"),
        ])
    }
}
