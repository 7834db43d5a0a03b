import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorStore
import Testing

/// The web dashboard's routes: login and logout, the session cookie's flags, CSRF refusals, escaping of
/// hostile names, log lines and test messages, empty states, 404s and assets. (Tests/e2e/dashboard.sh drives
/// the same pages in a real browser.)
@Suite struct DashboardTests {
    static let password = "dashboard-password-1"
    static let hostile = #"<script>alert("x")</script>'q"#

    /// A site admin with a password, over the bootstrap admin's token.
    func makeUser(_ client: any TestClientProtocol, name: String = "dana", admin: Bool = true) async throws {
        let body = #"{"name": "\#(name)", "password": "\#(Self.password)", "is_site_admin": \#(admin)}"#
        try await client.execute(
            uri: "/api/v1/users",
            method: .post,
            headers: bearer(TestApp.adminToken),
            body: ByteBuffer(json: body)
        ) {
            #expect($0.status == .created)
        }
    }

    static func cookies(_ response: TestResponse) -> [String: String] {
        var out: [String: String] = [:]
        for header in response.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            out[String(pair[0])] = pair.count > 1 ? String(pair[1]) : ""
        }
        return out
    }

    static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    static func form(_ fields: [(String, String)]) -> ByteBuffer {
        ByteBuffer(
            string: fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                .joined(separator: "&")
        )
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// Logs in through the form; returns the session cookie header and the page's CSRF token.
    func login(_ client: any TestClientProtocol, name: String = "dana") async throws -> (
        cookie: HTTPFields, csrf: String
    ) {
        let nonce = try await client.execute(uri: "/login", method: .get) { response in
            #expect(response.status == .ok)
            return Self.cookies(response)["proctor_login"] ?? ""
        }
        var headers = Self.formHeaders
        headers[.cookie] = "proctor_login=\(nonce)"
        let secret = try await client.execute(
            uri: "/login",
            method: .post,
            headers: headers,
            body: Self.form([("csrf", nonce), ("name", name), ("password", Self.password)])
        ) { response in
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/")
            return Self.cookies(response)["proctor_session"] ?? ""
        }
        let cookie: HTTPFields = [.cookie: "proctor_session=\(secret)"]
        let csrf = try await client.execute(uri: "/", method: .get, headers: cookie) { response in
            #expect(response.status == .ok)
            return Self.csrf(in: Self.text(response))
        }
        return (cookie, csrf)
    }

    static func csrf(in html: String) -> String {
        guard let range = html.range(of: #"name="csrf" value="([0-9a-f]{64})""#, options: .regularExpression) else {
            return ""
        }
        return String(html[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
    }

    @Test func pagesNeedALoginAndTheSessionCookieIsHttpOnlyAndStrict() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await makeUser(client)
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/login")
            }
            try await client.execute(uri: "/jobs?x=1", method: .get) { response in
                #expect(response.headers[.location]?.hasPrefix("/login?next=") == true)
            }
            try await client.execute(uri: "/login", method: .get) { response in
                let html = Self.text(response)
                #expect(html.contains("<title>Log in · Proctor</title>"))
                #expect(html.contains(#"<label for="name">"#) && html.contains(#"<label for="password">"#))
                let cookie = response.headers[values: .setCookie].first { $0.hasPrefix("proctor_login=") } ?? ""
                #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            }
            // A wrong password is a 401 page; a login form without its token is refused.
            try await client.execute(
                uri: "/login",
                method: .post,
                headers: Self.formHeaders.merging([.cookie: "proctor_login=abc"]),
                body: Self.form([("csrf", "abc"), ("name", "dana"), ("password", "wrong-password")])
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(Self.text(response).contains("Wrong user name or password."))
                #expect(Self.cookies(response)["proctor_session"] == nil)
            }
            try await client.execute(
                uri: "/login",
                method: .post,
                headers: Self.formHeaders,
                body: Self.form([("csrf", "abc"), ("name", "dana"), ("password", Self.password)])
            ) { response in
                #expect(response.status == .forbidden)
            }
            let nonce = try await client.execute(uri: "/login", method: .get) {
                Self.cookies($0)["proctor_login"] ?? ""
            }
            try await client.execute(
                uri: "/login",
                method: .post,
                headers: Self.formHeaders.merging([.cookie: "proctor_login=\(nonce)"]),
                body: Self.form([
                    ("csrf", nonce), ("name", "dana"), ("password", Self.password), ("next", "//evil.example/"),
                ])
            ) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/", "only local paths may follow a login")
                let cookie = response.headers[values: .setCookie].first { $0.hasPrefix("proctor_session=") } ?? ""
                #expect(cookie.contains("HttpOnly"))
                #expect(cookie.contains("SameSite=Strict"))
                #expect(cookie.contains("Path=/"))
            }
        }
    }

    @Test func postsNeedTheSessionsCSRFTokenAndLogoutEndsTheSession() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await makeUser(client)
            let (cookie, csrf) = try await login(client)
            #expect(csrf.count == 64)
            for token in ["", String(repeating: "0", count: 64)] {
                try await client.execute(
                    uri: "/logout",
                    method: .post,
                    headers: Self.formHeaders.merging(cookie),
                    body: Self.form([("csrf", token)])
                ) { response in
                    #expect(response.status == .forbidden)
                }
            }
            try await client.execute(
                uri: "/runs/nope/cancel",
                method: .post,
                headers: Self.formHeaders.merging(cookie),
                body: Self.form([])
            ) { response in
                #expect(response.status == .forbidden)
            }
            // The right token from another site is refused too.
            try await client.execute(
                uri: "/logout",
                method: .post,
                headers: Self.formHeaders.merging(cookie).merging([.origin: "https://evil.example"]),
                body: Self.form([("csrf", csrf)])
            ) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/logout",
                method: .post,
                headers: Self.formHeaders.merging(cookie),
                body: Self.form([("csrf", csrf)])
            ) {
                response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/login")
                #expect(Self.cookies(response)["proctor_session"] == "")
            }
            // The session's token is revoked: the old cookie no longer opens a page.
            try await client.execute(uri: "/", method: .get, headers: cookie) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/login")
            }
        }
    }

    @Test func launchCancelAndRelaunchFromTheForms() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await makeUser(client)
            let lab =
                #"{"groups": [{"name": "g"}], "engines": [{"group": "g", "name": "agents", "type": "agent"}], "testbeds": [{"group": "g", "name": "tb-1"}, {"group": "g", "name": "tb-2"}], "definitions": [{"group": "g", "name": "job", "harness": "shell", "job_file": "true", "args": [{"name": "-x", "code_name": "x"}], "profiles": [{"name": "P", "is_default": true, "engine": "agents"}]}]}"#
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: lab)
            ) {
                #expect($0.status == .ok)
            }
            let job = try await client.execute(
                uri: "/api/v1/definitions?filter=name=job",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                try json($0)["items"]?.arrayValue?.first?["id"]?.stringValue ?? ""
            }
            let (cookie, csrf) = try await login(client)
            let headers = Self.formHeaders.merging(cookie)
            // (The job runs on agents, and there are none: its runs stay queued until canceled.)
            // Bad options are a 400 page, nothing launched.
            try await client.execute(
                uri: "/jobs/\(job)/launch",
                method: .post,
                headers: headers,
                body: Self.form([("csrf", csrf), ("options", "[1]")])
            ) { response in
                #expect(response.status == .badRequest)
                #expect(Self.text(response).contains("options must be a JSON object"))
            }
            // Options are values of the job's declared parameters, never a command.
            try await client.execute(
                uri: "/jobs/\(job)/launch",
                method: .post,
                headers: headers,
                body: Self.form([("csrf", csrf), ("options", #"{"command": "id"}"#)])
            ) { response in
                #expect(response.status == .badRequest)
                #expect(
                    Self.text(response).contains(
                        "options.command is not a launch parameter of job &#39;job&#39;; it declares: -x"
                    )
                )
            }
            let run = try await client.execute(
                uri: "/jobs/\(job)/launch",
                method: .post,
                headers: headers,
                body: Self.form([
                    ("csrf", csrf), ("name", "from the form"), ("tags", "a, b"), ("options", #"{"x": "1"}"#),
                ])
            ) { response in
                #expect(response.status == .seeOther)
                return String(response.headers[.location]?.dropFirst("/runs/".count) ?? "")
            }
            let launched = try await client.execute(
                uri: "/api/v1/runs/\(run)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { try json($0) }
            #expect(launched["name"] == .string("from the form"))
            #expect(launched["tags"] == .array([.string("a"), .string("b")]))
            #expect(launched["options"]?["parameters"]?["x"] == .string("1"))
            #expect(
                launched["options"]?["jobargs"]
                    == .array([.object(["name": .string("-x"), "value": .string("1"), "flag": .bool(false)])])
            )
            // Two testbeds ticked: one run each, and the runs table filtered by the job.
            let testbeds = try await client.execute(
                uri: "/api/v1/testbeds",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                try json($0)["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            }
            try await client.execute(
                uri: "/jobs/\(job)/launch",
                method: .post,
                headers: headers,
                body: Self.form([("csrf", csrf)] + testbeds.map { ("testbed", $0) })
            ) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/?job=\(job)")
            }
            try await client.execute(uri: "/?job=\(job)", method: .get, headers: cookie) { response in
                #expect(Self.text(response).components(separatedBy: "<tr data-run=").count - 1 == 3)
            }
            try await client.execute(
                uri: "/runs/\(run)/cancel",
                method: .post,
                headers: headers,
                body: Self.form([("csrf", csrf)])
            ) { response in
                #expect(
                    response.status == .seeOther,
                    "\(Self.text(response).components(separatedBy: "alert").dropFirst().first ?? "")"
                )
                #expect(response.headers[.location] == "/runs/\(run)")
            }
            try await client.execute(uri: "/runs/\(run)", method: .get, headers: cookie) { response in
                let html = Self.text(response)
                #expect(html.contains(#"id="run-status">killed<"#))
                #expect(!html.contains(#"id="cancel""#), "a finished run has no cancel button")
            }
            try await client.execute(
                uri: "/runs/\(run)/cancel",
                method: .post,
                headers: headers,
                body: Self.form([("csrf", csrf)])
            ) { response in
                #expect(response.status == .conflict)
            }
            try await client.execute(
                uri: "/runs/\(run)/relaunch",
                method: .post,
                headers: headers,
                body: Self.form([("csrf", csrf)])
            ) { response in
                #expect(response.status == .seeOther)
                let again = String(response.headers[.location]?.dropFirst("/runs/".count) ?? "")
                #expect(!again.isEmpty && again != run)
                // The relaunch is the same run again: its launch options, name and tags.
                let relaunched = try await client.execute(
                    uri: "/api/v1/runs/\(again)",
                    method: .get,
                    headers: bearer(TestApp.adminToken)
                ) { try json($0) }
                #expect(relaunched["options"]?["parameters"]?["x"] == .string("1"))
                #expect(relaunched["name"] == .string("from the form"))
                #expect(relaunched["tags"] == .array([.string("a"), .string("b")]))
            }
        }
    }

    @Test func emptyStatesSayWhatToDo() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await makeUser(client)
            let (cookie, _) = try await login(client)
            let expectations = [
                ("/", "No runs yet."), ("/jobs", "No jobs yet."), ("/lab/testbeds", "Nothing here yet."),
                ("/lab/agents", "proctor agent"), ("/lab/components", "Nothing here yet."),
                ("/?status=failure", "No runs match these filters."),
            ]
            for (path, words) in expectations {
                try await client.execute(uri: path, method: .get, headers: cookie) { response in
                    #expect(response.status == .ok, "\(path)")
                    let html = Self.text(response)
                    #expect(html.contains(words), "\(path) should say \(words)")
                    #expect(html.contains("<title>") && html.contains(#"<html lang="en">"#))
                }
            }
        }
    }

    @Test func unknownThingsAre404PagesAndAssetsAreCached() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await makeUser(client)
            let (cookie, _) = try await login(client)
            for path in ["/runs/no-such-run", "/jobs/no-such-job", "/lab/no-such-section"] {
                try await client.execute(uri: path, method: .get, headers: cookie) { response in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                    #expect(Self.text(response).contains("Not found"))
                }
            }
            try await client.execute(uri: "/?status=bogus", method: .get, headers: cookie) {
                #expect($0.status == .badRequest)
            }
            try await client.execute(uri: "/assets/dashboard.css?v=1", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/css; charset=utf-8")
                #expect(response.headers[.cacheControl]?.contains("max-age=31536000") == true)
                let etag = response.headers[.eTag] ?? ""
                try await client.execute(uri: "/assets/dashboard.css", method: .get, headers: [.ifNoneMatch: etag]) {
                    #expect($0.status == .notModified)
                }
            }
            try await client.execute(uri: "/assets/dashboard.js", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/assets/nope.js", method: .get) { #expect($0.status == .notFound) }
            // The API's own paths are untouched.
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/runs", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func hostileNamesLogLinesAndTestMessagesShowAsText() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await makeUser(client)
            let name = Self.hostile.replacingOccurrences(of: "\"", with: "\\\"")
            let lab =
                #"{"groups": [{"name": "g"}], "testbeds": [{"group": "g", "name": "\#(name)"}], "definitions": [{"group": "g", "name": "\#(name)", "harness": "shell", "job_file": "true", "description": "\#(name)", "profiles": [{"name": "\#(name)", "is_default": true}]}]}"#
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: lab)
            ) {
                #expect($0.status == .ok)
            }
            let run = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"group": "g", "name": "\#(name)", "comment": "\#(name)"}"#)
            ) { response in
                #expect(response.status == .created)
                return try json(response)["id"]?.stringValue ?? ""
            }
            try await client.execute(
                uri: "/api/v1/runs/\(run)/log",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)"],
                body: ByteBuffer(string: "line one\nERROR \(Self.hostile)\n")
            ) { #expect($0.status == .created) }
            let junit = """
                <testsuite name="s"><testcase classname="\(Self.hostile.replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "\"", with: "&quot;"))" name="t"><failure message="m">\(Self.hostile.replacingOccurrences(of: "<", with: "&lt;"))</failure></testcase></testsuite>
                """
            try await client.execute(
                uri:
                    "/api/v1/runs/\(run)/files?name=\(Self.hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&results=junit",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "application/xml"],
                body: ByteBuffer(string: junit)
            ) { #expect($0.status == .created) }
            let job = try await client.execute(
                uri: "/api/v1/definitions?limit=1",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                try json($0)["items"]?.arrayValue?.first?["id"]?.stringValue ?? ""
            }
            let (cookie, _) = try await login(client)
            for path in [
                "/", "/runs/\(run)", "/runs/\(run)?fragment=live", "/jobs", "/jobs/\(job)", "/lab/testbeds",
                "/?fragment=rows",
            ] {
                try await client.execute(uri: path, method: .get, headers: cookie) { response in
                    #expect(response.status == .ok, "\(path)")
                    let html = Self.text(response)
                    #expect(!html.contains("<script>alert"), "\(path) renders a name, log line or message as markup")
                    #expect(!html.contains("'q"), "\(path) leaves a quote unescaped")
                    #expect(
                        html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;q"),
                        "\(path) should show the text"
                    )
                }
            }
            try await client.execute(uri: "/runs/\(run)", method: .get, headers: cookie) { response in
                let html = Self.text(response)
                #expect(html.contains("ERROR &lt;script&gt;"), "the log line is in the page, escaped")
                #expect(html.contains("REGRESSED") || html.contains("failed"))
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            }
        }
    }
}

