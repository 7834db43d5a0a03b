import Foundation
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// The agent API: remote `proctor agent` processes register, long-poll for work, heartbeat their leases and
/// report phases. Console output and result files go through the ordinary run endpoints.
package struct AgentController {
    let services: RunServices
    let maxJSONBytes: Int

    var store: any StoreReader { services.store }

    func addRoutes(to api: RouterGroup<AuthenticatedContext>) {
        api.mount(Self.routes, of: self, at: "/api/v1")
    }

    /// `{"name", "labels"?, "version"?, "slots"?, "group"?}`: creates or refreshes the agent (by name in its group).
    @Sendable func register(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let body = try await JSONResponse.object(request, limit: maxJSONBytes)
        guard let name = body["name"]?.stringValue, !name.isEmpty, name.count <= 200 else {
            throw ProctorError.badRequest("name is required (at most 200 characters)", field: "name")
        }
        let groupID: String
        if let groupName = body["group"]?.stringValue {
            guard let membership = principal.memberships.first(where: { $0.groupName == groupName }) else {
                throw ProctorError.notFound("no such group: \(groupName)")
            }
            groupID = membership.groupID
        } else if let first = principal.memberships.first(where: { $0.role >= .member }) {
            groupID = first.groupID
        } else {
            throw ProctorError(.forbidden, "an agent's token must belong to a member of a group")
        }
        let slots =
            body["slots"].flatMap {
                if case .number(let n) = $0, n >= 1, n <= 1024 { return Int(n) } else { return nil }
            } ?? 1
        let agent = try await services.agents.register(
            name: name,
            groupID: groupID,
            labels: body["labels"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            version: body["version"]?.stringValue,
            slots: slots,
            principal: principal
        )
        return JSONResponse.make(agent, status: .ok)
    }

    /// Long-polls (`wait`, default 20 s, max 60) for a run this agent may execute: 200 with the run, or 204.
    @Sendable func claim(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let agent = try await requireAgent(context, principal)
        let wait = min(60, Int(request.uri.queryParameters["wait"] ?? "20") ?? 20)
        let groups = principal.isSiteAdmin ? nil : principal.memberships.filter { $0.role >= .member }.map(\.groupID)
        let labels = Set(agent.strings("labels"))
        let claimant = AgentRegistry.claimant(agent)
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            let generation = await services.events.generation
            await services.agents.seen(agentID: agent.id)
            if let run = try await services.queue.claim(
                claimant: claimant,
                executor: .agent,
                labels: labels,
                groupIDs: groups
            ) {
                return JSONResponse.make(.object(["run": run.publicJSON(), "claimant": .string(claimant)]))
            }
            if ContinuousClock.now >= deadline || Task.isCancelled { return Response(status: .noContent) }
            await services.events.wait(after: generation, timeout: min(.seconds(1), deadline - ContinuousClock.now))
        }
    }

    /// `{"claimant"}` → `{"action": "keep" | "cancel" | "lost"}`.
    @Sendable func heartbeat(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let (run, claimant) = try await claimedRun(request, context, principal)
        let beat = try await services.queue.heartbeat(runID: run.id, claimant: claimant)
        let action: String
        switch beat {
        case .keep: action = "keep"
        case .cancel: action = "cancel"
        case .lost: action = "lost"
        }
        return JSONResponse.make(.object(["action": .string(action)]))
    }

    /// `{"claimant", "status", "reason"?, "exit_code"?}`: the agent moves its run to the next phase.
    @Sendable func advance(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let body = try await JSONResponse.object(request, limit: maxJSONBytes)
        let (run, claimant) = try await claimedRun(body, context, principal)
        guard run.string("claimed_by") == claimant else {
            throw ProctorError.conflict("the run is no longer claimed by \(claimant)", field: "claimant")
        }
        guard let text = body["status"]?.stringValue else {
            throw ProctorError.badRequest("status is required", field: "status")
        }
        let status = try RunStatus.parse(text)
        var changes: [Run.Field: Value] = [:]
        if case .number(let code) = body["exit_code"] ?? .null, code.isFinite, abs(code) < 1e9 {
            changes[.exitCode] = .int(Int64(code))
        }
        let updated = try await services.lifecycle.advance(
            runID: run.id,
            to: status,
            reason: body["reason"]?.stringValue,
            changes: changes
        )
        return JSONResponse.make(updated.publicJSON())
    }

    private func requireAgent(_ context: AuthenticatedContext, _ principal: Principal) async throws -> Record {
        let id = try context.parameters.require("id")
        guard let agent = try await store.get(.agents, id: id, scope: principal.scope) else {
            throw ProctorError.notFound("no such agent: \(id)")
        }
        try principal.require(.member, in: agent.groupID ?? "", resource: "agent")
        return agent
    }

    private func claimedRun(_ request: Request, _ context: AuthenticatedContext, _ principal: Principal) async throws
        -> (Record, String)
    {
        let body = try await JSONResponse.object(request, limit: maxJSONBytes)
        return try await claimedRun(body, context, principal)
    }

    private func claimedRun(_ body: [String: JSONValue], _ context: AuthenticatedContext, _ principal: Principal)
        async throws -> (Record, String)
    {
        let id = try context.parameters.require("id")
        guard let run = try await store.get(.runs, id: id, scope: principal.scope) else {
            throw ProctorError.notFound("no such run: \(id)")
        }
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        guard let claimant = body["claimant"]?.stringValue, !claimant.isEmpty else {
            throw ProctorError.badRequest("claimant is required (as returned by the claim)", field: "claimant")
        }
        if claimant.hasPrefix("agent:") {
            let agentID = String(claimant.dropFirst("agent:".count))
            await services.agents.seen(agentID: agentID, scope: principal.scope)
        }
        return (run, claimant)
    }
}

