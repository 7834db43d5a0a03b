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
        let body = try await JSONResponse.decode(AgentRegistration.self, from: request, limit: maxJSONBytes)
        let groupID: String
        if let groupName = body.group {
            guard let membership = principal.memberships.first(where: { $0.groupName == groupName }) else {
                throw ProctorError.notFound("no such group: \(groupName)")
            }
            groupID = membership.groupID
        } else if let first = principal.memberships.first(where: { $0.role >= .member }) {
            groupID = first.groupID
        } else {
            throw ProctorError(.forbidden, "an agent's token must belong to a member of a group")
        }
        let agent = try await services.agents.register(
            name: body.name,
            groupID: groupID,
            labels: body.labels,
            version: body.version,
            slots: body.slots,
            principal: principal
        )
        return JSONResponse.make(agent.record, status: .ok)
    }

    /// Long-polls (`wait`, default 20 s, max 60) for a run this agent may execute: 200 with the run, or 204.
    @Sendable func claim(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let agent = try await requireAgent(context, principal)
        let wait = min(60, Int(request.uri.queryParameters["wait"] ?? "20") ?? 20)
        let groups = principal.isSiteAdmin ? nil : principal.memberships.filter { $0.role >= .member }.map(\.groupID)
        let labels = Set(agent.labels)
        let claimant = AgentRegistry.claimant(agent)
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            let generation = await services.events.runGeneration
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
            await services.events.waitForRuns(
                after: generation,
                timeout: min(.seconds(1), deadline - ContinuousClock.now)
            )
        }
    }

    /// `{"claimant"}` → `{"action": "keep" | "cancel" | "lost"}`.
    @Sendable func heartbeat(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let body = try await JSONResponse.decode(AgentHeartbeat.self, from: request, limit: maxJSONBytes)
        let (run, claimant) = try await claimedRun(body.claimant, context, principal)
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
        let body = try await JSONResponse.decode(AgentPhaseReport.self, from: request, limit: maxJSONBytes)
        let (run, claimant) = try await claimedRun(body.claimant, context, principal)
        guard run.claimedBy == claimant else {
            throw ProctorError.conflict("the run is no longer claimed by \(claimant)", field: "claimant")
        }
        let updated = try await services.lifecycle.advance(
            runID: run.id,
            to: try RunStatus.parse(body.status),
            reason: body.reason,
            changes: body.exitCode.map { [.exitCode: .int($0)] } ?? [:]
        )
        return JSONResponse.make(updated.publicJSON())
    }

    private func requireAgent(_ context: AuthenticatedContext, _ principal: Principal) async throws -> Agent {
        let id = try context.parameters.require("id")
        guard let agent = try await store.get(Agent.self, id: id, scope: principal.scope) else {
            throw ProctorError.notFound("no such agent: \(id)")
        }
        try principal.require(.member, in: agent.groupID ?? "", resource: "agent")
        return agent
    }

    /// The run of the path and the claimant the agent names, after checking the caller may act on the run.
    private func claimedRun(_ claimant: String, _ context: AuthenticatedContext, _ principal: Principal) async throws
        -> (Run, String)
    {
        let id = try context.parameters.require("id")
        guard let run = try await store.get(Run.self, id: id, scope: principal.scope) else {
            throw ProctorError.notFound("no such run: \(id)")
        }
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        guard !claimant.isEmpty else {
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
                            "version": SchemaDoc.string,
                            "slots": SchemaDoc.integer(minimum: 1, maximum: AgentRegistration.maxSlots),
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
