import ProctorCore
import ProctorHTTPKit

/// One DCI resource as the dialect shows it: the core kind behind it and how DCI's field names map onto the
/// core's, for `where`, `query` and `sort` (DCI accepts any column of the table; Proctor accepts the mapped ones).
struct DCIResource: Sendable {
    let kind: ResourceKind
    let singular: String
    let plural: String
    /// DCI field name → core field (or `labels.<key>`).
    let fields: [String: String]
    /// DCI fields that hold arrays (`where=tags:x` is array containment).
    let arrayFields: Set<String>
    /// Whether rows have DCI's `state` with `archived` meaning deleted (hidden everywhere).
    let archivable: Bool

    /// DCI refuses these in `where` (`declarative.handle_args`).
    static let forbiddenWhereKeys: Set<String> = ["api_secret", "data", "password", "cert_fp"]

    private static let common = ["id": "id", "created_at": "created_at", "updated_at": "updated_at"]

    static let topics = DCIResource(
        kind: .topics,
        singular: "topic",
        plural: "topics",
        fields: common.merging([
            "name": "name", "state": "state", "product_id": "product_id", "next_topic_id": "next_topic_id",
            "export_control": "export_control", "component_types": "component_types",
        ]) { $1 },
        arrayFields: ["component_types"],
        archivable: true
    )

    static let components = DCIResource(
        kind: .components,
        singular: "component",
        plural: "components",
        fields: common.merging([
            "name": "name", "display_name": "display_name", "type": "type", "topic_id": "topic_id", "state": "state",
            "url": "url",
            "tags": "tags", "released_at": "released_at", "title": "title", "message": "message",
            "canonical_project_name": "canonical_project_name", "version": "version",
            "team_id": "group_id",
        ]) { $1 },
        arrayFields: ["tags"],
        archivable: true
    )

    static let products = DCIResource(
        kind: .products,
        singular: "product",
        plural: "products",
        fields: common.merging(["name": "name", "label": "label", "description": "description", "state": "state"]) {
            $1
        },
        arrayFields: [],
        archivable: true
    )

    static let remotecis = DCIResource(
        kind: .remotecis,
        singular: "remoteci",
        plural: "remotecis",
        fields: common.merging(["name": "name", "state": "state", "team_id": "group_id", "public": "public"]) { $1 },
        arrayFields: [],
        archivable: true
    )

    static let teams = DCIResource(
        kind: .groups,
        singular: "team",
        plural: "teams",
        fields: common.merging(["name": "name"]) { $1 },
        arrayFields: [],
        archivable: false
    )

    static let jobs = DCIResource(
        kind: .runs,
        singular: "job",
        plural: "jobs",
        fields: common.merging([
            "name": "name", "status": "status", "comment": "comment", "status_reason": "reason",
            "configuration": "configuration", "url": "url", "topic_id": "topic_id", "remoteci_id": "remoteci_id",
            "team_id": "group_id", "previous_job_id": "previous_run_id", "state": "state", "tags": "tags",
            "duration": "duration", "user_agent": "user_agent", "client_version": "client_version",
            "product_id": "labels.product_id", "update_previous_job_id": "labels.update_previous_job_id",
            "pipeline_id": "labels.pipeline_id",
        ]) { $1 },
        arrayFields: ["tags"],
        archivable: true
    )

    static let jobstates = DCIResource(
        kind: .runEvents,
        singular: "jobstate",
        plural: "jobstates",
        fields: common.merging(["status": "status", "comment": "comment", "job_id": "run_id", "team_id": "group_id"]) {
            $1
        },
        arrayFields: [],
        archivable: false
    )

    static let files = DCIResource(
        kind: .files,
        singular: "file",
        plural: "files",
        fields: common.merging([
            "name": "name", "mime": "mime", "size": "size", "md5": "md5", "job_id": "run_id", "jobstate_id": "event_id",
            "team_id": "group_id", "state": "state",
        ]) { $1 },
        arrayFields: [],
        archivable: true
    )

    /// The core field a DCI field maps to, and its type (labels are text).
    func coreField(_ name: String) -> (name: String, type: FieldType)? {
        guard let core = fields[name] else { return nil }
        if core.hasPrefix("labels.") { return (core, .string) }
        guard let spec = kind.schema.field(core) else { return nil }
        return (core, spec.type)
    }

    /// The objects a job search reaches through a dotted field (`topic.name`): the job's DCI field that references
    /// the object, and the object's resource. Components are not reachable (a job holds a list of them).
    func relation(_ name: String) -> (field: String, resource: DCIResource)? {
        guard kind == .runs else { return nil }
        switch name {
        case "topic": return ("topic_id", .topics)
        case "remoteci": return ("remoteci_id", .remotecis)
        case "team": return ("team_id", .teams)
        default: return nil
        }
    }

    static let searchRelations = ["remoteci", "team", "topic"]

    /// The fields a job search may name: the resource's own and its relations' (`topic.name`).
    var searchFields: [String] {
        let related = Self.searchRelations.flatMap { name in
            relation(name).map { relation in relation.resource.fields.keys.map { "\(name).\($0)" } } ?? []
        }
        return (Array(fields.keys) + related).sorted()
    }

    /// The array fields a job search may name, its relations' included (`topic.component_types`).
    var searchArrayFields: Set<String> {
        arrayFields.union(
            Self.searchRelations.flatMap { name in
                relation(name).map { relation in relation.resource.arrayFields.map { "\(name).\($0)" } } ?? []
            }
        )
    }

    /// The condition that hides deleted rows.
    var visible: Filter? {
        archivable ? .predicate(Condition("state", .notEqual, "archived")) : nil
    }
}
