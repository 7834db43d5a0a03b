import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The lab (`/lab/:section`): testbeds (busy or idle, and their queue), the queue (every waiting run and why it
/// waits), agents (online, labels, last seen, current run), engines, harnesses, topics and components, as tables
/// of cells.
struct LabPages {
    let store: any StoreReader
    let renderer: DashboardRenderer
    let waits: RunWaits

    static let sections: [(String, String)] = [
        ("testbeds", "Testbeds"), ("queue", "Queue"), ("agents", "Agents"), ("engines", "Engines"),
        ("harnesses", "Harnesses"),
        ("topics", "Topics"), ("components", "Components"),
    ]
    static let limit = 500

    func addRoutes(to pages: RouterGroup<AuthenticatedContext>) {
        pages.get("lab", use: { _, _ in RunPages.redirect("/lab/testbeds") })
        pages.get("lab/:section", use: section)
    }

    /// One cell: text, optionally a link or a status badge.
    struct Cell {
        var text: String
        var link: String?
        var badge: String?
        var items: [String] = []

        var data: [String: Any] {
            var out: [String: Any] = ["text": text, "items": items.map { ["item": $0] }]
            if let link { out["link"] = link }
            if let badge { out["badge"] = badge }
            return out
        }
    }

    @Sendable func section(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let session = try PageSession(request, context)
        let scope = session.principal.scope
        let name = try context.parameters.require("section")
        guard let title = Self.sections.first(where: { $0.0 == name })?.1 else {
            throw ProctorError.notFound("There is no lab page '\(name)'.")
        }
        let (columns, rows, hint) = try await table(name, scope: scope)
        let data: [String: Any] = [
            "section": title,
            "tabs": Self.sections.map { ["id": $0.0, "label": $0.1, "current": $0.0 == name] },
            "columns": columns.map { ["column": $0] },
            "rows": rows.map { cells in
                ["cells": zip(columns, cells).map { $1.data.merging(["label": $0]) { a, _ in a } }]
            },
            "empty": rows.isEmpty, "hint": hint,
        ]
        return try renderer.page("lab", title: "\(title) · Lab · Proctor", section: "lab", session: session, data: data)
    }

    private func list(_ kind: ResourceKind, scope: Scope, filter: Filter? = nil, sort: [SortKey] = [SortKey("name")])
        async throws -> [Record]
    {
        try await store.list(kind, query: Query(filter: filter, sort: sort, limit: Self.limit), scope: scope).items
    }

    private func state(_ text: String?) -> Cell {
        Cell(text: text ?? "", badge: Format.statusClass((text ?? "").lowercased()))
    }

    /// The active runs (by status, indexed) and the queued ones.
    private func activeAndQueued(scope: Scope) async throws -> (active: [Record], queued: [Record]) {
        let active = try await list(
            .runs,
            scope: scope,
            filter: .predicate(Condition("status", .in, RunStatus.allCases.filter(\.isActive).map(\.rawValue))),
            sort: [SortKey("created_at")]
        )
        let queued = try await list(
            .runs,
            scope: scope,
            filter: .equal("status", RunStatus.new.rawValue),
            sort: [SortKey("created_at")]
        )
        return (active, queued)
    }

    /// An agent is online while it says so and was heard from within the last two minutes (agents poll for
    /// work every few seconds); a crashed agent never says goodbye. The rule is the core's, which `/metrics`
    /// counts by too.
    static func agentState(_ agent: Record, now: Int64 = Timestamp.now()) -> String {
        AgentRegistry.isOnline(Agent(unchecked: agent), now: now) ? "online" : "offline"
    }

    private func runCell(_ runs: [Record]) -> Cell {
        guard let first = runs.first else { return Cell(text: "") }
        return Cell(
            text: (first.name ?? first.id) + (runs.count > 1 ? " (+\(runs.count - 1))" : ""),
            link: "/runs/\(first.id)"
        )
    }

    private func table(_ section: String, scope: Scope) async throws -> ([String], [[Cell]], String) {
        switch section {
        case "testbeds":
            let testbeds = try await list(.testbeds, scope: scope)
            let (active, queued) = try await activeAndQueued(scope: scope)
            let rows = testbeds.map { testbed -> [Cell] in
                let running = active.filter { $0.string("testbed_id") == testbed.id }
                let waiting = queued.filter { $0.string("testbed_id") == testbed.id }
                return [
                    Cell(text: testbed.name ?? testbed.id), state(running.isEmpty ? "idle" : "busy"), runCell(running),
                    waiting.isEmpty
                        ? Cell(text: "empty")
                        : Cell(text: "\(waiting.count) queued", link: "/?testbed=\(testbed.id)&status=new"),
                    Cell(text: "", items: testbed.strings("tags")),
                ]
            }
            return (
                ["Testbed", "State", "Current run", "Queue", "Tags"], rows,
                "Add testbeds to a lab file and apply it: proctor apply -f lab.yaml (see examples/lab.yaml)."
            )
        case "queue":
            let (_, queued) = try await activeAndQueued(scope: scope)
            let names = try await NameLookup(store: store).names(
                for: queued,
                fields: ["testbed_id": .testbeds],
                scope: scope
            )
            let why = try await waits.explain(queued.map(Run.init(unchecked:)), scope: scope)
            let rows = queued.map { run -> [Cell] in
                let wait = why[run.id]
                return [
                    Cell(text: run.name ?? run.id, link: "/runs/\(run.id)"), Cell(text: run.string("executor") ?? ""),
                    Cell(text: "", items: run.strings("engine_labels")),
                    Cell(text: run.string("testbed_id").flatMap { names[$0] } ?? ""),
                    Cell(text: Format.time(run.int("created_at"))),
                    Cell(text: wait?.short ?? "", link: wait?.blockingRunID.map { "/runs/\($0)" }),
                ]
            }
            return (
                ["Run", "Executor", "Labels", "Testbed", "Launched (UTC)", "Why it waits"], rows,
                "No run waits: every launched run was taken by an executor or an agent."
            )
        case "agents":
            let agents = try await list(.agents, scope: scope)
            let (active, _) = try await activeAndQueued(scope: scope)
            let rows = agents.map { agent -> [Cell] in
                [
                    Cell(text: agent.name ?? agent.id), state(Self.agentState(agent)),
                    Cell(text: "", items: agent.strings("labels")),
                    Cell(text: Format.time(agent.int("last_seen_at"))), Cell(text: agent.string("version") ?? ""),
                    Cell(text: String(agent.int("slots") ?? 1)),
                    runCell(
                        active.filter { $0.string("claimed_by") == AgentRegistry.claimant(Agent(unchecked: agent)) }
                    ),
                ]
            }
            return (
                ["Agent", "State", "Labels", "Last seen (UTC)", "Version", "Slots", "Current run"], rows,
                "Start an agent on a machine of the lab: proctor agent --name NAME --label linux (it registers itself)."
            )
        case "engines":
            let rows = try await list(.engines, scope: scope).map { engine -> [Cell] in
                [
                    Cell(text: engine.name ?? engine.id), Cell(text: engine.string("type") ?? ""),
                    state(engine.string("operational_state")),
                    Cell(text: engine.string("configuration_state") ?? ""),
                    Cell(text: "", items: engine.strings("labels")),
                    Cell(
                        text: [engine.string("site"), engine.string("bldg")].compactMap { $0 }.joined(separator: " / ")
                    ),
                ]
            }
            return (
                ["Engine", "Type", "Operational", "Configuration", "Labels", "Site"], rows,
                "Engines are declared in a lab file (engines:) and applied with proctor apply."
            )
        case "harnesses":
            let rows = try await list(.harnesses, scope: scope).map { harness -> [Cell] in
                [
                    Cell(text: harness.name ?? harness.id), Cell(text: harness.string("harness") ?? ""),
                    Cell(text: harness.string("path") ?? ""),
                    state(harness.string("operational_state")),
                    Cell(
                        text: [harness.string("site"), harness.string("bldg")].compactMap { $0 }.joined(
                            separator: " / "
                        )
                    ),
                ]
            }
            return (
                ["Harness", "Kind", "Path", "Operational", "Site"], rows,
                "Harnesses are declared in a lab file (harnesses:) and applied with proctor apply."
            )
        case "topics":
            let rows = try await list(.topics, scope: scope).map { topic -> [Cell] in
                [
                    Cell(text: topic.name ?? topic.id), state(topic.string("state")),
                    Cell(text: "", items: topic.strings("component_types")),
                ]
            }
            return (
                ["Topic", "State", "Component types"], rows,
                "Topics come from a lab file (topics:) or from DCI clients."
            )
        default:
            let components = try await list(.components, scope: scope, sort: [SortKey("created_at", descending: true)])
            let topics = try await NameLookup(store: store).names(
                for: components,
                fields: ["topic_id": .topics],
                scope: scope
            )
            let rows = components.map { component -> [Cell] in
                [
                    Cell(text: component.name ?? component.id), Cell(text: component.string("type") ?? ""),
                    Cell(text: component.string("topic_id").flatMap { topics[$0] } ?? ""),
                    state(component.string("state")),
                    Cell(text: Format.time(component.int("created_at"))),
                ]
            }
            return (
                ["Component", "Type", "Topic", "State", "Created (UTC)"], rows,
                "Components come from a lab file (components:) or are uploaded by DCI clients."
            )
        }
    }
}
