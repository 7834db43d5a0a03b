import Foundation
import ProctorCore
import ProctorHTTPKit

/// Which definitions are CDRouter packages: the `cdrouter` harness (which runs `cdrouter-cli`), or tagged
/// `cdrouter` (packages of another harness, e.g. a shell script writing JUnit).
enum CDRouterPackages {
    static let harness = "cdrouter"
    /// Where a package keeps its CDRouter-only fields inside the definition's `config`.
    static let configKey = "cdrouter_package"

    static let filter: Filter = .and([
        .or([.equal("harness", harness), .predicate(Condition("tags", .arrayContains, [harness]))]),
        .predicate(Condition("deleted", .notEqual, "true")),
    ])

    static func settings(_ definition: Record) -> [String: JSONValue] {
        definition["config"].jsonValue?[configKey]?.objectValue ?? [:]
    }
}

/// Reads the rows runs refer to, once per request.
struct CDRouterLookup {
    let store: any StoreReader
    private var rows: [String: Record?] = [:]

    init(store: any StoreReader) {
        self.store = store
    }

    mutating func row(_ kind: ResourceKind, _ id: String?) async throws -> Record? {
        guard let id, !id.isEmpty else { return nil }
        let key = "\(kind.rawValue)/\(id)"
        if let cached = rows[key] { return cached }
        let row = try await store.get(kind, id: id)
        rows[key] = row
        return row
    }
}

/// Core rows as CDRouter JSON: ids are strings of `seq`, times RFC 3339 with nanoseconds, and a field the client
/// does not allow to be null is left out rather than sent as null.
enum CDRouterRender {
    /// Job status from run status.
    static func jobStatus(_ run: Record) -> String {
        switch RunStatus(rawValue: run.string("status") ?? "") ?? .new {
        case .new: return "pending"
        case .preRun, .running, .postRun: return "running"
        case .success, .failure: return "completed"
        case .killed: return "stopped"
        case .error: return "error"
        }
    }

    /// A result exists once an executor picked the run up.
    static func hasResult(_ run: Record) -> Bool { (run.int("attempts") ?? 0) > 0 }

    /// Runs that have a result.
    static let resultFilter: Filter = .predicate(Condition("attempts", .greater, "0"))

    static func seqString(_ record: Record?) -> JSONValue { .string(String(record?.seq ?? 0)) }

    /// The job options the client sent, as stored on the run.
    static func options(_ run: Record) -> JSONValue {
        var options = run["options"].jsonValue?["cdrouter"]?.objectValue ?? [:]
        for key in ["begin_at", "end_at", "extra_cli_args"] where options[key]?.stringValue == nil {
            options[key] = .string("")
        }
        if options["tags"]?.arrayValue == nil { options["tags"] = .array(run.strings("tags").map(JSONValue.string)) }
        for key in ["skip_tests", "testvars"] where options[key]?.arrayValue == nil { options[key] = nil }
        return .object(options)
    }

    /// A testbed's interfaces as CDRouter interfaces (`value`, `is_wireless`, `is_ics`).
    static func interfaces(_ testbed: Record?) -> [JSONValue] {
        guard let items = testbed?["interfaces"].jsonValue?.arrayValue else { return [] }
        return items.compactMap { item -> JSONValue? in
            let value = item["value"]?.stringValue ?? item["name"]?.stringValue
            guard let value else { return nil }
            return .object([
                "value": .string(value),
                "is_wireless": .bool(item["is_wireless"] == .bool(true)),
                "is_ics": .bool(item["is_ics"] == .bool(true)),
            ])
        }
    }