/// Issue #21: why a run waits, the runs table's number, launch time, search and killed reasons, the raw log, the
/// jobs' last outcomes, a test's history and the comparison of two runs.
@Suite struct DashboardWaitAndHistoryTests {
    typealias Page = DashboardTests

    static let lab =
        #"{"groups": [{"name": "g"}], "engines": [{"group": "g", "name": "agents", "type": "agent", "labels": ["linux"]}], "testbeds": [{"group": "g", "name": "tb-1"}], "definitions": [{"group": "g", "name": "job", "harness": "shell", "job_file": "true", "profiles": [{"name": "P", "is_default": true, "engine": "agents"}]}]}"#

    func launch(_ client: any TestClientProtocol, _ body: String) async throws -> JSONValue {
        try await client.execute(
            uri: "/api/v1/runs",
            method: .post,
            headers: bearer(TestApp.adminToken),
            body: ByteBuffer(json: body)
        ) { response in
            #expect(response.status == .created, "\(String(buffer: response.body))")
            return try json(response)
        }
    }

    func page(_ client: any TestClientProtocol, _ path: String, _ cookie: HTTPFields) async throws -> String {
        try await client.execute(uri: path, method: .get, headers: cookie) { response in
            #expect(response.status == .ok, "\(path)")
            return Page.text(response)
        }
    }

