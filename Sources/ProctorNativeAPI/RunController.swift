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
        api.post("runs", use: create)
        api.post("runs/:id/cancel", use: cancel)
        api.post("runs/:id/status", use: reportStatus)
        api.get("runs/:id/events", use: runEvents)
        api.get("events", use: events)
        api.get("events/stream", use: eventStream)
        api.get("runs/:id/tests", use: tests)
        api.get("runs/:id/files", use: listFiles)
        api.post("runs/:id/files", use: upload)
        api.get("files/:id", use: file)
        api.get("files/:id/content", use: download)
        api.get("runs/:id/log", use: readLog)
        api.post("runs/:id/log", use: appendLog)
        api.get("runs/:id/log/stream", use: followLog)
        api.get("runs/:id/log/summary", use: logSummary)
    }

    // MARK: Launch, cancel, status

    /// `{"definition": id|name, "profile"?, "testbed"?, "name"?, "options"?, "tags"?, "labels"?}` launches a job;
    /// without `definition`, a bare run is created for a client that executes it and reports on it.
    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let body = try await JSONResponse.object(request, limit: maxJSONBytes)
        let tags = try stringList(body["tags"], field: "tags")
        var labels: [String: String] = [:]
        if let value = body["labels"], value != .null {
            guard case .object(let object) = value else {
                throw ProctorError.badRequest("labels must be an object of strings", field: "labels")
            }
            for (key, item) in object {
                guard let text = item.stringValue else {
                    throw ProctorError.badRequest("label '\(key)' must be a string", field: "labels")
                }
                labels[key] = text
            }
        }
        if let definition = body["definition"] {
            guard let reference = definition.stringValue, !reference.isEmpty else {
                throw ProctorError.badRequest("definition must be a job definition's id or name", field: "definition")
            }
            var options: [String: JSONValue] = [:]
            if let value = body["options"], value != .null {
                guard case .object(let object) = value else {
                    throw ProctorError.badRequest("options must be an object", field: "options")
                }
                options = object
            }
            let launch = LaunchRequest(
                definition: reference,
                profile: try optionalString(body["profile"], field: "profile"),
                testbed: try optionalString(body["testbed"], field: "testbed"),
                name: try optionalString(body["name"], field: "name"),
                parameters: options,
                tags: tags,
                labels: labels,
                requestID: try optionalString(body["request_id"], field: "request_id")
            )
            let run = try await services.lifecycle.launch(launch, principal: principal, scope: principal.scope)
            return respond(run, status: .created)
        }
        let groupID = try await NativeGroups.owning(body, principal: principal, store: store, noun: "run")
        try principal.require(.member, in: groupID, resource: "group")
        let allowed: Set<String> = [
            "name", "comment", "url", "configuration", "data", "topic_id", "remoteci_id", "components",
        ]
        var values = try FieldCoding.values(
            from: body.filter { allowed.contains($0.key) },
            schema: ResourceKind.runs.schema
        )
        values["tags"] = .strings(tags)
        values["labels"] = .json(.object(labels.mapValues(JSONValue.string)))
        if principal.kind == .user { values["launched_by"] = .string(principal.id) }
        let run = try await services.lifecycle.createReported(values, groupID: groupID, comment: "created")
        return respond(run, status: .created)
    }

    @Sendable func cancel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await services.lifecycle.cancel(
            runID: try context.parameters.require("id"),
            principal: principal,
            scope: principal.scope
        )
        return respond(run, status: .accepted)
    }

    /// A client that executes a run itself reports its status (DCI's rules apply).
    @Sendable func reportStatus(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let run = try await requireRun(context, principal)
        try principal.require(.member, in: run.groupID ?? "", resource: "run")
        let body = try await JSONResponse.object(request, limit: maxJSONBytes)
        guard let text = body["status"]?.stringValue else {
            throw ProctorError.badRequest("status is required", field: "status")
        }
        let status = try RunStatus.parse(text)
        let result = try await services.lifecycle.report(
            runID: run.id,
            status: status,
            comment: try optionalString(body["comment"], field: "comment"),
            scope: principal.scope
        )
        return JSONResponse.make(
            .object(["run": result.run.publicJSON(), "event": result.event.publicJSON()]),
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
            if !page.isEmpty || ContinuousClock.now >= deadline {
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
        let mime = request.headers[.contentType] ?? "application/octet-stream"
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
        let url = try services.files.location(of: file)
        return try Self.stream(url, mime: file.string("mime") ?? "application/octet-stream", name: file.name ?? file.id)
    }

    /// A stored file as a streamed response body.
    static func stream(_ url: URL, mime: String, name: String) throws -> Response {
        let handle = try FileHandle(forReadingFrom: url)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        let body = ResponseBody(contentLength: size) { writer in
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 256 << 10), !chunk.isEmpty {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        }
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
            if !slice.text.isEmpty || status.isTerminal || ContinuousClock.now >= deadline { break }
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
        return JSONResponse.page(try await store.list(kind, query: query, scope: principal.scope))
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

    private func optionalString(_ value: JSONValue?, field: String) throws -> String? {
        guard let value, value != .null else { return nil }
        guard let text = value.stringValue else {
            throw ProctorError.badRequest("\(field) must be a string", field: field)
        }
        return text
    }

    private func stringList(_ value: JSONValue?, field: String) throws -> [String] {
        guard let value, value != .null else { return [] }
        guard case .array(let items) = value else {
            throw ProctorError.badRequest("\(field) must be a list of strings", field: field)
        }
        return try items.map {
            guard let text = $0.stringValue else {
                throw ProctorError.badRequest("\(field) must be a list of strings", field: field)
            }
            return text
        }
    }
}