    static func job(_ run: Record, detailed: Bool, lookup: inout CDRouterLookup) async throws -> JSONValue {
        let definition = try await lookup.row(.definitions, run.string("definition_id"))
        let testbed = try await lookup.row(.testbeds, run.string("testbed_id"))
        let config = try await lookup.row(.configs, run.string("config_id"))
        let user = try await lookup.row(.users, run.string("launched_by"))
        let status = jobStatus(run)
        var job: [String: JSONValue] = [
            "id": CDRouterAPI.id(run),
            "active": .bool(status == "running"),
            "status": .string(status),
            "package_id": seqString(definition),
            "package_name": .string(definition?.name ?? run.name ?? ""),
            "device_id": seqString(testbed),
            "device_name": .string(testbed?.name ?? ""),
            "config_id": seqString(config),
            "config_name": .string(config?.name ?? ""),
            "user_id": seqString(user),
            "automatic": .bool(false),
        ]
        if hasResult(run) { job["result_id"] = CDRouterAPI.id(run) }
        job["created"] = CDRouterAPI.time(run, "created_at")
        job["updated"] = CDRouterAPI.time(run, "updated_at")
        job["run_at"] = CDRouterAPI.time(run, "run_at")
        if detailed {
            let runOptions = run["options"].jsonValue?.objectValue ?? [:]
            let interfaces =
                (try? CDRouterInterfaces.interfaces(testbed: testbed, config: config, runOptions: runOptions))
                ?? interfaces(testbed)
            job["options"] = options(run)
            job["interfaces"] = .array(interfaces)
            job["interface_names"] = .array(interfaces.compactMap { $0["value"] })
            job["uses_wireless"] = .bool(interfaces.contains { $0["is_wireless"] == .bool(true) })
            let ics = interfaces.first { $0["is_ics"] == .bool(true) }
            job["uses_ics"] = .bool(ics != nil)
            if let name = ics?["value"] { job["ics_interface_name"] = name }
        }
        return .object(job)
    }

    /// Result status: running while executing or queued again, else the job's final word.
    static func resultStatus(_ run: Record) -> String {
        let status = jobStatus(run)
        return status == "pending" ? "running" : status
    }

    static func result(_ run: Record, detailed: Bool, lookup: inout CDRouterLookup) async throws -> JSONValue {
        let definition = try await lookup.row(.definitions, run.string("definition_id"))
        let testbed = try await lookup.row(.testbeds, run.string("testbed_id"))
        let config = try await lookup.row(.configs, run.string("config_id"))
        let user = try await lookup.row(.users, run.string("launched_by"))
        let status = resultStatus(run)
        let failed = (run.int("tests_failed") ?? 0) + (run.int("tests_errored") ?? 0)
        let words: String
        switch RunStatus(rawValue: run.string("status") ?? "") ?? .new {
        case .success: words = "The package completed successfully"
        case .failure: words = "\(failed) test\(failed == 1 ? "" : "s") failed"
        case .killed: words = "The package was stopped"
        case .error: words = "The package could not run: \(run.string("reason") ?? "error")"
        default: words = "The package is running"
        }
        var result: [String: JSONValue] = [
            "id": CDRouterAPI.id(run),
            "locked": .bool(false),
            "result": .string(words),
            "active": .bool(status == "running"),
            "status": .string(status),
            "loops": .number(1),
            "tests": .number(Double(run.int("tests_total") ?? 0)),
            "pass": .number(Double(run.int("tests_passed") ?? 0)),
            "fail": .number(Double(failed)),
            "alerts": .number(0),
            "duration": .number((run["duration"].doubleValue ?? 0).rounded(.down)),
            "size_on_disk": .number(0),
            "starred": .bool(false),
            "archived": .bool(false),
            "result_dir": .string(""),
            "agent_name": .string(run.string("claimed_by") ?? run.string("executor") ?? ""),
            "package_name": .string(definition?.name ?? run.name ?? ""),
            "device_name": .string(testbed?.name ?? ""),
            "config_name": .string(config?.name ?? ""),
            "package_id": seqString(definition),
            "device_id": seqString(testbed),
            "config_id": seqString(config),
            "user_id": seqString(user),
            "note": .string(run.string("comment") ?? ""),
            "tags": .array(run.strings("tags").map(JSONValue.string)),
        ]
        result["created"] = CDRouterAPI.time(run, "started_at") ?? CDRouterAPI.time(run, "created_at")
        result["updated"] = CDRouterAPI.time(run, "updated_at")
        if detailed {
            result["options"] = options(run)
            result["features"] = .object([:])
            result["interfaces"] = .array(interfaces(testbed))
            if let reason = run.string("reason") { result["build_info"] = .string(reason) }
        }
        return .object(result)
    }

