import ProctorCore
import ProctorHTTPKit

/// How a KernelCI job document maps onto a Proctor run, both ways.
///
/// A job is a run with `harness = "kernelci"` and `executor = "client"` (KernelCI's CI loop builds and tests
/// elsewhere and reports), whose identity and metadata are labels: `job` (the tree), `kernel` (git describe),
/// `git_branch`, and the git and compiler facts copied from its first build. `_id` is the run's `seq` as 24 hex
/// digits, `created_on` its `created_at`, and `status` is mapped (see ``KernelCIStatus``).
public enum KernelCIJob {
    /// The `harness` value that marks a run as a KernelCI job.
    public static let harness = "kernelci"

    /// The document fields kept as labels, in the order of KernelCI's `JobDocument.to_dict`.
    static let labelFields: [String] = [
        "compiler", "compiler_version", "compiler_version_ext", "compiler_version_full", "cross_compile",
        "git_branch", "git_commit", "git_describe", "git_describe_v", "git_url", "job", "kernel", "kernel_version",
        "private",
    ]
    static let labelFieldSet = Set(labelFields)

    /// The filters `GET /job` understands (`models.JOB_VALID_KEYS["GET"]`).
    static let filterKeys: Set<String> = [
        "created_on", "git_branch", "git_commit", "git_describe", "_id", "job", "kernel", "kernel_version", "private",
        "status",
    ]

    /// The fields `GET /job/distinct/<field>` accepts (`models.DISTINCT_VALID_FIELDS["job"]`).
    static let distinctFields: Set<String> = [
        "compiler", "compiler_version", "compiler_version_ext", "git_branch", "git_commit", "git_describe",
        "git_describe_v", "git_url", "job", "kernel", "kernel_version",
    ]

    /// The filters of the logs summaries (`error_summary.ERROR_SUMMARY_VALID_KEYS["GET"]`).
    static let logFilterKeys: Set<String> = ["created_on", "git_branch", "job_id", "job", "kernel"]

    /// The job's document version, as the original stores it.
    static let version = "1.1"

    // MARK: Rendering

    /// The job document of a run, limited to a projection.
    static func document(_ run: Record, projection: KernelCIProjection = .all) -> JSONValue {
        var out: [String: JSONValue] = [:]
        let labels = run["labels"].jsonValue?.objectValue ?? [:]
        func put(_ field: String, _ value: @autoclosure () -> JSONValue) {
            if projection.includes(field) { out[field] = value() }
        }
        put("_id", KernelCIFormat.oid(run.seq))
        put("created_on", KernelCIFormat.date(run["created_at"]))
        put("status", .string(KernelCIStatus(run: run.string("status")).rawValue))
        put("version", .string(version))
        for field in labelFields where field != "private" {
            put(field, labels[field]?.stringValue.map(JSONValue.string) ?? .null)
        }
        put("private", .bool(labels["private"]?.stringValue == "true"))
        return .object(out)
    }

    /// The run columns a projection needs read (the store always adds `id` and `seq`).
    static func columns(for projection: KernelCIProjection) -> [String]? {
        guard case .only(let fields) = projection else { return nil }
        var columns: [String] = []
        if fields.contains("created_on") { columns.append("created_at") }
        if fields.contains("status") { columns.append("status") }
        if !fields.isDisjoint(with: labelFieldSet) { columns.append("labels") }
        return columns
    }

    // MARK: Queries

    /// The KernelCI filter in core terms: labels for the document's labelled fields, `seq` for `_id`, the mapped
    /// run statuses for `status`, `created_at` for `created_on` bounds. A value that can never match (a malformed
    /// id, an unknown status) becomes an empty OR, which matches nothing, as MongoDB would.
    static func translate(_ filter: Filter) -> Filter {
        switch filter {
        case .and(let parts): return .and(parts.map(translate))
        case .or(let parts): return .or(parts.map(translate))
        case .not(let inner): return .not(translate(inner))
        case .predicate(let condition): return translate(condition)
        case .related: return filter
        }
    }

    private static let nothing = Filter.or([])

