import ProctorCore
import ProctorHTTPKit

/// The schemas of the run routes (``RunController``) and the agent API (``AgentController``).
extension RouteRegistry {
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
