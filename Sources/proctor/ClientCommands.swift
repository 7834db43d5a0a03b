import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ProctorCore

/// Where the client commands find the server and the token: flags, then PROCTOR_URL / PROCTOR_TOKEN, then
/// what `proctor login` saved in ~/.config/proctor/credentials.json.
struct ClientOptions: ParsableArguments {
    @Option(help: "The server's URL (or PROCTOR_URL, or the one `proctor login` saved).")
    var server: String?

    @Option(help: "An API token (or PROCTOR_TOKEN, or the one `proctor login` saved).")
    var token: String?

    @Option(help: "table (the default), json (the API's answer) or yaml (the same as YAML).")
    var output: OutputFormat = .table

    static var credentialsFile: URL {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".config/proctor/credentials.json")
    }

    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let saved = (try? Data(contentsOf: Self.credentialsFile)).flatMap { try? JSONValue.decode($0) }
        guard let server = server ?? environment["PROCTOR_URL"] ?? saved?["server"]?.stringValue else {
            throw CleanExit.message("say which server: --server URL, PROCTOR_URL, or `proctor login` first")
        }
        guard let token = token ?? environment["PROCTOR_TOKEN"] ?? saved?["token"]?.stringValue else {
            throw CleanExit.message("give a token: --token T, PROCTOR_TOKEN, or `proctor login` first")
        }
        return APIClient(server: server, token: token, http: APIClient.commandLineHTTP)
    }
}

/// Runs a client command body so that a server's error is one line and exit status 1, and a server that cannot
/// be reached is one line `proctor: cannot reach URL (reason)` and exit status ``ClientExit/unreachable``.
func clientCommand(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as APIClient.ServerError {
        throw CleanExit.message("\(error.message) (HTTP \(error.status))")
    } catch let error as APIClient.Unreachable {
        throw ClientExit.saying(error)
    }
}

/// The exit statuses of the client commands that scripts test (documented in README.md, "The command line").
enum ClientExit {
    /// The server could not be reached (refused, no connection within ``APIClient/connectSeconds``, unknown host).
    static let unreachable: Int32 = 3

    /// Says on stderr that the server cannot be reached, in one line, and gives the exit status to throw.
    static func saying(_ error: APIClient.Unreachable) -> ExitCode {
        FileHandle.standardError.write(Data("proctor: \(error.description)\n".utf8))
        return ExitCode(unreachable)
    }

    /// A finished run's status as `runs launch --wait` and `logs --follow` report it, as Jenkins CLI `build -s`
    /// and `lavacli jobs wait` do: 0 success, 1 failure or error, 2 killed (cancelled or timed out).
    static func code(for status: RunStatus) -> Int32 {
        switch status {
        case .success: return 0
        case .killed: return 2
        default: return 1
        }
    }
}

/// Reads a run's console through the log's long-poll (`GET /runs/{id}/log?wait=20`), which answers as soon as
/// the console grows or the run ends, so following a run costs no polling interval.
enum RunConsole {
    /// Reads the console from its start to its end (`follow`: until the run has ended and its whole console
    /// is read), printing it when `printing`. Without printing only one byte past the end is asked for each time.
    /// Returns the run's status at the last answer.
    static func read(_ api: APIClient, runID: String, follow: Bool, printing: Bool) async throws -> RunStatus? {
        var offset: Int64 = 0
        while true {
            let wait = follow ? "&wait=20" : ""
            let limit = printing ? "" : "&limit=1"
            let reply = try await api.expect(
                .GET,
                "/api/v1/runs/\(queryEscape(runID))/log?offset=\(offset)\(wait)\(limit)",
                timeout: .seconds(60)
            )
            if printing { FileHandle.standardOutput.write(Data(reply.body.readableBytesView)) }
            let next = Int64(reply.headers.first(name: "Proctor-Log-Next") ?? "") ?? offset
            let end = Int64(reply.headers.first(name: "Proctor-Log-End") ?? "") ?? next
            let status = RunStatus(rawValue: reply.headers.first(name: "Proctor-Run-Status") ?? "")
            offset = printing ? next : end
            if offset < end { continue }
            if !follow || status?.isTerminal == true { return status }
        }
    }

    /// Follows a run to its end (printing its console when `printing`) and returns the finished run.
    static func awaitEnd(_ api: APIClient, runID: String, printing: Bool) async throws -> JSONValue {
        _ = try await read(api, runID: runID, follow: true, printing: printing)
        return try await api.expect(.GET, "/api/v1/runs/\(queryEscape(runID))").json ?? .null
    }

    /// The line that says how a run ended, and the exit status for it.
    static func ending(_ run: JSONValue, runID: String) -> (line: String, code: Int32) {
        let status = RunStatus(rawValue: run["status"]?.stringValue ?? "") ?? .error
        let reason = run["reason"]?.stringValue.map { ": \($0)" } ?? ""
        return ("run \(runID) ended \(status.rawValue)\(reason)", ClientExit.code(for: status))
    }
}