    private static func translate(_ condition: Condition) -> Filter {
        var out = condition
        switch condition.field {
        case "_id", "job_id":
            out.field = "seq"
            if condition.op.takesNoValue { return condition.op == .isNull ? nothing : .and([]) }
            let seqs = condition.values.compactMap { KernelCIFormat.seq(fromOID: $0) }
            if condition.op == .in {
                guard !seqs.isEmpty else { return nothing }
                out.values = seqs.map(String.init)
            } else {
                guard seqs.count == condition.values.count else { return nothing }
                out.values = seqs.map(String.init)
            }
            return .predicate(out)
        case "status":
            if condition.op.takesNoValue { return condition.op == .isNull ? nothing : .and([]) }
            // Which KernelCI statuses satisfy the condition, then the run statuses behind them.
            let matching = KernelCIStatus.allCases.filter { status in
                let text = status.rawValue
                switch condition.op {
                case .equal, .in: return condition.values.contains(text)
                case .greaterOrEqual: return condition.values.allSatisfy { text >= $0 }
                case .less: return condition.values.allSatisfy { text < $0 }
                default: return false
                }
            }
            let statuses = matching.flatMap(\.runStatuses).map(\.rawValue)
            guard !statuses.isEmpty else { return nothing }
            return .predicate(Condition("status", .in, statuses))
        case "created_on":
            out.field = "created_at"
            guard condition.values.allSatisfy({ Timestamp.parse($0) != nil }) else { return nothing }
            return .predicate(out)
        case "private":
            out.field = "labels.private"
            out.values = condition.values.map { ["true", "1", "True"].contains($0) ? "true" : "false" }
            return .predicate(out)
        default:
            guard labelFieldSet.contains(condition.field) else { return nothing }
            out.field = "labels.\(condition.field)"
            return .predicate(out)
        }
    }

    /// Restricts a translated filter to KernelCI jobs.
    static func jobsOnly(_ filter: Filter?) -> Filter {
        let marker = Filter.equal("harness", harness)
        guard let filter else { return marker }
        return .and([marker, filter])
    }

    /// A sort key in run terms: a column when one holds the field, else the label (sorted in memory);
    /// nil for a field jobs do not have (MongoDB ignores those: every document compares equal).
    static func sortKey(_ key: SortKey) -> KernelCISortKey? {
        switch key.field {
        case "_id": return .column(SortKey("seq", descending: key.descending))
        case "created_on": return .column(SortKey("created_at", descending: key.descending))
        case "status": return .column(SortKey("status", descending: key.descending))
        case "version": return nil
        default:
            guard labelFieldSet.contains(key.field) else { return nil }
            return .label(key.field, descending: key.descending)
        }
    }
}

/// One sort key of a KernelCI query, as the store or the dialect applies it.
typealias KernelCISortKey = RowScans.SortKey

/// `field=` / `nfield=`: which document fields a response carries.
///
/// As in MongoDB, `_id` comes with any inclusion list unless it is excluded by name; fields the document does not
/// have are simply absent.
enum KernelCIProjection: Equatable {
    case all
    case only(Set<String>)
    case except(Set<String>)

    init(fields: [String]?, excluded: [String]) {
        if let fields, !fields.isEmpty {
            let excludedSet = Set(excluded)
            var kept = Set(fields).subtracting(excludedSet)
            if !excludedSet.contains("_id") { kept.insert("_id") }
            self = .only(kept)
        } else if !excluded.isEmpty {
            self = .except(Set(excluded))
        } else {
            self = .all
        }
    }

    func includes(_ field: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let fields): return fields.contains(field)
        case .except(let fields): return !fields.contains(field)
        }
    }

    /// Applies the projection to a rendered document.
    func apply(_ document: JSONValue) -> JSONValue {
        guard case .object(let object) = document, self != .all else { return document }
        return .object(object.filter { includes($0.key) })
    }
}

/// KernelCI's job statuses (`models.VALID_JOB_STATUS`) and how they map onto run statuses.
///
/// | KernelCI | run status written | run statuses read as it |
/// |---|---|---|
/// | `BUILD` | `running` | `new`, `pre-run`, `running`, `post-run` |
/// | `PASS` | `success` | `success` |
/// | `FAIL` | `failure` | `failure` |
/// | `UNKNOWN` | `error` | `error`, `killed` |
package enum KernelCIStatus: String, CaseIterable, Sendable {
    case build = "BUILD"
    case fail = "FAIL"
    case pass = "PASS"
    case unknown = "UNKNOWN"

    /// The run status a KernelCI status is stored as.
    var runStatus: RunStatus {
        switch self {
        case .build: return .running
        case .pass: return .success
        case .fail: return .failure
        case .unknown: return .error
        }
    }

    /// Every run status read back as this KernelCI status.
    var runStatuses: [RunStatus] {
        switch self {
        case .build: return [.new, .preRun, .running, .postRun]
        case .pass: return [.success]
        case .fail: return [.failure]
        case .unknown: return [.error, .killed]
        }
    }

    /// The KernelCI status of a run status (runs changed through the native API included).
    init(run status: String?) {
        let run = RunStatus(rawValue: status ?? "") ?? .new
        self = Self.allCases.first { $0.runStatuses.contains(run) } ?? .unknown
    }

    /// `['BUILD', 'FAIL', 'PASS', 'UNKNOWN']`, as Python prints the list in the original's message.
    static let pythonList = "[" + allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") + "]"
}
