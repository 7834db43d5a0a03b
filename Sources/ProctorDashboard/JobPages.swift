import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The jobs (`/jobs`) and a job's page (`/jobs/:id`): its profiles, the launch form, its recent runs with a
/// pass-rate trend drawn on the server as inline SVG, and its flaky tests.
struct JobPages {
    let services: RunServices
    let renderer: DashboardRenderer
    /// The local executor's slots, for why the job's queued runs wait.
    let localExecutorSlots: Int
    /// How many runs the history, the trend and the flaky-test window cover.
    static let historySize = 20
    static let trendSize = 30
    static let flakyWindow = 10
    /// How many of a job's latest runs the jobs page looks through for its last success.
    static let lastSuccessWindow = 50

    var store: any StoreReader { services.store }

    func addRoutes(to pages: RouterGroup<AuthenticatedContext>) {
        pages.get("jobs", use: jobs)
        pages.get("jobs/:id", use: job)
        pages.post("jobs/:id/launch", use: launch)
    }

    @Sendable func jobs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let session = try PageSession(request, context)
        let definitions = try await store.list(
            .definitions,
            query: Query(filter: .equal("deleted", "false"), sort: [SortKey("name")], limit: 500),
            scope: session.principal.scope
        ).items
        let outcomes = try await RunHistory(store: store).lastOutcomes(
            definitionIDs: definitions.map(\.id),
            window: Self.lastSuccessWindow,
            scope: session.principal.scope
        )
        let rows = definitions.map { definition -> [String: Any] in
            var row: [String: Any] = [
                "id": definition.id, "name": definition.name ?? definition.id,
                "description": definition.string("description") ?? "",
                "harness": definition.string("harness") ?? "", "tags": definition.strings("tags"),
                "disabled": definition.string("configuration_state") == "DISABLED",
            ]
            if let latest = outcomes[definition.id]?.latest {
                let status = latest.string(.status) ?? ""
                row["last"] = [
                    "id": latest.id, "status": status, "status_class": Format.statusClass(status),
                    "note": RunPages.statusNote(status: status, reason: latest.string(.reason)),
                    "time": Format.time(latest.int(.createdAt)),
                ]
            }
            if let success = outcomes[definition.id]?.lastSuccess {
                row["success"] = ["id": success.id, "time": Format.time(success.int(.createdAt))]
            }
            return row
        }
        return try renderer.page(
            "jobs",
            title: "Jobs · Proctor",
            section: "jobs",
            session: session,
            data: ["jobs": rows, "empty": rows.isEmpty]
        )
    }

    @Sendable func job(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let session = try PageSession(request, context)
        let scope = session.principal.scope
        let definition = try await requireJob(context, scope: scope)
        let groupScope = Scope.groups([definition.groupID ?? ""])
        let profiles = try await store.list(
            .profiles,
            query: Query(filter: .equal("definition_id", definition.id), sort: [SortKey("name")], limit: 200),
            scope: scope
        ).items
        let names = try await NameLookup(store: store).names(
            for: profiles,
            fields: ["engine_id": .engines, "config_id": .configs],
            scope: scope
        )
        let testbeds = try await store.list(
            .testbeds,
            query: Query(sort: [SortKey("name")], limit: 500, fields: ["name"]),
            scope: groupScope
        ).items
        let testbedNames = Dictionary(uniqueKeysWithValues: testbeds.map { ($0.id, $0.name ?? $0.id) })
        let history = RunHistory(store: store)
        let recent = try await history.recentRuns(definitionID: definition.id, limit: Self.historySize, scope: scope)
        let trend = try await history.trend(definitionID: definition.id, limit: Self.trendSize, scope: scope)
        let flaky = try await history.flakyTests(definitionID: definition.id, lastRuns: Self.flakyWindow, scope: scope)
        let data: [String: Any] = [
            "id": definition.id, "name": definition.name ?? definition.id,
            "description": definition.string("description") ?? "",
            "harness": definition.string("harness") ?? "", "job_file": definition.string("job_file") ?? "",
            "tags": definition.strings("tags"),
            "profiles": profiles.map { profile -> [String: Any] in
                [
                    "id": profile.id, "name": profile.name ?? profile.id,
                    "is_default": profile.bool("is_default") == true,
                    "priority": profile.int("priority") ?? 4,
                    "engine": profile.string("engine_id").flatMap { names[$0] } ?? "",
                    "config": profile.string("config_id").flatMap { names[$0] } ?? "",
                    "profile_testbeds": profile.strings("testbed_ids").map { testbedNames[$0] ?? $0 }.joined(
                        separator: ", "
                    ),
                    "max_run_time": Format.duration(profile.int("max_run_time").map(Double.init)),
                ]
            },
            "no_profiles": profiles.isEmpty,
            "testbeds": testbeds.map { ["id": $0.id, "name": $0.name ?? $0.id] },
            "has_testbeds": !testbeds.isEmpty,
            "can_launch": session.principal.has(.member, in: definition.groupID ?? ""),
            "rows": try await RunPages(services: services, renderer: renderer, localExecutorSlots: localExecutorSlots)
                .runRows(recent.map(\.record), scope: scope),
            "no_runs": recent.isEmpty,
            "trend_svg": TrendChart.svg(trend),
            "trend_points": trend.count,
            "has_trend": trend.contains { $0.passRate != nil },
            "flaky": flaky.map { test -> [String: Any] in
                [
                    "classname": test.classname, "name": test.name, "flips": test.flips, "passes": test.passes,
                    "failures": test.failures,
                    "outcomes": test.outcomes.map { ["outcome": $0, "class": Format.statusClass($0)] },
                ]
            },
            "no_flaky": flaky.isEmpty,
            "flaky_window": Self.flakyWindow,
        ]
        return try renderer.page(
            "job",
            title: "\(definition.name ?? definition.id) · Job · Proctor",
            section: "jobs",
            session: session,
            data: data
        )
    }

    /// The launch form: `profile`, `testbed` (any number; one run per testbed, none = the profile's),
    /// `name`, `tags` (comma-separated) and `options` (a JSON object).
    @Sendable func launch(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let definition = try await requireJob(context, scope: principal.scope)
        var request = request
        let form = try await DashboardSession.form(&request, limit: 1 << 20)
        func field(_ name: String) -> String? {
            form[name]?.first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap {
                $0.isEmpty ? nil : $0
            }
        }
        var options: [String: JSONValue] = [:]
        if let text = field("options") {
            guard case .object(let object) = try? JSONValue.decode(Data(text.utf8)) else {
                throw ProctorError.badRequest(
                    "options must be a JSON object, like {\"KEY\": \"value\"}",
                    field: "options"
                )
            }
            options = object
        }
        let tags = (field("tags") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        let testbeds = (form["testbed"] ?? []).filter { !$0.isEmpty }
        var launched: [Run] = []
        for testbed in testbeds.isEmpty ? [nil] : testbeds.map(Optional.some) {
            launched.append(
                try await services.lifecycle.launch(
                    LaunchRequest(
                        definition: definition.id,
                        profile: field("profile"),
                        testbed: testbed,
                        name: field("name"),
                        parameters: options,
                        tags: tags,
                        labels: [:]
                    ),
                    principal: principal,
                    scope: principal.scope
                )
            )
        }
        if launched.count == 1, let run = launched.first { return RunPages.redirect("/runs/\(run.id)") }
        return RunPages.redirect("/?job=\(definition.id)")
    }

    private func requireJob(_ context: AuthenticatedContext, scope: Scope) async throws -> Record {
        let id = try context.parameters.require("id")
        guard let job = try await store.get(.definitions, id: id, scope: scope) else {
            throw ProctorError.notFound("There is no job \(id) (or it belongs to a group you are not in).")
        }
        return job
    }
}

