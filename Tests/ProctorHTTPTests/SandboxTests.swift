import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorExec
import ProctorHTTP
import ProctorHTTPKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The execution trust boundary, tried as a hostile lab member would: a launch cannot become code, a job sees
/// no secret of the server and nothing of its data directory, and no process of a run outlives it. Real
/// processes in real bubblewrap sandboxes, executed by the local executor of a live server.
@Suite(.serialized) struct SandboxTests {
    static let memberToken = "pt_sandbox_member_token_000000001"
    static let groupAdminToken = "pt_sandbox_groupadmin_token_0001"
    /// Put in this process's environment, which is the server's (under a name of its own and as the object
    /// store's credentials): no job may print it.
    static let secret = "pt_server_secret_\(UUID().uuidString)"

    static func lab(dataDirectory: String, escape: String) -> String {
        // The spy is a group admin's job: even the code a group admin chooses runs without the server's secrets.
        let spy = [
            "echo uid=$(id -u)", "env | sort", "echo DATA:; ls -A '\(dataDirectory)' 2>&1",
            "echo SQLITE:; head -c 15 '\(dataDirectory)/proctor.sqlite' 2>&1; echo",
            "echo ESCAPE:; (echo x > '\(escape)') 2>&1 && echo wrote-outside",
            "echo PROCS:; ls /proc | grep -c '^[0-9]'",
            "echo x > here.txt && echo wrote-workdir",
        ].joined(separator: "; ")
        let stubborn = #"trap '' TERM; setsid sh -c \"trap '' TERM; exec sleep 4242.1\" & sleep 4242.2 & wait"#
        let lingering = "nohup sleep 4242.3 >/dev/null 2>&1 & setsid sleep 4242.4 >/dev/null 2>&1 & echo leaving"
        return """
            {"groups": [{"name": "ga"}, {"name": "gb"}],
             "users": [{"name": "mallory", "password": "mallory-password", "groups": {"ga": "member"}},
                       {"name": "gina", "password": "gina-password", "groups": {"ga": "admin"}}],
             "tokens": [{"user": "mallory", "name": "t", "value": "\(memberToken)"},
                        {"user": "gina", "name": "t", "value": "\(groupAdminToken)"}],
             "engines": [{"group": "ga", "name": "local", "type": "local"}],
             "definitions": [
               {"group": "ga", "name": "harmless", "harness": "shell", "job_file": "echo hello $GREETING",
                "args": [{"name": "--level", "code_name": "level"}, {"name": "--mode", "immutable": true}],
                "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local",
                              "envargs": [{"name": "GREETING", "value": "hi"}]}]},
               {"group": "ga", "name": "spy", "harness": "shell", "job_file": "\(spy)",
                "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local"}]},
               {"group": "ga", "name": "stubborn", "harness": "shell", "job_file": "\(stubborn)",
                "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local", "max_run_time": 30}]},
               {"group": "ga", "name": "lingering", "harness": "shell", "job_file": "\(lingering)",
                "profiles": [{"name": "DEFAULT", "is_default": true, "engine": "local"}]}]}
            """
    }