    @Test func aQueuedRunSaysWhyItWaits() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await DashboardTests().makeUser(client)
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: Self.lab)
            ) { #expect($0.status == .ok) }
            let first = try await launch(client, #"{"definition": "job", "testbed": "tb-1", "name": "first"}"#)
            let firstID = first["id"]?.stringValue ?? ""
            let (cookie, _) = try await DashboardTests().login(client)
            // No agent at all: the run page, the runs table and the lab's queue say so.
            let waiting = try await page(client, "/runs/\(firstID)", cookie)
            #expect(waiting.contains("It runs on an agent, and no agent with labels linux is online."))
            #expect(try await page(client, "/", cookie).contains("no agent with labels linux online"))
            let queue = try await page(client, "/lab/queue", cookie)
            #expect(queue.contains(#"<a href="/runs/\#(firstID)">first</a>"#))
            #expect(queue.contains("no agent with labels linux online"))
            // An agent with other labels does not count; one with linux does, and the run is next.
            for (name, labels) in [("mac", #"["macos"]"#), ("lin", #"["linux", "x86"]"#)] {
                try await client.execute(
                    uri: "/api/v1/agents/register",
                    method: .post,
                    headers: bearer(TestApp.adminToken),
                    body: ByteBuffer(json: #"{"name": "\#(name)", "labels": \#(labels)}"#)
                ) { #expect($0.status == .ok || $0.status == .created) }
            }
            #expect(
                try await page(client, "/runs/\(firstID)", cookie).contains(
                    "It is next in the queue; an executor takes it at its next poll."
                )
            )
            let agent = try await client.execute(
                uri: "/api/v1/agents?filter=name=lin",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { try json($0)["items"]?.arrayValue?.first?["id"]?.stringValue ?? "" }
            try await client.execute(
                uri: "/api/v1/agents/\(agent)/claim?wait=0",
                method: .post,
                headers: bearer(TestApp.adminToken)
            ) { response in
                #expect(response.status == .ok)
                #expect((try? json(response))?["run"]?["id"]?.stringValue == firstID)
            }
            // The testbed now executes the first run: the second waits for it, with a link.
            let second = try await launch(client, #"{"definition": "job", "testbed": "tb-1", "name": "second"}"#)
            let secondPage = try await page(client, "/runs/\(second["id"]?.stringValue ?? "")", cookie)
            #expect(secondPage.contains("Its testbed is busy with run first."))
            #expect(secondPage.contains(#"<a href="/runs/\#(firstID)">Open that run</a>"#))
            #expect(
                !(try await page(client, "/runs/\(firstID)", cookie)).contains("wait-why"),
                "a claimed run does not wait"
            )
        }
    }

    @Test func theRunsTableShowsNumbersLaunchTimesKillReasonsAndSearches() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await DashboardTests().makeUser(client)
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: Self.lab)
            ) { #expect($0.status == .ok) }
            let labelled = try await launch(
                client,
                #"{"definition": "job", "name": "labelled", "labels": {"team": "net"}}"#
            )
            let plain = try await launch(client, #"{"definition": "job", "name": "plain"}"#)
            let labelledID = labelled["id"]?.stringValue ?? ""
            let plainID = plain["id"]?.stringValue ?? ""
            let (cookie, csrf) = try await DashboardTests().login(client)
            // The run number is the run's seq, as the native API shows it.
            let seq = try await client.execute(
                uri: "/api/v1/runs/\(labelledID)",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { try json($0)["seq"] }
            let number = seq.flatMap { if case .number(let n) = $0 { return "#\(Int(n))" } else { return nil } } ?? ""
            #expect(!number.isEmpty, "the native API shows the run's seq")
            let table = try await page(client, "/", cookie)
            #expect(table.contains(#"<span class="run-number">\#(number)</span>"#))
            #expect(table.contains("Launched (UTC)"))
            #expect(!table.contains("Started (UTC)"))
            #expect(try await page(client, "/runs/\(labelledID)", cookie).contains(#"id="run-number">\#(number)<"#))
            // Search by label, launching user and test name finds one and leaves the other out.
            let byLabel = try await page(client, "/?label=team%3Dnet", cookie)
            #expect(byLabel.contains(#"data-run="\#(labelledID)""#) && !byLabel.contains(#"data-run="\#(plainID)""#))
            try await client.execute(uri: "/?label=team", method: .get, headers: cookie) { response in
                #expect(response.status == .badRequest)
                #expect(Page.text(response).contains("label must be key=value"))
            }
            let byAdmin = try await page(client, "/?user=admin", cookie)
            #expect(byAdmin.contains(#"data-run="\#(labelledID)""#) && byAdmin.contains(#"data-run="\#(plainID)""#))
            let byNobody = try await page(client, "/?user=nobody", cookie)
            #expect(!byNobody.contains("data-run=") && byNobody.contains("No runs match these filters."))
            try await client.execute(
                uri: "/api/v1/runs/\(plainID)/files?name=r.xml&results=junit",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "application/xml"],
                body: ByteBuffer(
                    string: #"<testsuite name="s"><testcase classname="c" name="test_login"/></testsuite>"#
                )
            ) { #expect($0.status == .created) }
            let byTest = try await page(client, "/?test=test_login", cookie)
            #expect(byTest.contains(#"data-run="\#(plainID)""#) && !byTest.contains(#"data-run="\#(labelledID)""#))
            // A canceled run says so in the table.
            try await client.execute(
                uri: "/runs/\(labelledID)/cancel",
                method: .post,
                headers: Page.formHeaders.merging(cookie),
                body: Page.form([("csrf", csrf)])
            ) { #expect($0.status == .seeOther) }
            let killed = try await page(client, "/?status=killed", cookie)
            #expect(killed.contains(#"<small class="status-note">canceled</small>"#))
        }
    }

    @Test func theRawLogDownloadsAsAnAttachment() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await DashboardTests().makeUser(client)
            let run = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"name": "reported"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            let log = "line one\n<b>two</b> ü\n"
            try await client.execute(
                uri: "/api/v1/runs/\(run)/log",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)"],
                body: ByteBuffer(string: log)
            ) { #expect($0.status == .created) }
            let (cookie, _) = try await DashboardTests().login(client)
            #expect(try await page(client, "/runs/\(run)", cookie).contains(#"href="/runs/\#(run)/log.txt""#))
            try await client.execute(uri: "/runs/\(run)/log.txt", method: .get, headers: cookie) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
                #expect(response.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"run-") == true)
                #expect(String(buffer: response.body) == log)
            }
            try await client.execute(uri: "/runs/no-such-run/log.txt", method: .get, headers: cookie) {
                #expect($0.status == .notFound)
            }
        }
    }

    @Test func jobsHistoryAndCompareFollowATestAcrossRuns() async throws {
        let app = try await TestApp.make()
        let store = app.store
        let group = try await store.insert(Record(.groups, ["name": .string("h")]))
        let job = try await store.insert(Record(.definitions, ["group_id": .string(group.id), "name": .string("j")]))
        let idle = try await store.insert(
            Record(.definitions, ["group_id": .string(group.id), "name": .string("idle")])
        )
        // Oldest first: `login` passes, passes, fails, errors; `logout` always passes. The last run timed out.
        let outcomes = ["passed", "passed", "failed", "error"]
        let statuses = ["success", "success", "failure", "killed"]
        let start = Timestamp.now() - 3_600_000_000
        var inserted: [Record] = []
        for index in 0..<4 {
            let run = try await store.insert(
                Record(
                    .runs,
                    [
                        "group_id": .string(group.id), "definition_id": .string(job.id),
                        "name": .string("r\(index)"), "status": .string(statuses[index]),
                        "reason": index == 3 ? .string("timeout") : .null,
                        "created_at": .timestamp(start + Int64(index) * 60_000_000),
                    ]
                )
            )
            inserted.append(run)
            for (name, status) in [("login", outcomes[index]), ("logout", "passed")] {
                _ = try await store.insert(
                    Record(
                        .testResults,
                        [
                            "group_id": .string(group.id), "run_id": .string(run.id), "classname": .string("auth"),
                            "name": .string(name), "status": .string(status),
                        ]
                    )
                )
            }
        }
        let runs = inserted
        try await app.test { client in
            try await DashboardTests().makeUser(client)
            let (cookie, _) = try await DashboardTests().login(client)
            let jobs = try await page(client, "/jobs", cookie)
            #expect(
                jobs.contains(
                    #"<a href="/runs/\#(runs[3].id)"><span class="badge muted">killed</span></a> <small class="status-note">timed out</small>"#
                )
            )
            #expect(jobs.contains(#"<a href="/runs/\#(runs[1].id)"><time>"#), "the last success links to its run")
            #expect(jobs.contains("never run"), "job \(idle.id) has no run")
            let runPage = try await page(client, "/runs/\(runs[3].id)", cookie)
            let jobParameter = job.id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let history = "/tests/history?job=\(jobParameter)&amp;classname=auth&amp;name=login"
            #expect(runPage.contains(#"<a href="\#(history)" class="history">history</a>"#))
            #expect(runPage.contains(#"href="/runs/\#(runs[3].id)/compare""#))
            let historyPage = try await page(client, history.replacingOccurrences(of: "&amp;", with: "&"), cookie)
            #expect(historyPage.contains(#"Failing since run <a href="/runs/\#(runs[2].id)">"#))
            let table = historyPage.components(separatedBy: "<tbody>").last ?? ""
            let order = ["r3", "r2", "r1", "r0"].compactMap { table.range(of: " \($0)</a>")?.lowerBound }
            #expect(order.count == 4 && order == order.sorted(), "newest first")
            let steady = try await page(client, "/tests/history?job=\(job.id)&classname=auth&name=logout", cookie)
            #expect(!steady.contains("Failing since") && steady.contains("Latest outcome: passed."))
            // Compared with the run before it, the third run changed login only; with the first, nothing changed.
            let compare = try await page(client, "/runs/\(runs[2].id)/compare", cookie)
            #expect(
                compare.contains(
                    #"<strong>login</strong></td><td data-label="Before"><span class="badge ok">passed</span></td><td data-label="After"><span class="badge bad">failed</span>"#
                )
            )
            #expect(!compare.contains("<strong>logout</strong>"))
            let same = try await page(client, "/runs/\(runs[1].id)/compare?with=\(runs[0].id)", cookie)
            #expect(same.contains("No test changed status between these runs."))
            try await client.execute(uri: "/runs/\(runs[0].id)/compare", method: .get, headers: cookie) {
                #expect($0.status == .notFound, "the first run has nothing before it")
            }
            // A user outside group h sees none of it: every new page is a 404 for them.
            try await DashboardTests().makeUser(client, name: "erin", admin: false)
            let (outsider, _) = try await DashboardTests().login(client, name: "erin")
            for path in [
                "/runs/\(runs[3].id)/log.txt", "/runs/\(runs[2].id)/compare",
                "/runs/\(runs[1].id)/compare?with=\(runs[0].id)",
                "/tests/history?job=\(jobParameter)&classname=auth&name=login",
            ] {
                try await client.execute(uri: path, method: .get, headers: outsider) {
                    #expect($0.status == .notFound, "\(path) for a user outside the group")
                }
            }
        }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var out = self
        for field in other { out[field.name] = field.value }
        return out
    }
}