    /// A test result: CDRouter's pass/fail/fatal/skipped from passed/failed/error/skipped.
    static func test(_ row: Record, index: Int?) -> JSONValue {
        let result: String
        switch row.string("status") ?? "" {
        case "passed": result = "pass"
        case "failed": result = "fail"
        case "error": result = "fatal"
        case "skipped": result = "skipped"
        default: result = row.string("status") ?? "pending"
        }
        var test: [String: JSONValue] = [
            "id": CDRouterAPI.id(row),
            "seq": .string(String(index ?? Int(row.seq))),
            "loop": .string("1"),
            "active": .bool(false),
            "result": .string(result),
            "alerts": .number(0),
            "retries": .number(0),
            "duration": .number((row["time"].doubleValue ?? 0).rounded(.down)),
            "flagged": .bool(false),
            "name": .string(row.name ?? ""),
            "description": .string(
                [row.string("suite"), row.string("classname")].compactMap { $0 }.filter { !$0.isEmpty }.joined(
                    separator: " / "
                )
            ),
            "skip_name": .string(""),
            "skip_reason": .string(result == "skipped" ? row.string("message") ?? "" : ""),
            "log": .string(row.string("message") ?? ""),
            "note": .string(""),
        ]
        test["started"] = CDRouterAPI.time(row, "created_at")
        return .object(test)
    }

    static func package(_ definition: Record, detailed: Bool, lookup: inout CDRouterLookup) async throws -> JSONValue {
        let settings = CDRouterPackages.settings(definition)
        let testbed = try await lookup.row(.testbeds, settings["device_id"]?.stringValue)
        let config = try await lookup.row(.configs, settings["config_id"]?.stringValue)
        let testlist = settings["testlist"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var package: [String: JSONValue] = [
            "id": CDRouterAPI.id(definition),
            "name": .string(definition.name ?? ""),
            "description": .string(definition.string("description") ?? ""),
            "locked": .bool(false),
            "test_count": .string(String(testlist.count)),
            "testlist": .array(testlist.map(JSONValue.string)),
            "extra_cli_args": .string(settings["extra_cli_args"]?.stringValue ?? ""),
            "device_id": seqString(testbed),
            "config_id": seqString(config),
            "tags": .array(definition.strings("tags").map(JSONValue.string)),
            "use_as_testlist": .bool(settings["use_as_testlist"] == .bool(true)),
        ]
        if let note = settings["note"]?.stringValue { package["note"] = .string(note) }
        package["created"] = CDRouterAPI.time(definition, "created_at")
        package["updated"] = CDRouterAPI.time(definition, "updated_at")
        if detailed { package["interfaces"] = .array(interfaces(testbed)) }
        return .object(package)
    }

    /// Device string fields kept in the testbed's `topology.cdrouter`.
    static let deviceStrings = [
        "default_ip", "default_login", "default_password", "location", "device_category", "manufacturer",
        "manufacturer_oui", "model_name", "model_number", "description", "product_class", "serial_number",
        "hardware_version", "software_version", "provisioning_code", "note",
    ]

    static func device(_ testbed: Record) -> JSONValue {
        var device: [String: JSONValue] = [
            "id": CDRouterAPI.id(testbed),
            "name": .string(testbed.name ?? ""),
            "locked": .bool(false),
            "tags": .array(testbed.strings("tags").map(JSONValue.string)),
        ]
        let extra = testbed["topology"].jsonValue?["cdrouter"]?.objectValue ?? [:]
        for key in deviceStrings { device[key] = .string(extra[key]?.stringValue ?? "") }
        device["created"] = CDRouterAPI.time(testbed, "created_at")
        device["updated"] = CDRouterAPI.time(testbed, "updated_at")
        return .object(device)
    }

    static func config(_ config: Record, detailed: Bool) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": CDRouterAPI.id(config),
            "name": .string(config.name ?? ""),
            "description": .string(config.string("description") ?? ""),
            "locked": .bool(false),
            "tags": .array(config.strings("tags").map(JSONValue.string)),
            "note": .string(""),
        ]
        if detailed { object["contents"] = .string(config.string("contents") ?? "") }
        object["created"] = CDRouterAPI.time(config, "created_at")
        object["updated"] = CDRouterAPI.time(config, "updated_at")
        return .object(object)
    }

    static func user(_ user: Record, token: String? = nil) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": CDRouterAPI.id(user),
            "admin": .bool(user.bool("is_site_admin") == true),
            "disabled": .bool(user.string("state") != "active"),
            "name": .string(user.name ?? ""),
            "description": .string(user.string("fullname") ?? ""),
            "locked": .bool(false),
        ]
        if let token { object["token"] = .string(token) }
        object["created"] = CDRouterAPI.time(user, "created_at")
        object["updated"] = CDRouterAPI.time(user, "updated_at")
        return .object(object)
    }
}
