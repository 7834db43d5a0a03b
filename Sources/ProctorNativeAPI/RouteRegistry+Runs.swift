import ProctorCore
import ProctorHTTPKit

/// The run routes beyond generic CRUD (``RunController``: launch, cancel, status, events, files, results, logs)
/// and the agent API (``AgentController``).
extension RouteRegistry {
    /// Run routes beyond the generic CRUD (launch, cancel, events, files, results, logs) and the agent API.
    static let runs: [RouteDoc] = [
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
        RouteDoc(
            .post,
            "/api/v1/runs/{id}/cancel",
            "Cancel a run",
            tag: "runs",
            replies: [.json(202, "Cancellation accepted; the run is or will be killed.", SchemaDoc.ref("Run"))]
        ),
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
        RouteDoc(
            .get,
            "/api/v1/runs/{id}/events",
            "A run's status changes",
            tag: "runs",
            parameters: ParameterDoc.list,
            replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("RunEvent")))]
        ),
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
        RouteDoc(
            .get,
            "/api/v1/runs/{id}/tests",
            "A run's test results",
            tag: "runs",
            parameters: ParameterDoc.list,
            replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("TestResult")))]
        ),
        RouteDoc(
            .get,
            "/api/v1/runs/{id}/files",
            "A run's files",
            tag: "runs",
            parameters: ParameterDoc.list,
            replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("File")))]
        ),
        RouteDoc(
            .post,
            "/api/v1/runs/{id}/files",
            "Upload a file to a run",
            tag: "runs",
            description: "The raw body is the file. JUnit or pyATS results (by `results`, content type or name) also "
                + "become test results, all or none of them (one transaction: a failure or crash part-way leaves none; "
                + "malformed results are a 400 and the file is kept without results). A result file replaces the "
                + "run's earlier files of the same name and their test results, so uploading it again never counts "
                + "its cases twice; 409 when a later upload of the same name replaced this one first.",
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
        RouteDoc(
            .get,
            "/api/v1/files/{id}",
            "A file's metadata",
            tag: "runs",
            replies: [.ok(SchemaDoc.ref("File"), etag: true)]
        ),
        RouteDoc(
            .get,
            "/api/v1/files/{id}/content",
            "Download a file",
            tag: "runs",
            replies: [
                .text(200, "The stored bytes, with the file's content type.", mediaType: "application/octet-stream")
            ]
        ),
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
        RouteDoc(
            .post,
            "/api/v1/runs/{id}/log",
            "Append to a run's console",
            tag: "runs",
            description: "With `offset`, the append is idempotent: a retried chunk is not written twice.",
            parameters: [.query("offset", "Where this chunk starts.", SchemaDoc.integer(minimum: 0))],
            body: .raw("text/plain", schema: SchemaDoc.string),
            replies: [.created(SchemaDoc.object(["end": SchemaDoc.integer, "lines": SchemaDoc.integer]), "Appended.")]
        ),
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
        RouteDoc(
            .post,
            "/api/v1/agents/{id}/claim",
            "Long-poll for a run to execute",
            tag: "agents",
            parameters: [
                .query("wait", "Seconds to wait (default 20, at most 60).", SchemaDoc.integer(minimum: 0, maximum: 60))
            ],
            replies: [
                .ok(
                    SchemaDoc.object(["run": SchemaDoc.ref("Run"), "claimant": SchemaDoc.string]),
                    "A run, now leased to this agent."
                ),
                .noContent("Nothing to do yet."),
            ]
        ),
        RouteDoc(
            .post,
            "/api/v1/runs/{id}/heartbeat",
            "Extend a claimed run's lease",
            tag: "agents",
            body: .json(SchemaDoc.object(["claimant": SchemaDoc.string(minLength: 1)], required: ["claimant"])),
            replies: [.ok(SchemaDoc.object(["action": SchemaDoc.enumeration(["keep", "cancel", "lost"])]))]
        ),
        RouteDoc(
            .post,
            "/api/v1/runs/{id}/advance",
            "Move a claimed run to its next phase",
            tag: "agents",
            body: .json(
                SchemaDoc.object(
                    [
                        "claimant": SchemaDoc.string(minLength: 1), "status": SchemaDoc.enumeration(runStatuses),
                        "reason": SchemaDoc.string, "exit_code": SchemaDoc.integer,
                    ],
                    required: ["claimant", "status"]
                )
            ),
            replies: [.ok(SchemaDoc.ref("Run"))]
        ),
        RouteDoc(
            .get,
            "/api/v1/webhooks/{id}/deliveries",
            "A webhook's delivery log",
            tag: "webhooks",
            description: "Each delivery of a run event to the webhook: status (pending, sending, delivered, failed), "
                + "attempts, the receiver's response code and the last error. Group admins only.",
            parameters: ParameterDoc.list,
            replies: [.ok(SchemaDoc.page(of: SchemaDoc.ref("WebhookDelivery")))]
        ),
    ]

    static let runStatuses = ["new", "pre-run", "running", "post-run", "success", "failure", "killed", "error"]

    static let runSchemas: [String: JSONValue] = [
        "RunUpdate": runUpdate,
        "RunCreate": SchemaDoc.object([
            "definition": SchemaDoc.described(
                SchemaDoc.string(minLength: 1),
                "A job definition's id or name: launch it."
            ),
            "profile": SchemaDoc.string, "testbed": SchemaDoc.string, "name": SchemaDoc.string,
            "options": .object(["type": .string("object")]), "tags": SchemaDoc.array(SchemaDoc.string),
            "labels": .object(["type": .string("object"), "additionalProperties": SchemaDoc.string]),
            "request_id": SchemaDoc.string,
            "group": SchemaDoc.described(SchemaDoc.string, "Bare runs: the owning group's name."),
            "group_id": SchemaDoc.described(SchemaDoc.string, "Bare runs: the owning group's id."),
            "comment": SchemaDoc.string, "url": SchemaDoc.string, "configuration": SchemaDoc.string,
            "data": SchemaDoc.any,
            "topic_id": SchemaDoc.string, "remoteci_id": SchemaDoc.string,
            "components": SchemaDoc.array(SchemaDoc.string),
        ]),
        "RunStatusReport": SchemaDoc.object(
            ["status": SchemaDoc.enumeration(runStatuses), "comment": SchemaDoc.string],
            required: ["status"]
        ),
        "FileUpload": SchemaDoc.object([
            "file": SchemaDoc.ref("File"),
            "results": SchemaDoc.described(
                .object(["type": .string("object"), "additionalProperties": SchemaDoc.integer]),
                "Counts from this file: total, passed, failed, errored, skipped, regressions, recoveries, additions, removals."
            ),
            "run_totals": SchemaDoc.described(
                .object(["type": .string("object"), "additionalProperties": SchemaDoc.integer]),
                "The run's totals after it."
            ),
        ]),
    ]

    /// PATCH on a run changes only what ``NativeAPI/runPatchable`` lists; its status moves by launch, cancel and reports.
    private static let runUpdate: JSONValue = {
        var properties: [String: JSONValue] = [:]
        for field in ResourceKind.runs.schema.writableFields where NativeAPI.runPatchable.contains(field.name) {
            properties[field.name] = ResourceDocs.input(field)
        }
        return .object([
            "type": .string("object"), "properties": .object(properties), "additionalProperties": .bool(false),
        ])
    }()
}
