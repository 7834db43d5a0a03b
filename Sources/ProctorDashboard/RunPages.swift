import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The runs table (`/`) and a run's page (`/runs/:id`), with the cancel and relaunch forms.
///
/// The table reads one keyset page of runs in an indexed order (`created_at` or `status, created_at`) and the
/// names its rows show in one `IN` query per kind: no count of every run, so its cost does not grow with the
/// store. Its script re-fetches `?fragment=rows` when the event stream says a run changed.
struct RunPages {
    let services: RunServices
    let renderer: DashboardRenderer
    /// Why queued runs wait (the core's rule), shown on the run's page and, shortly, in the table.
    let waits: RunWaits
    static let pageSize = 50

    init(services: RunServices, renderer: DashboardRenderer, localExecutorSlots: Int) {
        self.services = services
        self.renderer = renderer
        self.waits = RunWaits(store: services.store, localExecutorSlots: localExecutorSlots)
    }

    var store: any StoreReader { services.store }

    func addRoutes(to pages: RouterGroup<AuthenticatedContext>) {
        pages.get("/", use: runs)
        pages.get("runs", use: runs)
        pages.get("runs/:id", use: run)
        pages.get("runs/:id/log.txt", use: logDownload)
        pages.get("runs/:id/compare", use: compare)
        pages.get("tests/history", use: testHistory)
        pages.post("runs/:id/cancel", use: cancel)
        pages.post("runs/:id/relaunch", use: relaunch)
    }

    // MARK: The runs table

    /// What the table shows, from the query string: `status`, `job`, `testbed`, `tag`, `from`, `to`
    /// (dates, UTC), `sort` (`newest`, `oldest`, `status`) and `after` (the keyset cursor of the next page).
    struct Filters {
        var status = ""
        var job = ""
        var testbed = ""
        var tag = ""
        var from = ""
        var to = ""
        /// `key=value`: runs launched with this label.
        var label = ""
        /// The launching user's name.
        var user = ""
        /// A test's name: runs among the latest ``RunPages/testSearchWindow`` that have a test of that name.
        var test = ""
        var sort = "newest"
        var after: String?

        init(_ parameters: Parameters) {
            func value(_ key: String) -> String {
                parameters[key].map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
            }
            status = value("status")
            job = value("job")
            testbed = value("testbed")
            tag = value("tag")
            from = value("from")
            to = value("to")
            label = value("label")
            user = value("user")
            test = value("test")
            sort = ["oldest", "status"].contains(value("sort")) ? value("sort") : "newest"
            after = parameters["after"].map(String.init)
        }

        typealias Parameters = [String: Substring]

        /// The query of these filters; `userID` and `testRunIDs` are the launching user and the runs with the
        /// test, looked up beforehand (``RunPages/searchFilter(_:scope:)``).
        func query(limit: Int, extra: Filter? = nil) throws -> Query {
            var filter: Filter? = extra
            if !status.isEmpty {
                guard RunStatus(rawValue: status) != nil else {
                    throw ProctorError.badRequest("unknown status '\(status)'", field: "status")
                }
                filter = filter && .equal("status", status)
            }
            if !job.isEmpty { filter = filter && .equal("definition_id", job) }
            if !testbed.isEmpty { filter = filter && .equal("testbed_id", testbed) }
            if !tag.isEmpty { filter = filter && .predicate(Condition("tags", .arrayContains, [tag])) }
            if !label.isEmpty {
                let parts = label.split(separator: "=", maxSplits: 1).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ProctorError.badRequest("label must be key=value", field: "label")
                }
                filter = filter && .equal("labels.\(parts[0])", parts[1])
            }
            var window: TimeWindow?
            if !from.isEmpty || !to.isEmpty {
                window = TimeWindow(
                    field: "created_at",
                    from: try Self.day(from, field: "from"),
                    to: try Self.day(to, field: "to").map { $0 + 86_400_000_000 }
                )
            }
            let sortKeys: [SortKey]
            switch sort {
            case "oldest": sortKeys = [SortKey("created_at")]
            // Both descending, so that the (status, created_at) index serves it read backwards.
            case "status": sortKeys = [SortKey("status", descending: true), SortKey("created_at", descending: true)]
            default: sortKeys = [SortKey("created_at", descending: true)]
            }
            return Query(filter: filter, sort: sortKeys, limit: limit, cursor: after, window: window)
        }

        /// `2026-11-23` as microseconds at midnight UTC.
        static func day(_ text: String, field: String) throws -> Int64? {
            guard !text.isEmpty else { return nil }
            guard let time = Timestamp.parse(text + "T00:00:00Z") else {
                throw ProctorError.badRequest("\(field) must be a date (YYYY-MM-DD)", field: field)
            }
            return time
        }

