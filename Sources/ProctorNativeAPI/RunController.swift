import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit
import ServiceLifecycle

/// Runs over the native API beyond plain CRUD: launch, cancel, client-reported status, events (long-poll and
/// server-sent events), files, test results and the console log (append, range reads, follow).
package struct RunController {
    let services: RunServices
    let maxJSONBytes: Int
    let maxFileBytes: Int

    package init(services: RunServices, maxJSONBytes: Int, maxFileBytes: Int) {
        self.services = services
        self.maxJSONBytes = maxJSONBytes
        self.maxFileBytes = maxFileBytes
    }

    var store: any StoreReader { services.store }

    func addRoutes(to api: RouterGroup<AuthenticatedContext>) {
        api.mount(Self.routes, of: self, at: "/api/v1")
    }

    // MARK: Launch, cancel, status

    /// `{"definition": id|name, "profile"?, "testbed"?, "name"?, "options"?, "tags"?, "labels"?}` launches a job;
    /// without `definition`, a bare run is created for a client that executes it and reports on it.
    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let body = try await JSONResponse.decode(RunCreateRequest.self, from: request, limit: maxJSONBytes)
        if let launch = body.launch {
            let run = try await services.lifecycle.launch(launch, principal: principal, scope: principal.scope)
            return respond(run.record, status: .created)
        }
        let groupID = try await NativeGroups.owning(
            groupID: body.groupID,
            group: body.group,
            principal: principal,
            store: store,
            noun: "run"
        )
        try principal.require(.member, in: groupID, resource: "group")
        let run = try await services.lifecycle.createReported(
            body.bareRun(launchedBy: principal.kind == .user ? principal.id : nil),
            groupID: groupID,
            comment: "created"
        )
        return respond(run.record, status: .created)
    }

    @Sendable func cancel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await services.lifecycle.cancel(
            runID: try context.parameters.require("id"),
            principal: principal,
            scope: principal.scope
        )
        return respond(run.record, status: .accepted)
    }

    /// A client that executes a run itself reports its status (DCI's rules apply).
    @Sendable func reportStatus(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        let body = try await JSONResponse.decode(RunStatusReport.self, from: request, limit: maxJSONBytes)
        let result = try await services.lifecycle.report(
            runID: run.id,
            status: try RunStatus.parse(body.status),
            comment: body.comment,
            scope: principal.scope
        )
        return JSONResponse.make(
            records: [("run", result.run.record), ("event", result.event.record)],
            status: .created
        )
    }

    // MARK: Events

    @Sendable func runEvents(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        return try await listChild(.runEvents, of: run, request: request, principal: principal)
    }

    /// Events after a sequence number across the caller's groups; `wait=N` long-polls up to N seconds (max 60)
    /// for the first new one.
    @Sendable func events(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let parameters = request.uri.queryParameters
        for (key, _) in parameters where !["after", "limit", "wait"].contains(String(key)) {
            throw ProctorError.unknownField(String(key), valid: ["after", "limit", "wait"], role: "query parameter")
        }
        let after = try integer(parameters["after"], field: "after") ?? 0
        let limit = Int(try integer(parameters["limit"], field: "limit") ?? 100)
        let wait = min(60, try integer(parameters["wait"], field: "wait") ?? 0)
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            let generation = await services.events.generation
            let page = try await eventsAfter(after, limit: limit, scope: principal.scope)
            // A cancelled request (the client went away) answers at once: its waits would return at once too.
            if !page.isEmpty || ContinuousClock.now >= deadline || Task.isCancelled {
                let last = page.last?.seq ?? after
                return JSONResponse.make(
                    .object(["items": .array(page.map { $0.publicJSON() }), "next_after": .number(Double(last))])
                )
            }
            await services.events.wait(after: generation, timeout: min(.seconds(1), deadline - ContinuousClock.now))
        }
    }

    /// The event log as server-sent events (`id:` is the sequence, so `Last-Event-ID` resumes).
    @Sendable package func eventStream(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        var after = try integer(request.uri.queryParameters["after"], field: "after") ?? -1
        if let last = request.headers[Self.lastEventID], let value = Int64(last) { after = value }
        if after < 0 {
            let latest = try await store.list(
                .runEvents,
                query: Query(sort: [SortKey("seq", descending: true)], limit: 1),
                scope: principal.scope
            )
            after = latest.items.first?.seq ?? 0
        }
        let services = services
        let scope = principal.scope
        let start = after
        let body = ResponseBody { writer in
            var cursor = start
            var idle = 0
            // A graceful shutdown ends the stream (the client reconnects, to this server once it is back or to
            // another replica) instead of holding the server up until the client leaves.
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let generation = await services.events.generation
                let page = try await Self.events(store: services.store, after: cursor, limit: 200, scope: scope)
                for event in page {
                    let line = "id: \(event.seq)\nevent: run\ndata: \(event.publicJSON().encodedString())\n\n"
                    try await writer.write(ByteBuffer(string: line))
                    cursor = event.seq
                }
                if page.isEmpty {
                    idle += 1
                    if idle % 15 == 0 { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                    await services.events.wait(after: generation, timeout: .seconds(1))
                } else {
                    idle = 0
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: Self.sseHeaders, body: body)
    }

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    static let sseHeaders: HTTPFields = [
        .contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no",
    ]

    private func eventsAfter(_ after: Int64, limit: Int, scope: Scope) async throws -> [Record] {
        try await Self.events(store: store, after: after, limit: limit, scope: scope)
    }

    static func events(store: any StoreReader, after: Int64, limit: Int, scope: Scope) async throws -> [Record] {
        try await store.list(
            .runEvents,
            query: Query(
                filter: .predicate(Condition("seq", .greater, String(after))),
                sort: [SortKey("seq")],
                limit: max(1, min(limit, 1000))
            ),
            scope: scope
        ).items
    }

    // MARK: Test results and files

    @Sendable func tests(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        return try await listChild(.testResults, of: run, request: request, principal: principal)
    }

    @Sendable func listFiles(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        return try await listChild(.files, of: run, request: request, principal: principal)
    }

    /// A raw body (any content type) stored as a file of the run: `?name=` names it; `?results=junit|pyats`
    /// (or a JUnit content type, or a results-looking name) turns it into test results.
    @Sendable func upload(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        let parameters = request.uri.queryParameters
        for (key, _) in parameters where !["name", "results"].contains(String(key)) {
            throw ProctorError.unknownField(String(key), valid: ["name", "results"], role: "query parameter")
        }
        guard let name = parameters["name"].map(String.init), !name.isEmpty, name.count <= 255 else {
            throw ProctorError.badRequest("name the file: ?name=<file name> (at most 255 characters)", field: "name")
        }
        let mime = request.headers.value(of: .contentType) ?? "application/octet-stream"
        var format = RunFiles.format(mime: mime, name: name)
        if let results = parameters["results"] {
            guard let chosen = RunFiles.Format(rawValue: String(results)) else {
                throw ProctorError.badRequest("results must be junit or pyats", field: "results")
            }
            format = chosen
        }
        let temporary = try await receive(request, limit: maxFileBytes)
        let file = try await services.files.store(
            moving: temporary,
            runID: run.id,
            groupID: run.groupID ?? "",
            name: name,
            mime: mime
        )
        var body: [String: JSONValue] = ["file": file.publicJSON()]
        if let format {
            let ingest = try await services.files.ingest(file, run: run, format: format)
            body["results"] = .object([
                "total": .number(Double(ingest.file.total)), "passed": .number(Double(ingest.file.passed)),
                "failed": .number(Double(ingest.file.failed)), "errored": .number(Double(ingest.file.errored)),
                "skipped": .number(Double(ingest.file.skipped)), "regressions": .number(Double(ingest.regressions)),
                "recoveries": .number(Double(ingest.recoveries)), "additions": .number(Double(ingest.additions)),
                "removals": .number(Double(ingest.removals)),
            ])
            body["run_totals"] = .object([
                "total": .number(Double(ingest.run.total)), "passed": .number(Double(ingest.run.passed)),
                "failed": .number(Double(ingest.run.failed)), "errored": .number(Double(ingest.run.errored)),
                "skipped": .number(Double(ingest.run.skipped)),
            ])
        }
        return JSONResponse.make(.object(body), status: .created)
    }

    @Sendable func file(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let file = try await requireFile(context, principal)
        return JSONResponse.make(file.publicJSON(), headers: [.eTag: "\"\(file.etag)\""])
    }

    @Sendable package func download(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let file = try await requireFile(context, principal)
        let content = try await services.files.content(of: file)
        return Self.stream(content, mime: file.string("mime") ?? "application/octet-stream", name: file.name ?? file.id)
    }

    /// A stored file as a streamed response body, read from the file store as the client takes it.
    static func stream(_ content: StoredContent, mime: String, name: String) -> Response {
        let body = ResponseBody.streaming(content)
        let safeName = name.replacingOccurrences(of: "\"", with: "_").replacingOccurrences(of: " ", with: "_")
        return Response(
            status: .ok,
            headers: [.contentType: mime, .contentDisposition: "attachment; filename=\"\(safeName)\""],
            body: body
        )
    }

    /// Streams a request body into a temporary file under the data directory, enforcing `limit` (413).
    func receive(_ request: Request, limit: Int) async throws -> URL {
        let url = try services.files.temporaryURL()
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw ProctorError(.unavailable, "cannot create a temporary file for the upload")
        }
        let handle = try FileHandle(forWritingTo: url)
        var total = 0
        do {
            for try await buffer in request.body {
                total += buffer.readableBytes
                if total > limit { throw ProctorError(.tooLarge, "the file is larger than \(limit) bytes") }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        return url
    }

    // MARK: Log

    /// Reads the console: `offset` (bytes) and `limit` (bytes, max 1 MiB) as text, or `line` and `lines`;
    /// `wait=N` long-polls up to N seconds while nothing lies past `offset` and the run is still going.
    /// Headers say where the slice starts, where to resume, where the log ends and the run's status.
    @Sendable func readLog(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        var run = try await requireRun(context, principal)
        let parameters = request.uri.queryParameters
        let valid = ["offset", "limit", "wait", "line", "lines"]
        for (key, _) in parameters where !valid.contains(String(key)) {
            throw ProctorError.unknownField(String(key), valid: valid, role: "query parameter")
        }
        if let line = try integer(parameters["line"], field: "line") {
            let count = Int(min(100_000, try integer(parameters["lines"], field: "lines") ?? 1000))
            let lines = try await services.logs.lines(runID: run.id, from: line, count: count)
            return JSONResponse.make(
                .object(["line": .number(Double(line)), "lines": .array(lines.map(JSONValue.string))])
            )
        }
        let offset = try integer(parameters["offset"], field: "offset") ?? 0
        let limit = Int(min(1 << 20, max(1, try integer(parameters["limit"], field: "limit") ?? (1 << 20))))
        let wait = min(60, try integer(parameters["wait"], field: "wait") ?? 0)
        let deadline = ContinuousClock.now + .seconds(wait)
        var slice: RunLogs.Slice
        while true {
            let generation = await services.events.generation
            slice = try await services.logs.read(runID: run.id, from: offset, maxBytes: limit)
            let status = RunStatus(rawValue: run.string("status") ?? "") ?? .new
            if !slice.text.isEmpty || status.isTerminal || ContinuousClock.now >= deadline || Task.isCancelled { break }
            await services.events.wait(after: generation, timeout: min(.seconds(1), deadline - ContinuousClock.now))
            run = try await store.require(.runs, id: run.id)
        }
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
        headers[HTTPField.Name("Proctor-Log-Offset")!] = String(slice.start)
        headers[HTTPField.Name("Proctor-Log-Next")!] = String(slice.next)
        headers[HTTPField.Name("Proctor-Log-End")!] = String(slice.end)
        headers[HTTPField.Name("Proctor-Run-Status")!] = run.string("status") ?? ""
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: slice.text)))
    }

    /// Appends text to the console. With `?offset=N` the append is idempotent (retries are safe).
    @Sendable func appendLog(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        let offset = try integer(request.uri.queryParameters["offset"], field: "offset")
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: RunLogs.maxChunkBytes)
        } catch {
            throw ProctorError(.tooLarge, "a log chunk is at most \(RunLogs.maxChunkBytes) bytes")
        }
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        let end = try await services.logs.append(runID: run.id, groupID: run.groupID ?? "", text: text, offset: offset)
        return JSONResponse.make(
            .object(["end": .number(Double(end.bytes)), "lines": .number(Double(end.lines))]),
            status: .created
        )
    }

    /// Follows the console live as server-sent events (`event: log`, data = JSON `{offset, text}`), from
    /// `offset` or `Last-Event-ID`; ends with `event: end` once the run has finished and everything is sent.
    @Sendable package func followLog(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        var offset = try integer(request.uri.queryParameters["offset"], field: "offset") ?? 0
        if let last = request.headers[Self.lastEventID], let value = Int64(last) { offset = value }
        let services = services
        let start = offset
        let runID = run.id
        let body = ResponseBody { writer in
            var cursor = start
            var idle = 0
            // A graceful shutdown ends the stream (the client reconnects, to this server once it is back or to
            // another replica) instead of holding the server up until the client leaves.
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let generation = await services.events.generation
                let current = try await services.store.require(.runs, id: runID)
                let slice = try await services.logs.read(runID: runID, from: cursor, maxBytes: 256 << 10)
                if !slice.text.isEmpty {
                    let data = JSONValue.object(["offset": .number(Double(slice.start)), "text": .string(slice.text)])
                        .encodedString()
                    try await writer.write(ByteBuffer(string: "id: \(slice.next)\nevent: log\ndata: \(data)\n\n"))
                    cursor = slice.next
                    idle = 0
                    continue
                }
                if RunStatus(rawValue: current.string("status") ?? "")?.isTerminal == true {
                    let data = JSONValue.object([
                        "status": .string(current.string("status") ?? ""), "end": .number(Double(slice.end)),
                    ])
                    try await writer.write(ByteBuffer(string: "event: end\ndata: \(data.encodedString())\n\n"))
                    break
                }
                idle += 1
                if idle % 15 == 0 { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                await services.events.wait(after: generation, timeout: .seconds(1))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: Self.sseHeaders, body: body)
    }

    /// Error and warning lines of the console with their counts: `{"errors": [[n, line]], "warnings": [...]}`.
    @Sendable func logSummary(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        let summary = try await services.logs.summary(runID: run.id)
        let render: ([(Int, String)]) -> JSONValue = {
            .array($0.map { .array([.number(Double($0.0)), .string($0.1)]) })
        }
        return JSONResponse.make(.object(["errors": render(summary.errors), "warnings": render(summary.warnings)]))
    }

    // MARK: Helpers

    private func requireRun(_ context: AuthenticatedContext, _ principal: Principal) async throws -> Record {
        let id = try context.parameters.require("id")
        guard let run = try await store.get(.runs, id: id, scope: principal.scope) else {
            throw ProctorError.notFound("no such run: \(id)")
        }
        return run
    }

    private func requireFile(_ context: AuthenticatedContext, _ principal: Principal) async throws -> Record {
        let id = try context.parameters.require("id")
        guard let file = try await store.get(.files, id: id, scope: principal.scope) else {
            throw ProctorError.notFound("no such file: \(id)")
        }
        return file
    }

    /// Lists rows of a run's child kind with the native list parameters, always within the run.
    private func listChild(_ kind: ResourceKind, of run: Record, request: Request, principal: Principal) async throws
        -> Response
    {
        var query = try NativeQuery.parse(request.uri.formParameters, schema: kind.schema)
        query.filter = query.filter.map { .and([.equal("run_id", run.id), $0]) } ?? .equal("run_id", run.id)
        return JSONResponse.page(try await store.listJSON(kind, query: query, scope: principal.scope))
    }

    private func respond(_ record: Record, status: HTTPResponse.Status = .ok) -> Response {
        JSONResponse.make(record, status: status, headers: [.eTag: "\"\(record.etag)\""])
    }

    private func integer(_ value: Substring?, field: String) throws -> Int64? {
        guard let value else { return nil }
        guard let number = Int64(value), number >= 0 else {
            throw ProctorError.badRequest("\(field) must be a non-negative integer", field: field)
        }
        return number
    }

}

