import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// Files: `POST /files` takes a raw body of any content type (never parsed as JSON: `dcictl job-upload-file`
/// without `--mime` sends `Content-Type: application/json` over arbitrary bytes) with its metadata in the
/// `DCI-JOB-ID` or `DCI-JOBSTATE-ID`, `DCI-NAME`, `DCI-MIME` and `DCI-MD5` headers; a JUnit file becomes test
/// results. `GET /files`, `GET /files/{id}`, `GET /files/{id}/content`, `DELETE /files/{id}` and
/// `GET /jobs/{id}/files` read and archive them.
struct DCIFileController {
    let api: DCIAPI

    func addRoutes(to group: DoorRoutes) {
        group.post("files", use: create)
        group.get("files", use: list)
        group.get("files/:id", use: get)
        group.get("files/:id/content", use: content)
        group.delete("files/:id", use: delete)
        group.get("jobs/:id/files", use: listForJob)
    }

    private func header(_ request: Request, _ name: String) -> String? {
        guard let field = HTTPField.Name(name), let value = request.headers[field], !value.isEmpty else { return nil }
        return value
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        var jobID = header(request, "DCI-JOB-ID")
        let jobstateID = header(request, "DCI-JOBSTATE-ID")
        guard jobID != nil || jobstateID != nil else {
            throw DCIError(.badRequest, "HTTP headers DCI-JOBSTATE-ID or DCI-JOB-ID must be specified")
        }
        guard let name = header(request, "DCI-NAME") else {
            throw DCIError(.badRequest, "HTTP header DCI-NAME must be specified")
        }
        var event: Record?
        if let jobstateID {
            let jobstate = try await api.require(.jobstates, id: jobstateID, principal: principal)
            event = jobstate
            if jobID == nil { jobID = jobstate.string("run_id") }
        }
        let job = try await api.require(.jobs, id: jobID ?? "", principal: principal)
        try api.requireWrite(job, principal: principal)

        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: api.maxFileBytes)
        } catch {
            throw DCIError(.contentTooLarge, "the file is larger than \(api.maxFileBytes) bytes")
        }
        let data = Data(buffer.readableBytesView)
        let declared = header(request, "DCI-MIME")
        let junit = DCIResults.isJUnit(mime: declared, body: data)
        let mime = declared ?? (junit ? "application/junit" : "text/plain")
        var fields: [String: Value] = [:]
        if let event { fields["event_id"] = .string(event.id) }
        let file =
            junit
            ? try await DCIResults(api: api).storeAndIngest(
                data: data,
                job: job,
                name: name,
                mime: mime,
                fields: fields
            )
            : try await api.services.files.store(
                data: data,
                runID: job.id,
                groupID: job.groupID ?? "",
                name: name,
                mime: mime,
                fields: fields
            )
        return DCIRender.one("file", DCIRender.file(file), etag: file.etag, status: .created)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        return try await api.list(.files, request, principal: principal) { $0.map(DCIRender.file) }
    }

    @Sendable func listForJob(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        return try await api.list(.files, request, principal: principal, extra: .equal("run_id", job.id), parent: job) {
            $0.map(DCIRender.file)
        }
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let file = try await api.require(.files, id: try context.parameters.require("id"), principal: principal)
        return DCIRender.one("file", DCIRender.file(file), etag: file.etag)
    }

    /// The bytes, with the stored type, as an attachment named after the file (spaces become `_`), streamed from
    /// the file store (a store that cannot be reached is a 503).
    @Sendable func content(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let file = try await api.require(.files, id: try context.parameters.require("id"), principal: principal)
        let content: StoredContent
        do {
            content = try await api.services.files.content(of: file)
        } catch let error as ProctorError where error.code == .notFound {
            throw DCIError.notFound("file")
        }
        var headers: HTTPFields = [:]
        headers[.contentType] = file.string("mime") ?? "text/plain"
        let filename = (file.name ?? "file").replacingOccurrences(of: " ", with: "_").replacingOccurrences(
            of: "\"",
            with: "_"
        )
        headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
        return Response(status: .ok, headers: headers, body: .streaming(content))
    }

    /// `DELETE /files/{id}` archives the file (no If-Match, as dciclient sends none) and drops its results summary.
    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let file = try await api.require(.files, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(file, principal: principal)
        try await ReportedRuns(services: api.services).archiveFile(StoredFile(unchecked: file), scope: principal.scope)
        if let jobID = file.string("run_id") { try await DCIResults(api: api).remove(fileID: file.id, from: jobID) }
        return Response(status: .noContent)
    }
}