/// A pass-rate line chart as inline SVG, drawn on the server (no script, no library).
enum TrendChart {
    static let width = 800.0
    static let height = 180.0
    static let margin = 40.0

    /// The chart's markup. Only numbers and fixed words go into it, so it needs no escaping.
    static func svg(_ points: [RunHistory.Point]) -> String {
        let rated = points.enumerated().compactMap { index, point in point.passRate.map { (index, point, $0) } }
        guard !rated.isEmpty else { return "" }
        let span = max(1, Double(points.count - 1))
        func x(_ index: Int) -> Double { margin + (width - 2 * margin) * Double(index) / span }
        func y(_ rate: Double) -> Double { margin / 2 + (height - margin) * (1 - rate) }
        var out = """
            <svg class="trend" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="Pass rate of the last \(points.count) finished runs, oldest left" xmlns="http://www.w3.org/2000/svg">
            """
        for rate in [0.0, 0.5, 1.0] {
            let level = y(rate)
            out +=
                "<line x1=\"\(margin)\" y1=\"\(level)\" x2=\"\(width - margin / 2)\" y2=\"\(level)\" class=\"grid\"/>"
            out += "<text x=\"2\" y=\"\(level + 4)\" class=\"axis\">\(Int(rate * 100))%</text>"
        }
        let line = rated.map { "\(String(format: "%.1f", x($0.0))),\(String(format: "%.1f", y($0.2)))" }.joined(
            separator: " "
        )
        out += "<polyline points=\"\(line)\" class=\"rate\"/>"
        for (index, point, rate) in rated {
            let kind = rate >= 1 ? "ok" : rate <= 0 ? "bad" : "mixed"
            out +=
                "<circle cx=\"\(String(format: "%.1f", x(index)))\" cy=\"\(String(format: "%.1f", y(rate)))\" r=\"4\" class=\"\(kind)\">"
            out +=
                "<title>\(Format.time(point.createdAt)): \(point.passed)/\(point.passed + point.failed) passed</title></circle>"
        }
        return out + "</svg>"
    }
}
