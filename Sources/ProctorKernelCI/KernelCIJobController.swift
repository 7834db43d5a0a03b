import Foundation
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `/job` (and `/jobs`): list and read jobs, their distinct values and logs summaries, set a job's status,
/// delete a job (`handlers/job.py`, `distinct.py`, `job_logs.py`).
struct KernelCIJobController {
    let api: KernelCIAPI

    var store: any StoreReader { api.store }

    func addRoutes(to group: RouterGroup<AuthenticatedContext>, preflights open: RouterGroup<AppRequestContext>) {
        for base in ["job", "jobs"] {
            group.get(RouterPath(base), use: list)
            group.get(RouterPath("\(base)/distinct/:field"), use: distinct)
            group.get(RouterPath("\(base)/logs"), use: logs)
            group.get(RouterPath("\(base)/:id"), use: get)
            group.get(RouterPath("\(base)/:id/logs"), use: jobLogs)
            group.post(RouterPath(base), use: setStatus)
            group.post(RouterPath("\(base)/:id"), use: setStatus)
            group.delete(RouterPath(base)) { _, _ -> Response in
                throw KernelCIError(.badRequest, "No ID value specified")
            }
            group.delete(RouterPath("\(base)/:id"), use: delete)
            group.put(RouterPath(base), use: notImplemented)
            group.put(RouterPath("\(base)/:id"), use: notImplemented)
            for path in ["\(base)/distinct/:field", "\(base)/logs", "\(base)/:id/logs"] {
                group.post(RouterPath(path), use: notImplemented)
                group.put(RouterPath(path), use: notImplemented)
                group.delete(RouterPath(path), use: notImplemented)
            }
            KernelCIAPI.addFallbacks(
                [base, "\(base)/:id", "\(base)/distinct/:field", "\(base)/logs", "\(base)/:id/logs"],
                to: group,
                preflights: open
            )
        }
    }

    @Sendable func notImplemented(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        throw KernelCIError.notImplemented
    }

    // MARK: GET