/// The core reads behind the job page: the pass-rate trend and the flaky tests of a job's last runs.
@Suite struct RunHistoryTests {
    @Test func trendAndFlakyTestsComeFromTheLatestFinishedRuns() async throws {
        let app = try await TestApp.make()
        let store = app.store
        let group = try await store.insert(Record(.groups, ["name": .string("h")]))
        let job = try await store.insert(Record(.definitions, ["group_id": .string(group.id), "name": .string("j")]))
        // Five finished runs, oldest first: `flaky` goes pass, fail, pass, fail, pass; `steady` always passes;
        // `broke` passes then fails for good (one flip: a regression, not flakiness). A sixth run is still running.
        let flaky = ["passed", "failed", "passed", "error", "passed"]
        let broke = ["passed", "passed", "failed", "failed", "failed"]
        let start = Timestamp.now() - 3_600_000_000
        for index in 0..<6 {
            let finished = index < 5
            let passed = finished ? [flaky[index], broke[index], "passed"].filter { $0 == "passed" }.count : 0
            let run = try await store.insert(
                Record(
                    .runs,
                    [
                        "group_id": .string(group.id), "definition_id": .string(job.id),
                        "status": .string(finished ? (passed == 3 ? "success" : "failure") : "running"),
                        "created_at": .timestamp(start + Int64(index) * 60_000_000),
                        "tests_total": .int(finished ? 3 : 0),
                        "tests_passed": .int(Int64(passed)), "tests_failed": .int(Int64(finished ? 3 - passed : 0)),
                    ]
                )
            )
            guard finished else { continue }
            for (name, status) in [("flaky", flaky[index]), ("broke", broke[index]), ("steady", "passed")] {
                _ = try await store.insert(
                    Record(
                        .testResults,
                        [
                            "group_id": .string(group.id), "run_id": .string(run.id), "classname": .string("suite"),
                            "name": .string(name), "status": .string(status),
                        ]
                    )
                )
            }
        }
        let history = RunHistory(store: store)
        let trend = try await history.trend(definitionID: job.id, scope: .everything)
        #expect(trend.count == 5, "only finished runs are on the trend")
        #expect(trend.map(\.passed) == [3, 2, 2, 1, 2], "oldest first")
        #expect(trend.first?.passRate == 1)
        let found = try await history.flakyTests(definitionID: job.id, scope: .everything)
        #expect(found.map(\.name) == ["flaky"])
        #expect(found.first?.flips == 4)
        #expect(found.first?.outcomes == flaky)
        #expect(
            try await history.flakyTests(definitionID: job.id, scope: .groups(["other"])).isEmpty,
            "tenancy applies"
        )
        await store.shutdown()
    }
}