extension AgentController {
    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<AgentController, AuthenticatedContext>] = [
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/agents/register",
                "Register a remote agent",
                tag: "agents",
                body: .json(
                    SchemaDoc.object(
                        [
                            "name": SchemaDoc.string(minLength: 1, maxLength: 200),
                            "labels": SchemaDoc.array(SchemaDoc.string),
                            "version": SchemaDoc.string, "slots": SchemaDoc.integer(minimum: 1, maximum: 1000),
                            "group": SchemaDoc.string,
                        ],
                        required: ["name"]
                    )
                ),
                replies: [.ok(SchemaDoc.ref("Agent"), "Registered or refreshed.")]
            ),
            { $0.register }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/agents/{id}/claim",
                "Long-poll for a run to execute",
                tag: "agents",
                parameters: [
                    .query(
                        "wait",
                        "Seconds to wait (default 20, at most 60).",
                        SchemaDoc.integer(minimum: 0, maximum: 60)
                    )
                ],
                replies: [
                    .ok(
                        SchemaDoc.object(["run": SchemaDoc.ref("Run"), "claimant": SchemaDoc.string]),
                        "A run, now leased to this agent."
                    ),
                    .noContent("Nothing to do yet."),
                ]
            ),
            { $0.claim }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/runs/{id}/heartbeat",
                "Extend a claimed run's lease",
                tag: "agents",
                body: .json(SchemaDoc.object(["claimant": SchemaDoc.string(minLength: 1)], required: ["claimant"])),
                replies: [.ok(SchemaDoc.object(["action": SchemaDoc.enumeration(["keep", "cancel", "lost"])]))]
            ),
            { $0.heartbeat }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/runs/{id}/advance",
                "Move a claimed run to its next phase",
                tag: "agents",
                body: .json(
                    SchemaDoc.object(
                        [
                            "claimant": SchemaDoc.string(minLength: 1),
                            "status": SchemaDoc.enumeration(RouteRegistry.runStatuses),
                            "reason": SchemaDoc.string, "exit_code": SchemaDoc.integer,
                        ],
                        required: ["claimant", "status"]
                    )
                ),
                replies: [.ok(SchemaDoc.ref("Run"))]
            ),
            { $0.advance }
        ),
    ]
}