extension RunController {
    /// The routes this controller serves, each declared once with its documentation.
    static let routes: [NativeRoute<RunController, AuthenticatedContext>] = [
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/runs",
                "Launch a run, or create a bare run a client reports on",
                tag: "runs",
                description: """
                    With `definition` (id or name), launches that job definition (optionally a `profile`, a `testbed`, \
                    a `name`, `tags` and `labels`); without it, creates a run that the client executes and reports on \
                    itself. A launch's `options` are values for the launch parameters the job declares, by name: a job \
                    arg of the definition's `args` (by `name` or `code_name`, not `immutable`; a `flag` arg is given \
                    when true) or an envarg of the profile's `envargs`. Each value (a string, number or boolean) \
                    replaces the profile's, and the run keeps them in `options.parameters`. Any other option (a \
                    command, job file, interpreter, environment, writable path) is a 400 naming it, with `valid` \
                    listing the declared names: what runs comes only from the definition and profile.
                    """,
                body: .json(SchemaDoc.ref("RunCreate")),
                replies: [.created(SchemaDoc.ref("Run"), etag: true)]
            ),
            { $0.create }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/runs/{id}/cancel",
                "Cancel a run",
                tag: "runs",
                replies: [.json(202, "Cancellation accepted; the run is or will be killed.", SchemaDoc.ref("Run"))]
            ),
            { $0.cancel }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/runs/{id}/status",
                "Report the status of a client-executed run",
                tag: "runs",
                body: .json(SchemaDoc.ref("RunStatusReport")),
                replies: [
                    .created(
                        SchemaDoc.object(["run": SchemaDoc.ref("Run"), "event": SchemaDoc.ref("RunEvent")]),
                        "Recorded."
                    )
                ]
            ),
            { $0.reportStatus }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/runs/{id}/events",
                "A run's status changes",
                tag: "runs",
                parameters: ParameterDoc.list,
                replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("RunEvent")))]
            ),
            { $0.runEvents }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/events",
                "Run events after a sequence number (long-poll)",
                tag: "runs",
                parameters: [
                    .query("after", "Only events with a larger `seq`.", SchemaDoc.integer(minimum: 0)),
                    .query("limit", "At most this many (1 to 1000).", SchemaDoc.integer(minimum: 1, maximum: 1000)),
                    .query(
                        "wait",
                        "Seconds to wait for the first new event (at most 60).",
                        SchemaDoc.integer(minimum: 0, maximum: 60)
                    ),
                ],
                replies: [
                    .ok(
                        SchemaDoc.object([
                            "items": SchemaDoc.array(SchemaDoc.ref("RunEvent")),
                            "next_after": SchemaDoc.described(SchemaDoc.integer, "Pass as `after` next time."),
                        ])
                    )
                ]
            ),
            { $0.events }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/events/stream",
                "Run events as server-sent events",
                tag: "runs",
                description: "Each event's `id:` is its sequence number, so `Last-Event-ID` resumes.",
                parameters: [
                    .query("after", "Start after this sequence number (default: now).", SchemaDoc.integer(minimum: 0)),
                    .header("Last-Event-ID", "Resume after this sequence number."),
                ],
                replies: [.events("An endless stream: `event: run`, `data:` the run event as JSON, `id:` its seq.")]
            ),
            { $0.eventStream }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/runs/{id}/tests",
                "A run's test results",
                tag: "runs",
                parameters: ParameterDoc.list,
                replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("TestResult")))]
            ),
            { $0.tests }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/runs/{id}/files",
                "A run's files",
                tag: "runs",
                parameters: ParameterDoc.list,
                replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("File")))]
            ),
            { $0.listFiles }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/runs/{id}/files",
                "Upload a file to a run",
                tag: "runs",
                description:
                    "The raw body is the file. JUnit or pyATS results (by `results`, content type or name) also "
                    + "become test results, all or none of them (one transaction: a failure or crash part-way leaves none; "
                    + "malformed results are a 400 and the file is kept without results). A result file replaces the "
                    + "run's earlier files of the same name and their test results, so uploading it again never counts "
                    + "its cases twice; 409 when a later upload of the same name replaced this one first. 503 when the "
                    + "file store (an object store, `serve --file-store s3://…`) cannot be reached or refuses the file: "
                    + "then nothing is recorded.",
                parameters: [
                    .query(
                        "name",
                        "The file's name (1 to 255 characters).",
                        SchemaDoc.string(minLength: 1, maxLength: 255),
                        required: true
                    ),
                    .query("results", "Parse the file as results.", SchemaDoc.enumeration(["junit", "pyats"])),
                ],
                body: .raw(),
                replies: [.created(SchemaDoc.ref("FileUpload"))]
            ),
            { $0.upload }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/files/{id}",
                "A file's metadata",
                tag: "runs",
                replies: [.ok(SchemaDoc.ref("File"), etag: true)]
            ),
            { $0.file }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/files/{id}/content",
                "Download a file",
                tag: "runs",
                description: "Streamed from the file store; 503 when the file store cannot be reached.",
                replies: [
                    .text(200, "The stored bytes, with the file's content type.", mediaType: "application/octet-stream")
                ]
            ),
            { $0.download }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/runs/{id}/log",
                "Read a run's console",
                tag: "runs",
                description:
                    "A byte range as text (`offset`, `limit`; `wait` long-polls while nothing is past `offset`), or "
                    + "with `line` a range of lines as JSON.",
                parameters: [
                    .query("offset", "First byte.", SchemaDoc.integer(minimum: 0)),
                    .query("limit", "At most this many bytes (at most 1 MiB).", SchemaDoc.integer(minimum: 1)),
                    .query(
                        "wait",
                        "Seconds to wait for new output (at most 60).",
                        SchemaDoc.integer(minimum: 0, maximum: 60)
                    ),
                    .query("line", "First line (switches to the JSON form).", SchemaDoc.integer(minimum: 0)),
                    .query("lines", "How many lines (at most 100000).", SchemaDoc.integer(minimum: 1)),
                ],
                replies: [
                    ReplyDoc(
                        200,
                        "The slice; headers say where it starts, where to resume and where the log ends.",
                        content: [
                            "text/plain": SchemaDoc.string,
                            "application/json": SchemaDoc.object([
                                "line": SchemaDoc.integer, "lines": SchemaDoc.array(SchemaDoc.string),
                            ]),
                        ],
                        headers: [
                            "Proctor-Log-Offset": SchemaDoc.integer, "Proctor-Log-Next": SchemaDoc.integer,
                            "Proctor-Log-End": SchemaDoc.integer, "Proctor-Run-Status": SchemaDoc.string,
                        ]
                    )
                ]
            ),
            { $0.readLog }
        ),
        NativeRoute(
            RouteDoc(
                .post,
                "/api/v1/runs/{id}/log",
                "Append to a run's console",
                tag: "runs",
                description: "With `offset`, the append is idempotent: a retried chunk is not written twice.",
                parameters: [.query("offset", "Where this chunk starts.", SchemaDoc.integer(minimum: 0))],
                body: .raw("text/plain", schema: SchemaDoc.string),
                replies: [
                    .created(SchemaDoc.object(["end": SchemaDoc.integer, "lines": SchemaDoc.integer]), "Appended.")
                ]
            ),
            { $0.appendLog }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/runs/{id}/log/stream",
                "Follow a run's console as server-sent events",
                tag: "runs",
                description: "`event: log` with `{offset, text}`; `event: end` once the run has finished.",
                parameters: [
                    .query("offset", "Start at this byte.", SchemaDoc.integer(minimum: 0)),
                    .header("Last-Event-ID", "Resume at this byte."),
                ],
                replies: [
                    .events(
                        "`event: log` with `data:` `{offset, text}` and `id:` the next offset, then `event: end` with the final status."
                    )
                ]
            ),
            { $0.followLog }
        ),
        NativeRoute(
            RouteDoc(
                .get,
                "/api/v1/runs/{id}/log/summary",
                "Error and warning lines of a run's console",
                tag: "runs",
                replies: [
                    .ok(
                        SchemaDoc.object([
                            "errors": SchemaDoc.array(SchemaDoc.array(SchemaDoc.any)),
                            "warnings": SchemaDoc.array(SchemaDoc.array(SchemaDoc.any)),
                        ]),
                        "`[count, line]` pairs."
                    )
                ]
            ),
            { $0.logSummary }
        ),
    ]
}