extension Proctor {
    struct Login: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log in with a name and password; saves the server and a token for the other commands."
        )

        @Option(help: "The server's URL (or PROCTOR_URL).")
        var server: String?

        @Option(help: "Your user name.")
        var name: String

        @Option(
            help:
                "Your password (or PROCTOR_PASSWORD); when absent it is asked for without echo on a terminal, or read as one line from stdin."
        )
        var password: String?

        func run() async throws {
            try await clientCommand {
                let environment = ProcessInfo.processInfo.environment
                guard let server = server ?? environment["PROCTOR_URL"] else {
                    throw CleanExit.message("say which server: --server URL or PROCTOR_URL")
                }
                guard
                    let secret = password ?? environment["PROCTOR_PASSWORD"]
                        ?? PasswordPrompt.read(prompt: "Password for \(name): "),
                    !secret.isEmpty
                else {
                    throw CleanExit.message("give a password: --password, PROCTOR_PASSWORD or on stdin")
                }
                let client = APIClient(server: server, token: "", http: APIClient.commandLineHTTP)
                let reply = try await client.expect(
                    .POST,
                    "/api/v1/auth/login",
                    json: .object(["name": .string(name), "password": .string(secret)])
                )
                guard let token = reply.json?["token"]?.stringValue else {
                    throw CleanExit.message("the server sent no token")
                }
                let file = ClientOptions.credentialsFile
                try FileManager.default.createDirectory(
                    at: file.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                try Data(JSONValue.object(["server": .string(server), "token": .string(token)]).encodedString().utf8)
                    .write(to: file)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
                print("logged in to \(server) as \(name); token saved in \(file.path)")
            }
        }
    }

    /// `proctor whoami`: who the token belongs to, and its groups.
    struct Whoami: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show whom the token belongs to: the user, whether a site admin, the groups and roles."
        )

        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await clientCommand {
                let me = try await client.client().expect(.GET, "/api/v1/whoami").json ?? .null
                client.output.print(me) {
                    printTable([me], columns: ["name", "id", "site_admin"])
                    print("")
                    printTable(me["groups"]?.arrayValue ?? [], columns: ["name", "id", "role", "permissions"])
                }
            }
        }
    }

    /// `proctor get <kind> [id]`: any resource of the native API.
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List or show resources (definitions, testbeds, runs, …)."
        )

        @Argument(help: "The kind: \(NativeKinds.all.joined(separator: ", ")).")
        var kind: String

        @Argument(help: "An id, to show one.")
        var id: String?

        @Option(help: "A filter in the `field op value` grammar (repeatable).")
        var filter: [String] = []

        @Option(help: "Sort keys, e.g. -created_at,name.")
        var sort: String?

        @Option(help: "Page size.")
        var limit = 50

        @OptionGroup var client: ClientOptions

        func validate() throws {
            guard NativeKinds.all.contains(kind) else {
                throw ValidationError("unknown kind '\(kind)'; kinds: \(NativeKinds.all.joined(separator: ", "))")
            }
        }

        func run() async throws {
            try await clientCommand {
                let api = try client.client()
                if let id {
                    let reply = try await api.expect(.GET, "/api/v1/\(kind)/\(queryEscape(id))")
                    let item = reply.json ?? .null
                    client.output.print(item) { printFields(item) }
                    return
                }
                var query = ["limit=\(limit)"] + filter.map { "filter=\(queryEscape($0))" }
                if let sort { query.append("sort=\(queryEscape(sort))") }
                let reply = try await api.expect(.GET, "/api/v1/\(kind)?" + query.joined(separator: "&"))
                let items = reply.json?["items"]?.arrayValue ?? []
                printRows(items, columns: NativeKinds.columns(kind), format: client.output, raw: reply.json ?? .null)
            }
        }
    }

    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, show, launch and cancel runs.",
            subcommands: [List.self, Show.self, Launch.self, Cancel.self]
        )

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
            @Option(help: "Only runs in this status.") var status: String?
            @Option(help: "A filter in the `field op value` grammar (repeatable).") var filter: [String] = []
            @Option(help: "Page size.") var limit = 25
            @OptionGroup var client: ClientOptions

            func run() async throws {
                try await clientCommand {
                    var filters = filter
                    if let status { filters.append("status=\(status)") }
                    let query = (["limit=\(limit)", "sort=-created_at"] + filters.map { "filter=\(queryEscape($0))" })
                        .joined(separator: "&")
                    let reply = try await client.client().expect(.GET, "/api/v1/runs?" + query)
                    printRows(
                        reply.json?["items"]?.arrayValue ?? [],
                        columns: NativeKinds.columns("runs"),
                        format: client.output,
                        raw: reply.json ?? .null
                    )
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "get", abstract: "Show one run.")
            @Argument(help: "The run's id.") var id: String
            @OptionGroup var client: ClientOptions

            func run() async throws {
                try await clientCommand {
                    let reply = try await client.client().expect(.GET, "/api/v1/runs/\(queryEscape(id))")
                    printRows(
                        [reply.json ?? .null],
                        columns: NativeKinds.columns("runs") + ["reason"],
                        format: client.output,
                        raw: reply.json ?? .null
                    )
                }
            }
        }

        struct Launch: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Launch a job definition (by name or id).")
            @Argument(help: "The job definition.") var definition: String
            @Option(help: "The profile (default: the job's default profile).") var profile: String?
            @Option(help: "The testbed (default: the profile's first).") var testbed: String?
            @Option(help: "A tag (repeatable).") var tag: [String] = []
            @Option(help: "A label key=value (repeatable).") var label: [String] = []
            @Flag(help: "Wait for the run to end; exit 0 on success, 1 on failure or error, 2 when killed.")
            var wait = false
            @Flag(name: [.short, .long], help: "Print the run's console while it runs (implies --wait).")
            var follow = false
            @OptionGroup var client: ClientOptions

            func run() async throws {
                try await clientCommand {
                    var body: [String: JSONValue] = [
                        "definition": .string(definition), "tags": .array(tag.map(JSONValue.string)),
                    ]
                    if let profile { body["profile"] = .string(profile) }
                    if let testbed { body["testbed"] = .string(testbed) }
                    var labels: [String: JSONValue] = [:]
                    for item in label {
                        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                        guard parts.count == 2 else { throw CleanExit.message("a label is key=value, not '\(item)'") }
                        labels[parts[0]] = .string(parts[1])
                    }
                    body["labels"] = .object(labels)
                    let api = try client.client()
                    let reply = try await api.expect(.POST, "/api/v1/runs", json: .object(body))
                    let id = reply.json?["id"]?.stringValue ?? ""
                    guard wait || follow else {
                        client.output.print(reply.json ?? .null) { print(id) }
                        return
                    }
                    // The id first, so that a script can cancel or look at the run while it waits.
                    if client.output == .table { writeAtOnce(id + "\n") }
                    let run = try await RunConsole.awaitEnd(api, runID: id, printing: follow)
                    switch client.output {
                    case .table: break
                    case .json: writeAtOnce(run.prettyString() + "\n")
                    case .yaml: writeAtOnce(run.yamlString())
                    }
                    let ending = RunConsole.ending(run, runID: id)
                    FileHandle.standardError.write(Data((ending.line + "\n").utf8))
                    if ending.code != 0 { throw ExitCode(ending.code) }
                }
            }
        }

        struct Cancel: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Cancel a run.")
            @Argument(help: "The run's id.") var id: String
            @OptionGroup var client: ClientOptions

            func run() async throws {
                try await clientCommand {
                    let reply = try await client.client().expect(.POST, "/api/v1/runs/\(queryEscape(id))/cancel")
                    print(
                        "\(id): \(reply.json?["status"]?.stringValue ?? "?")\(reply.json?["cancel_requested"] == .bool(true) ? " (stopping)" : "")"
                    )
                }
            }
        }
    }

    /// `proctor logs RUN [-f]`: a run's console.
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print a run's console; -f/--follow keeps printing until it ends, then exits as `runs launch --wait` does."
        )

        @Argument(help: "The run's id.") var id: String
        @Flag(
            name: [.short, .long],
            help: "Keep printing while the run runs; exit 0 on success, 1 on failure or error, 2 when killed."
        )
        var follow = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await clientCommand {
                let api = try client.client()
                let status = try await RunConsole.read(api, runID: id, follow: follow, printing: true)
                guard follow, let status else { return }
                let code = ClientExit.code(for: status)
                if code != 0 { throw ExitCode(code) }
            }
        }
    }
}

/// The native API's resource kinds and the columns the table output shows for each.
enum NativeKinds {
    static let all = [
        "groups", "harnesses", "engines", "agents", "testbeds", "configs", "products", "topics", "components",
        "definitions",
        "profiles", "bundles", "remotecis", "runs", "image_builds", "tokens", "users",
    ]

    static func columns(_ kind: String) -> [String] {
        switch kind {
        case "runs":
            return ["id", "name", "status", "executor", "tests_passed", "tests_failed", "created_at", "duration"]
        case "definitions": return ["id", "name", "harness", "job_file"]
        case "agents": return ["id", "name", "labels", "state", "last_seen_at"]
        case "tokens": return ["id", "name", "prefix", "expires_at", "revoked"]
        case "profiles": return ["id", "name", "definition_id", "priority", "max_run_time"]
        default: return ["id", "name", "created_at"]
        }
    }
}
