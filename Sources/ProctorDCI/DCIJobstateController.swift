import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// Jobstates: `POST /jobstates {job_id, status, comment}` reports a status through the core lifecycle with DCI's
/// rules (any status may follow any; a failure or error while the job is new or pre-run is recorded as `error`
/// in the jobstate, while the job takes the posted status), and `GET /jobstates/{id}`.
///
/// Unlike the real server, a jobstate can only be posted to a job of the caller's team.
struct DCIJobstateController {
    let api: DCIAPI

    func addRoutes(to group: DoorRoutes) {
        group.post("jobstates", use: create)
        group.get("jobstates/:id", use: get)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        try api.allow(object, only: ["job_id", "status", "comment"])
        var missing: [String] = []
        if object["job_id"] == nil { missing.append("'job_id' is a required property") }
        if object["status"] == nil { missing.append("'status' is a required property") }
        guard missing.isEmpty else { throw DCIError.malformed(missing) }
        guard let jobID = try DCIJobInput.string(object, "job_id"), let status = try DCIJobInput.status(object) else {
            throw DCIError.malformed(["'job_id' and 'status' must not be null"])
        }
        let comment = try DCIJobInput.string(object, "comment")
        let job = try await api.require(.jobs, id: jobID, principal: principal)
        try api.requireWrite(job, principal: principal)
        let (_, event) = try await api.services.lifecycle.report(
            runID: job.id,
            status: status,
            comment: comment,
            scope: principal.scope
        )
        return DCIRender.one("jobstate", DCIRender.jobstate(event.record), etag: nil, status: .created)
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let event = try await api.require(.jobstates, id: try context.parameters.require("id"), principal: principal)
        return DCIRender.one("jobstate", DCIRender.jobstate(event), etag: nil)
    }
}