        /// The query string of these filters (without the cursor), for links.
        var queryString: String {
            let pairs =
                [
                    ("status", status), ("job", job), ("testbed", testbed), ("tag", tag), ("label", label),
                    ("user", user), ("test", test), ("from", from), ("to", to),
                ]
                + (sort == "newest" ? [] : [("sort", sort)])
            return pairs.filter { !$0.1.isEmpty }.map {
                "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
            }
            .joined(separator: "&")
        }

        var isFiltered: Bool {
            !(status + job + testbed + tag + label + user + test + from + to).isEmpty || after != nil
        }
    }

    @Sendable func runs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let parameters = request.uri.queryParameters.reduce(into: Filters.Parameters()) {
            $0[String($1.key)] = $1.value
        }
        return DashboardRenderer.html(try await runsHTML(parameters, session: try PageSession(request, context)))
    }

    /// The runs page, or with `fragment=rows` only its rows (what the live table re-fetches).
    func runsHTML(_ parameters: Filters.Parameters, session: PageSession) async throws -> String {
        let scope = session.principal.scope
        let filters = Filters(parameters)
        let extra = try await searchFilter(filters, scope: scope)
        let page = try await store.list(
            .runs,
            query: try filters.query(limit: Self.pageSize, extra: extra),
            scope: scope
        )
        let rows = try await runRows(page.items, scope: scope)
        let base = filters.queryString
        var data: [String: Any] = [
            "rows": rows, "empty": rows.isEmpty, "filtered": filters.isFiltered,
            "next": page.nextCursor.map {
                "/?" + (base.isEmpty ? "" : base + "&") + "after="
                    + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            } ?? "",
            "first": filters.after == nil ? "" : "/" + (base.isEmpty ? "" : "?" + base),
            "live": filters.after == nil,
        ]
        if parameters["fragment"] == "rows" { return try renderer.render("run_rows", data) }
        let definitions = try await store.list(
            .definitions,
            query: Query(sort: [SortKey("name")], limit: 500, fields: ["name"]),
            scope: scope
        ).items
        let testbeds = try await store.list(
            .testbeds,
            query: Query(sort: [SortKey("name")], limit: 500, fields: ["name"]),
            scope: scope
        ).items
        data["statuses"] = RunStatus.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == filters.status] }
        data["jobs"] = definitions.map {
            ["value": $0.id, "label": $0.name ?? $0.id, "selected": $0.id == filters.job]
        }
        data["testbeds"] = testbeds.map {
            ["value": $0.id, "label": $0.name ?? $0.id, "selected": $0.id == filters.testbed]
        }
        data["sorts"] = [("newest", "Newest first"), ("oldest", "Oldest first"), ("status", "By status")].map {
            ["value": $0.0, "label": $0.1, "selected": $0.0 == filters.sort]
        }
        data["tag"] = filters.tag
        data["label"] = filters.label
        data["user"] = filters.user
        data["test"] = filters.test
        data["from"] = filters.from
        data["to"] = filters.to
        data["rows_url"] =
            "/?" + (base.isEmpty ? "" : base + "&")
            + (filters.after.map { "after=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&" }
                ?? "") + "fragment=rows"
        return try renderer.pageHTML("runs", title: "Runs · Proctor", section: "runs", session: session, data: data)
    }

    /// How many of the latest runs (of the chosen job, or of all) a test-name search looks through: test results
    /// are indexed by run, not by name, so the search stays bounded.
    static let testSearchWindow = 200

    /// The conditions of the user and test searches, which need a lookup first: the user by name, and the runs
    /// among the latest ``testSearchWindow`` that have a test of that name (by `run_id`, indexed).
    func searchFilter(_ filters: Filters, scope: Scope) async throws -> Filter? {
        var filter: Filter?
        if !filters.user.isEmpty {
            let user = try await store.first(.users, matching: ["name": .string(filters.user)], scope: .everything)
            filter = filter && .equal("launched_by", user?.id ?? "")
        }
        if !filters.test.isEmpty {
            var recent = Filters([:])
            recent.job = filters.job
            let runs = try await store.list(
                .runs,
                query: try recent.query(limit: Self.testSearchWindow),
                scope: scope
            ).items.map(\.id)
            let having =
                runs.isEmpty
                ? []
                : try await store.list(
                    .testResults,
                    query: Query(
                        filter: .predicate(Condition("run_id", .in, runs)) && .equal("name", filters.test),
                        limit: runs.count * 4,
                        fields: ["run_id"]
                    ),
                    scope: scope
                ).items.compactMap { $0.string("run_id") }
            filter = filter && .predicate(Condition("id", .in, having.isEmpty ? [""] : Array(Set(having))))
        }
        return filter
    }

    /// The table's rows, with the names of jobs, profiles, testbeds and launchers looked up in bulk, and why the
    /// queued ones wait.
    func runRows(_ runs: [Record], scope: Scope) async throws -> [[String: Any]] {
        let names = try await NameLookup(store: store).names(
            for: runs,
            fields: [
                "definition_id": .definitions, "profile_id": .profiles, "testbed_id": .testbeds, "launched_by": .users,
            ],
            scope: scope
        )
        let waiting = try await waits.explain(runs.map(Run.init(unchecked:)), scope: scope)
        return runs.map { run in
            var row = Self.row(run, names: names)
            if let wait = waiting[run.id] { row["wait"] = wait.short }
            return row
        }
    }

    /// What a finished run's status badge adds: a killed run timed out or was canceled (its reason).
    static func statusNote(status: String, reason: String?) -> String {
        guard status == RunStatus.killed.rawValue, let reason else { return "" }
        switch reason {
        case "timeout": return "timed out"
        case "canceled": return "canceled"
        default: return reason
        }
    }

    static func row(_ run: Record, names: [String: String]) -> [String: Any] {
        let status = run.string("status") ?? ""
        let failed = (run.int("tests_failed") ?? 0) + (run.int("tests_errored") ?? 0)
        return [
            "id": run.id, "name": run.name ?? run.id, "status": status, "status_class": Format.statusClass(status),
            "number": run.int("seq").map { "#\($0)" } ?? "",
            "status_note": statusNote(status: status, reason: run.string("reason")),
            "job": run.string("definition_id").flatMap { names[$0] } ?? "", "job_id": run.string("definition_id") ?? "",
            "profile": run.string("profile_id").flatMap { names[$0] } ?? "",
            "testbed": run.string("testbed_id").flatMap { names[$0] } ?? "",
            "launched_by": run.string("launched_by").flatMap { names[$0] } ?? "",
            "created": Format.time(run.int("created_at")), "started": Format.time(run.int("started_at")),
            "duration": Format.duration(run["duration"].doubleValue), "passed": run.int("tests_passed") ?? 0,
            "failed": failed,
            "total": run.int("tests_total") ?? 0, "has_tests": (run.int("tests_total") ?? 0) > 0,
            "has_failures": failed > 0,
            "tags": run.strings("tags"),
        ]
    }

    // MARK: One run

    @Sendable func run(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let session = try PageSession(request, context)
        let scope = session.principal.scope
        let run = try await requireRun(context, scope: scope)
        let failedOnly = request.uri.queryParameters["tests"] == "failed"
        var data = try await liveData(run, scope: scope, failedOnly: failedOnly)
        data["csrf"] = session.csrf
        if request.uri.queryParameters["fragment"] == "live" {
            return DashboardRenderer.html(try renderer.render("run_live", data))
        }
        let slice = try await services.logs.read(runID: run.id, from: 0, maxBytes: 1 << 20)
        data["log"] = slice.text
        data["log_next"] = slice.next
        // Follow the log live while the run runs, or to fetch the rest of a long one.
        data["log_follow"] =
            !(RunStatus(rawValue: run.string("status") ?? "")?.isTerminal ?? false) || slice.next < slice.end
        data["log_stream"] = "/ui/runs/\(run.id)/log/stream"
        return try renderer.page(
            "run",
            title: "\(run.name ?? run.id) · Run · Proctor",
            section: "runs",
            session: session,
            data: data
        )
    }

    /// The parts of a run's page that change while it runs: status, actions, timeline, tests and files.
    func liveData(_ run: Record, scope: Scope, failedOnly: Bool) async throws -> [String: Any] {
        let names = try await NameLookup(store: store).names(
            for: [run],
            fields: [
                "definition_id": .definitions, "profile_id": .profiles, "testbed_id": .testbeds, "launched_by": .users,
                "previous_run_id": .runs,
            ],
            scope: scope
        )
        var data = Self.row(run, names: names)
        let status = RunStatus(rawValue: run.string("status") ?? "") ?? .new
        data["terminal"] = status.isTerminal
        data["cancelable"] = !status.isTerminal
        data["cancel_requested"] = run.bool("cancel_requested") == true && !status.isTerminal
        data["relaunchable"] = run.string("definition_id") != nil
        data["reason"] = run.string("reason") ?? ""
        data["exit_code"] = run.int("exit_code").map(String.init) ?? ""
        data["finished"] = Format.time(run.int("finished_at"))
        data["executor"] = run.string("executor") ?? ""
        data["skipped"] = run.int("tests_skipped") ?? 0
        if let wait = try await waits.explain(Run(unchecked: run), scope: scope) {
            data["wait"] = wait.sentence
            if let blocking = wait.blockingRunID { data["wait_run"] = "/runs/\(blocking)" }
        }
        if let previous = run.string("previous_run_id") {
            data["previous"] = ["id": previous, "name": names[previous] ?? previous]
        }
        let events = try await store.list(
            .runEvents,
            query: Query(filter: .equal("run_id", run.id), sort: [SortKey("seq")], limit: 500),
            scope: scope
        ).items
        data["events"] = events.map { event -> [String: Any] in
            let status = event.string("status") ?? ""
            return [
                "status": status, "status_class": Format.statusClass(status),
                "time": Format.time(event.int("created_at")),
                "comment": event.string("comment") ?? "",
            ]
        }
        var testFilter: Filter = .equal("run_id", run.id)
        if failedOnly { testFilter = testFilter && .predicate(Condition("status", .in, ["failed", "error"])) }
        let tests = try await store.list(
            .testResults,
            query: Query(filter: testFilter, sort: [SortKey("seq")], limit: 1000),
            scope: scope
        )
        data["tests"] = tests.items.map { test -> [String: Any] in
            let status = test.string("status") ?? ""
            let mark = test.string("regression") ?? ""
            return [
                "status": status, "status_class": Format.statusClass(status),
                "classname": test.string("classname") ?? "",
                "name": test.name ?? "", "time": String(format: "%.2f s", test["time"].doubleValue ?? 0),
                "message": test.string("message") ?? "", "mark": ["REGRESSED", "RECOVERED"].contains(mark) ? mark : "",
                "mark_class": Format.statusClass(mark),
                "history": run.string("definition_id").map {
                    Self.historyLink(jobID: $0, classname: test.string("classname") ?? "", name: test.name ?? "")
                } ?? "",
            ]
        }
        data["tests_more"] = tests.nextCursor != nil
        data["tests_failed_only"] = failedOnly
        data["no_tests"] = tests.items.isEmpty
        let files = try await store.list(
            .files,
            query: Query(filter: .equal("run_id", run.id), sort: [SortKey("created_at")], limit: 200),
            scope: scope
        )
        data["files"] = files.items.map { file -> [String: Any] in
            [
                "id": file.id, "name": file.name ?? file.id, "size": Format.bytes(file.int("size")),
                "mime": file.string("mime") ?? "",
            ]
        }
        data["no_files"] = files.items.isEmpty
        return data
    }

    /// The whole console log as a plain-text attachment, read slice by slice so that a long log is never held
    /// in memory at once.
    @Sendable func logDownload(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let run = try await requireRun(context, scope: context.principal.scope)
        let logs = services.logs
        let runID = run.id
        let body = ResponseBody { writer in
            var cursor: Int64 = 0
            while true {
                let slice = try await logs.read(runID: runID, from: cursor, maxBytes: 1 << 20)
                if slice.text.isEmpty || slice.next <= cursor { break }
                try await writer.write(ByteBuffer(string: slice.text))
                cursor = slice.next
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/plain; charset=utf-8",
                .contentDisposition: "attachment; filename=\"run-\(run.int("seq").map(String.init) ?? run.id).log\"",
                .cacheControl: "no-store",
            ],
            body: body
        )
    }

    // MARK: Actions

    @Sendable func cancel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await services.lifecycle.cancel(
            runID: try context.parameters.require("id"),
            principal: principal,
            scope: principal.scope
        )
        return Self.redirect("/runs/\(run.id)")
    }

    @Sendable func relaunch(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, scope: principal.scope)
        let launched = try await services.lifecycle.relaunch(
            runID: run.id,
            principal: principal,
            scope: principal.scope
        )
        return Self.redirect("/runs/\(launched.id)")
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    func requireRun(_ context: AuthenticatedContext, scope: Scope) async throws -> Record {
        let id = try context.parameters.require("id")
        guard let run = try await store.get(.runs, id: id, scope: scope) else {
            throw ProctorError.notFound("There is no run \(id) (or it belongs to a group you are not in).")
        }
        return run
    }
}

/// The names behind the ids a page shows, read in one `IN` query per kind.
struct NameLookup {
    let store: any StoreReader

    func names(for records: [Record], fields: [String: ResourceKind], scope: Scope) async throws -> [String: String] {
        var names: [String: String] = [:]
        for (field, kind) in fields {
            let ids = Set(records.compactMap { $0.string(field) }).subtracting(names.keys)
            guard !ids.isEmpty else { continue }
            let rows = try await store.list(
                kind,
                query: Query(filter: .predicate(Condition("id", .in, Array(ids))), limit: ids.count, fields: ["name"]),
                scope: kind.schema.grouped ? scope : .everything
            ).items
            for row in rows { names[row.id] = row.name ?? row.id }
        }
        return names
    }
}