    /// `GET /job`: every query parameter of the original (see ``KernelCIQuery``); unknown ones are ignored.
    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let parsed = parse(request, filterKeys: KernelCIJob.filterKeys)
        let projection = KernelCIProjection(fields: parsed.fields, excluded: parsed.excludedFields)
        let listing = try await api.jobs(
            filter: KernelCIJob.jobsOnly(parsed.filter.map(KernelCIJob.translate)),
            window: parsed.window,
            sort: parsed.sort.compactMap(KernelCIJob.sortKey),
            columns: KernelCIJob.columns(for: projection),
            skip: parsed.skip,
            requestedLimit: parsed.limit,
            cap: api.options.maxLimit,
            scope: principal.scope
        )
        return KernelCIResponse.list(
            listing.items.map { KernelCIJob.document($0, projection: projection) },
            count: listing.total,
            limit: listing.limit,
            skip: parsed.skip,
            request: request
        )
    }

    /// `GET /job/<id>`: one job, still as a list; `field` / `nfield` apply.
    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        let run = try await requireJob(
            id,
            principal: principal,
            malformed: "Wrong ID value provided",
            missing: "Resource '\(id)' not found"
        )
        let parsed = parse(request, filterKeys: [])
        let projection = KernelCIProjection(fields: parsed.fields, excluded: parsed.excludedFields)
        return KernelCIResponse.list(
            [KernelCIJob.document(run.record, projection: projection)],
            count: 1,
            limit: 0,
            request: request
        )
    }

    /// `GET /job/distinct/<field>`: the unique values of a field among the jobs the filters match.
    ///
    /// Values come newest-looking first (descending, as the original's examples show them); `sort_order=1`
    /// ascends. `skip` and `limit` apply to the values.
    @Sendable func distinct(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let field = try context.parameters.require("field")
        guard KernelCIJob.distinctFields.contains(field) else {
            throw KernelCIError(.badRequest, "No field specified or field not valid")
        }
        let parameters = KernelCIAPI.parameters(request)
        let parsed = KernelCIQuery.parse(parameters, filterKeys: KernelCIJob.filterKeys, now: api.now())
        let query = Query(filter: KernelCIJob.jobsOnly(parsed.filter.map(KernelCIJob.translate)), window: parsed.window)
        let unique = try await api.scans.distinctLabel(
            .runs,
            field,
            query: query,
            scanAtMost: api.options.maxSortScan,
            scope: principal.scope
        )
        let ascending =
            parameters.last { $0.0 == "sort_order" }.flatMap { Int($0.1.trimmingCharacters(in: .whitespaces)) } == 1
        var strings = unique.sorted()
        if !ascending { strings.reverse() }
        let limit = parsed.limit == 0 ? api.options.maxLimit : min(parsed.limit, api.options.maxLimit)
        strings = Array(strings.dropFirst(parsed.skip).prefix(limit))
        return KernelCIResponse.make(
            [
                "code": .number(200), "count": .number(Double(strings.count)),
                "result": .array(strings.map(JSONValue.string)),
            ],
            request: request
        )
    }

    /// `GET /job/<id>/logs`: the errors and warnings summary of one job's console.
    @Sendable func jobLogs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        let run = try await requireJob(
            id,
            principal: principal,
            malformed: "Wrong ID value provided",
            missing: "Resource '\(id)' not found"
        )
        let parsed = parse(request, filterKeys: [])
        let projection = KernelCIProjection(fields: parsed.fields, excluded: parsed.excludedFields)
        let summary = projection.apply(try await logsSummary(run.record))
        return KernelCIResponse.list([summary], count: 1, limit: 0, request: request)
    }

    /// `GET /job/logs?job=…&kernel=…`: the summaries of the jobs the filters match (at most
    /// ``KernelCIAPI/Options/maxLogSummaries`` per response).
    @Sendable func logs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let parsed = parse(request, filterKeys: KernelCIJob.logFilterKeys)
        let projection = KernelCIProjection(fields: parsed.fields, excluded: parsed.excludedFields)
        let sort = parsed.sort.map { $0.field == "job_id" ? SortKey("_id", descending: $0.descending) : $0 }
        let listing = try await api.jobs(
            filter: KernelCIJob.jobsOnly(parsed.filter.map(KernelCIJob.translate)),
            window: parsed.window,
            sort: sort.compactMap(KernelCIJob.sortKey),
            columns: nil,
            skip: parsed.skip,
            requestedLimit: parsed.limit,
            cap: api.options.maxLogSummaries,
            scope: principal.scope
        )
        var result: [JSONValue] = []
        for run in listing.items { result.append(projection.apply(try await logsSummary(run))) }
        return KernelCIResponse.list(
            result,
            count: listing.total,
            limit: listing.limit,
            skip: parsed.skip,
            request: request
        )
    }

    /// The original's error summary document, computed from the run's console rather than stored.
    private func logsSummary(_ run: Record) async throws -> JSONValue {
        let summary = try await api.services.logs.summary(runID: run.id)
        let labels = run["labels"].jsonValue?.objectValue ?? [:]
        func pairs(_ lines: [(Int, String)]) -> JSONValue {
            .array(lines.map { .array([.number(Double($0.0)), .string($0.1)]) })
        }
        var out: [String: JSONValue] = [
            "_id": KernelCIFormat.oid(run.seq), "job_id": KernelCIFormat.oid(run.seq),
            "created_on": KernelCIFormat.date(run["created_at"]), "errors": pairs(summary.errors),
            "warnings": pairs(summary.warnings), "mismatches": .array([]), "version": .string("1.0"),
        ]
        for field in ["job", "kernel", "git_branch"] { out[field] = labels[field] ?? .null }
        return .object(out)
    }

    // MARK: POST

    /// `POST /job {job, kernel, git_branch, status?}`: marks a job (default `PASS`).
    @Sendable func setStatus(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        let missing = ["git_branch", "job", "kernel"].filter { object[$0] == nil }
        guard missing.isEmpty else {
            throw KernelCIError.invalidJSON(["One or more mandatory keys are missing: " + Self.pythonList(missing)])
        }
        var notes: [String] = []
        let accepted: Set<String> = [
            "git_branch", "git_commit", "git_describe", "job", "kernel", "kernel_version", "status",
        ]
        let strange = object.keys.filter { !accepted.contains($0) }.sorted()
        if !strange.isEmpty {
            notes.append("Found non recognizable keys, they will not be considered: " + strange.joined(separator: ", "))
        }
        guard let job = object["job"]?.stringValue, let kernel = object["kernel"]?.stringValue,
            let branch = object["git_branch"]?.stringValue
        else { throw KernelCIError.invalidJSON(["job, kernel and git_branch must be strings"]) }

        var status = KernelCIStatus.pass
        if let value = object["status"], value != .null, value != .string("") {
            guard let text = value.stringValue, let chosen = KernelCIStatus(rawValue: text) else {
                let shown = value.stringValue ?? value.encodedString()
                throw KernelCIError(
                    .badRequest,
                    "Status value '\(shown)' is not valid, should be one of: \(KernelCIStatus.pythonList)"
                )
            }
            status = chosen
        }
        guard
            let run = try await api.reported.find(
                harness: KernelCIJob.harness,
                identity: ["job": job, "kernel": kernel, "git_branch": branch],
                scope: principal.scope
            )
        else { throw KernelCIError(.notFound, "Job '\(job)-\(kernel) (branch \(branch))' not found") }
        try api.requireWrite(run, principal)
        _ = try await api.services.lifecycle.report(
            runID: run.id,
            status: status.runStatus,
            comment: "KernelCI status \(status.rawValue)",
            scope: principal.scope
        )
        var body: [String: JSONValue] = [
            "code": .number(200),
            "reason": .string("Job '\(job)-\(kernel)' (branch \(branch)) marked as '\(status.rawValue)'"),
        ]
        if !notes.isEmpty { body["errors"] = .array(notes.map(JSONValue.string)) }
        return KernelCIResponse.make(body, request: request)
    }

    // MARK: DELETE

    /// `DELETE /job/<id>`: the job and its builds (the run with its results, events, console and files).
    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let id = try context.parameters.require("id")
        let run = try await requireJob(
            id,
            principal: principal,
            malformed: "Wrong ID specified",
            missing: "Resource not found"
        )
        try api.requireWrite(run, principal)
        guard try await api.reported.delete(runID: run.id, scope: principal.scope) else { throw KernelCIError.notFound }
        return KernelCIResponse.make(
            ["code": .number(200), "reason": .string("Resource '\(id)' deleted")],
            request: request
        )
    }

    // MARK: Helpers

    private func parse(_ request: Request, filterKeys: Set<String>) -> KernelCIQuery.Parsed {
        KernelCIQuery.parse(KernelCIAPI.parameters(request), filterKeys: filterKeys, now: api.now())
    }

    /// The job an id names: 400 when the id is not an ObjectId, 404 when no visible job has it.
    private func requireJob(_ id: String, principal: Principal, malformed: String, missing: String) async throws
        -> Run
    {
        guard KernelCIFormat.isObjectID(id) else { throw KernelCIError(.badRequest, malformed) }
        guard let seq = KernelCIFormat.seq(fromOID: id),
            let run = try await store.first(
                Run.self,
                matching: [.seq: .int(seq), .harness: .string(KernelCIJob.harness)],
                scope: principal.scope
            )
        else { throw KernelCIError(.notFound, missing) }
        return run
    }

    /// `['a', 'b']`, as Python prints a list of strings in the original's messages.
    static func pythonList(_ items: [String]) -> String {
        "[" + items.map { "'\($0)'" }.joined(separator: ", ") + "]"
    }
}