    func withLab(_ body: @Sendable (any TestClientProtocol, _ escape: String) async throws -> Void)
        async throws
    {
        setenv("PROCTOR_SANDBOX_TEST_SECRET", Self.secret, 1)
        // The object store's credentials, as `serve` reads them from its environment (PROCTOR_<OPTION>, AWS_*).
        setenv("PROCTOR_S3_SECRET_KEY", Self.secret, 1)
        setenv("AWS_SECRET_ACCESS_KEY", Self.secret, 1)
        var app = try await TestApp.make()
        app.configuration.killGraceSeconds = 1
        app.configuration.executorSlots = 2
        app.configuration.workspace = TestApp.scriptsDirectory.path
        let escape = TestApp.scriptsDirectory.appendingPathComponent("escaped-\(UUID().uuidString)").path
        let lab = Self.lab(dataDirectory: app.configuration.dataDirectory, escape: escape)
        try await app.testLive { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: lab)
            ) {
                #expect($0.status == .ok, "\(String(buffer: $0.body))")
            }
            try await body(client, escape)
        }
    }

    /// Launches a job as the member and waits for its run to end: the run's id and its final state.
    func runToEnd(_ client: any TestClientProtocol, _ definition: String) async throws -> (id: String, done: JSONValue)
    {
        let run = try await launch(client, #"{"definition": "\#(definition)"}"#, token: Self.memberToken)
        let id = run["id"]?.stringValue ?? ""
        return (id, try await waitForEnd(client, id))
    }

    func launch(_ client: any TestClientProtocol, _ body: String, token: String, status: HTTPResponse.Status = .created)
        async throws -> JSONValue
    {
        try await client.execute(
            uri: "/api/v1/runs",
            method: .post,
            headers: bearer(token),
            body: ByteBuffer(json: body)
        ) { response in
            #expect(response.status == status, "\(body): \(String(buffer: response.body))")
            return try json(response)
        }
    }

    func waitForEnd(_ client: any TestClientProtocol, _ id: String, seconds: Double = 60) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let run = try await client.execute(
                uri: "/api/v1/runs/\(id)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { try json($0) }
            if let status = run["status"]?.stringValue,
                ["success", "failure", "error", "killed"].contains(status) || Date() > deadline
            {
                return run
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func log(_ client: any TestClientProtocol, _ id: String) async throws -> String {
        try await client.execute(uri: "/api/v1/runs/\(id)/log", method: .get, headers: bearer(TestApp.adminToken)) {
            String(buffer: $0.body)
        }
    }

    /// ``sleeping(_:)`` once the processes of a run that ended have had up to two seconds to go (as
    /// Tests/e2e/killed.sh allows): a sandbox's processes are killed when its first process exits, and one being
    /// killed stays listed until the kernel has torn it down, which on a loaded machine can outlast the final status.
    static func outliving(_ seconds: String) async -> [pid_t] {
        for _ in 0..<40 {
            if sleeping(seconds).isEmpty { return [] }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return sleeping(seconds)
    }

    /// Live (not zombie) `sleep SECONDS` processes of this machine: the tests' jobs sleep for odd durations that
    /// nothing else on the machine uses.
    static func sleeping(_ seconds: String) -> [pid_t] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
        return pids.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let state = stat[stat.index(after: close)...].split(separator: " ").first
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return argv.count == 2 && argv[0].hasSuffix("sleep") && argv[1] == seconds && state != "Z"
        }
    }

    @Test func aLaunchSetsDeclaredParametersAndNeverACommand() async throws {
        try await withLab { client, _ in
            // What a member could once send to run code of their choosing, with the server's rights.
            for (options, field) in [
                (#"{"command": "env; cat /proc/1/environ"}"#, "options.command"),
                (#"{"job_file": "id"}"#, "options.job_file"),
                (#"{"python": "/bin/sh"}"#, "options.python"), (#"{"env": {"LD_PRELOAD": "/x.so"}}"#, "options.env"),
                (#"{"writable_paths": ["/"]}"#, "options.writable_paths"), (#"{"--mode": "fast"}"#, "options.--mode"),
                (#"{"kept_files": ["/etc/shadow"]}"#, "options.kept_files"),
            ] {
                let refused = try await launch(
                    client,
                    #"{"definition": "harmless", "options": \#(options)}"#,
                    token: Self.memberToken,
                    status: .badRequest
                )
                #expect(refused["error"]?["field"] == .string(field), "\(options)")
            }
            let undeclared = try await launch(
                client,
                #"{"definition": "harmless", "options": {"command": "id"}}"#,
                token: Self.memberToken,
                status: .badRequest
            )
            #expect(
                undeclared["error"]?["message"]?.stringValue
                    == "options.command is not a launch parameter of job 'harmless'; it declares: --level, GREETING"
            )
            let immutable = try await launch(
                client,
                #"{"definition": "harmless", "options": {"--mode": "fast"}}"#,
                token: Self.memberToken,
                status: .badRequest
            )
            #expect(immutable["error"]?["message"]?.stringValue?.contains("immutable") == true)

            // Declared parameters are data: an arg's value and an envarg's value.
            let run = try await launch(
                client,
                #"{"definition": "harmless", "options": {"level": "3; id", "GREETING": "$(id)"}}"#,
                token: Self.memberToken
            )
            let id = run["id"]?.stringValue ?? ""
            let done = try await waitForEnd(client, id)
            #expect(done["status"] == .string("success"))
            #expect(try await log(client, id) == "hello $(id) --level 3; id\n")
            #expect(
                done["options"]?["parameters"] == .object(["level": .string("3; id"), "GREETING": .string("$(id)")])
            )

            // The XPRESSO door: a request's args are the same parameters, refused the same way.
            try await client.execute(
                uri: "/xpresso/api/v2/requests",
                method: .post,
                headers: [
                    .authorization: "Token \(Self.memberToken)", .contentType: "application/json",
                    HTTPField.Name("X-Xpresso-Group")!: "ga",
                ],
                body: ByteBuffer(
                    json: #"{"profile": "\#(done["profile_id"]?.stringValue ?? "")", "args": {"command": "id"}}"#
                )
            ) { response in
                #expect(response.status == .badRequest)
                let detail = try json(response)["detail"]?.stringValue
                #expect(detail?.contains("options.command is not a launch parameter") == true, "\(detail ?? "")")
            }
        }
    }

    @Test func aJobSeesNoSecretNoDataDirectoryAndWritesOnlyItsWorkDirectory() async throws {
        try await withLab { client, escape in
            let (id, done) = try await runToEnd(client, "spy")
            #expect(done["status"] == .string("success"))
            let text = try await log(client, id)
            // An unprivileged user, alone in its PID namespace (the shell, ls, grep and the sandbox's init).
            #expect(text.contains("uid=65534\n"))
            #expect(!text.contains(Self.secret), "the server's environment reached the job")
            #expect(!text.contains(TestApp.adminToken))
            if let url = ProcessInfo.processInfo.environment["PROCTOR_TEST_POSTGRES_URL"] {
                #expect(!text.contains(url))
            }
            #expect(text.contains("PROCTOR_RUN_ID=\(id)\n"))
            // The data directory is an empty folder inside the sandbox; the store cannot be read.
            #expect(text.contains("DATA:\nSQLITE:\nhead: cannot open"), "\(text)")
            #expect(!text.contains("SQLite format"))
            // Nothing outside the work directory can be written; inside it can.
            #expect(!text.contains("wrote-outside"))
            #expect(!FileManager.default.fileExists(atPath: escape))
            #expect(text.contains("wrote-workdir"))
            let procs =
                text.components(separatedBy: "PROCS:\n").last?.split(separator: "\n").first.flatMap { Int($0) } ?? 99
            #expect(procs <= 5, "the job saw \(procs) processes")
        }
    }

    @Test func cancelStopsEveryProcessEvenOnesThatIgnoreTermAndLeftTheGroup() async throws {
        try await withLab { client, _ in
            let run = try await launch(client, #"{"definition": "stubborn"}"#, token: Self.memberToken)
            let id = run["id"]?.stringValue ?? ""
            var seen: [pid_t] = []
            for _ in 0..<200 where seen.count < 2 {
                seen = Self.sleeping("4242.1") + Self.sleeping("4242.2")
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(seen.count == 2, "the job's processes never appeared")
            try await client.execute(uri: "/api/v1/runs/\(id)/cancel", method: .post, headers: bearer(Self.memberToken))
            {
                #expect($0.status == .accepted)
            }
            let done = try await waitForEnd(client, id)
            #expect(done["status"] == .string("killed"))
            // Cancelled well before its 30 s max_run_time: the reason says so.
            #expect(done["reason"] == .string("canceled"))
            // By the time the run is final, every process of it is gone.
            #expect(await Self.outliving("4242.1").isEmpty)
            #expect(await Self.outliving("4242.2").isEmpty)
        }
    }

    @Test func noProcessOutlivesASuccessfulRun() async throws {
        try await withLab { client, _ in
            let (id, done) = try await runToEnd(client, "lingering")
            #expect(done["status"] == .string("success"))
            #expect(try await log(client, id) == "leaving\n")
            #expect(await Self.outliving("4242.3").isEmpty, "a nohup child outlived its run")
            #expect(await Self.outliving("4242.4").isEmpty, "a setsid child outlived its run")
        }
    }
}
