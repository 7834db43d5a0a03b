import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// `POST /build` (and `/builds`): a build report from kernelci-core's `push_kernel`, in the original's
/// `bmeta` / `steps` / `artifacts` shape (`handlers/build.py`), so that a kernel CI loop can feed Proctor.
///
/// The first build of a (tree, describe, branch) creates the job with status `BUILD` and copies the git and
/// compiler facts onto it (`utils/build._get_or_create_job`); each build becomes a test result of the job's run
/// (suite `build`, class the architecture, name `<defconfig_full> (<build environment>)`, passed or failed), a
/// re-sent build replacing the earlier one. The original imports asynchronously and answers 202; Proctor
/// imports before answering, so the job is visible as soon as the 202 arrives. An optional `log` string (a
/// Proctor extension) is appended to the job's console, which `GET /job/<id>/logs` summarises.
struct KernelCIBuildController {
    let api: KernelCIAPI

    func addRoutes(to group: RouterGroup<AuthenticatedContext>, preflights open: RouterGroup<AppRequestContext>) {
        for base in ["build", "builds"] {
            group.post(RouterPath(base), use: create)
            for method in [HTTPRequest.Method.get, .put, .delete] {
                group.on(RouterPath(base), method: method) { _, _ -> Response in throw KernelCIError.notImplemented }
                group.on(RouterPath("\(base)/:id"), method: method) { _, _ -> Response in
                    throw KernelCIError.notImplemented
                }
            }
            KernelCIAPI.addFallbacks([base, "\(base)/:id"], to: group, preflights: open)
        }
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        let build = try BuildReport(object)
        let identity = ["job": build.tree, "kernel": build.describe, "git_branch": build.branch]
        var labels: [String: JSONValue] = ["private": .string("false")]
        for (key, value) in build.jobMetadata { labels[key] = .string(value) }
        let now = Timestamp.now()
        let (run, created) = try await api.reported.findOrCreate(
            harness: KernelCIJob.harness,
            identity: identity,
            scope: principal.scope,
            groupID: try api.owningGroup(principal),
            fields: Run([
                .name: .string("\(build.tree)-\(build.describe)"),
                .status: .string(KernelCIStatus.build.runStatus.rawValue),
                .startedAt: .timestamp(now), .labels: .json(.object(labels)),
            ]),
            comment: "created by the first build report"
        )
        try api.requireWrite(run, principal)
        if !created { try await copyMetadata(build, to: run) }
        try await api.reported.recordResult(build.testCase, run: run)
        if let log = build.log, !log.isEmpty {
            try await api.services.logs.append(
                runID: run.id,
                groupID: run.groupID ?? "",
                text: log.hasSuffix("\n") ? log : log + "\n"
            )
        }
        return KernelCIResponse.make(
            [
                "code": .number(202), "reason": .string("Request accepted and being imported"),
                "result": .array([.object(["job_id": KernelCIFormat.oid(run.seq)])]),
            ],
            status: .accepted,
            request: request
        )
    }

    /// The original fills a job's git and compiler facts from a build only while it has none.
    private func copyMetadata(_ build: BuildReport, to run: Run) async throws {
        var labels = run.json(.labels)?.objectValue ?? [:]
        let facts = [
            "git_url", "git_commit", "git_describe", "git_describe_v", "compiler", "compiler_version",
            "compiler_version_ext", "compiler_version_full", "cross_compile",
        ]
        guard facts.allSatisfy({ labels[$0] == nil }) else { return }
        for (key, value) in build.jobMetadata { labels[key] = .string(value) }
        try await ReportedRuns(services: api.services).edit(
            runID: run.id,
            changes: [.labels: .json(.object(labels))],
            scope: .everything
        )
    }
}

/// A validated build report: the fields of the original's JSON schema (`BMETA_SCHEMA`, `STEPS_SCHEMA`,
/// `ARTIFACTS_SCHEMA`) that Proctor keeps.
struct BuildReport {
    var tree: String
    var describe: String
    var describeVerbose: String?
    var branch: String
    var commit: String
    var url: String
    var arch: String
    var environment: String
    var compiler: String?
    var compilerVersion: String?
    var compilerVersionFull: String
    var crossCompile: String?
    var defconfig: String
    var defconfigFull: String
    var publishPath: String
    var passed: Bool
    var duration: Double?
    var failedSteps: [String]
    var log: String?

    /// Validates `object` as the original's JSON schema does; the first violation is the 400's error.
    init(_ object: [String: JSONValue]) throws {
        var check = SchemaCheck()
        let bmeta = check.object(object, "bmeta")
        let steps = check.array(object, "steps", minItems: 1)
        let artifacts = check.object(object, "artifacts")
        let build = check.object(bmeta, "build")
        let environment = check.object(bmeta, "environment")
        let kernel = check.object(bmeta, "kernel")
        let revision = check.object(bmeta, "revision")

        let status = check.string(build, "status", oneOf: ["PASS", "FAIL"])
        duration = check.number(build, "duration", required: false, minimum: 0)
        self.environment = check.string(environment, "name") ?? ""
        arch = check.string(environment, "arch") ?? ""
        compilerVersionFull = check.string(environment, "compiler_version_full") ?? ""
        compiler = check.string(environment, "compiler", required: false)
        compilerVersion = check.string(environment, "compiler_version", required: false)
        crossCompile = check.string(environment, "cross_compile", required: false)
        defconfig = check.string(kernel, "defconfig") ?? ""
        defconfigFull = check.string(kernel, "defconfig_full") ?? ""
        publishPath = check.string(kernel, "publish_path") ?? ""
        branch = check.string(revision, "branch") ?? ""
        commit = check.string(revision, "commit") ?? ""
        if check.errors.isEmpty,
            !(commit.utf8.count == 40 && commit.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }))
        {
            check.errors.append("'\(commit)' does not match '^[0-9a-f]+$' or is not 40 characters long")
        }
        describe = check.string(revision, "describe") ?? ""
        describeVerbose = check.string(revision, "describe_verbose", required: false)
        tree = check.string(revision, "tree") ?? ""
        url = check.string(revision, "url") ?? ""

        failedSteps = []
        for (index, step) in (steps ?? []).enumerated() {
            guard case .object(let fields) = step else {
                check.errors.append("steps[\(index)] is not of type 'object'")
                continue
            }
            let name = check.string(fields, "name")
            if check.string(fields, "status", oneOf: ["PASS", "FAIL"]) == "FAIL", let name { failedSteps.append(name) }
        }
        if let artifacts {
            if artifacts["kernel"] == nil { check.errors.append("'kernel' is a required property") }
            for (step, entries) in artifacts.sorted(by: { $0.key < $1.key }) {
                guard case .array(let items) = entries else {
                    check.errors.append("artifacts['\(step)'] is not of type 'array'")
                    continue
                }
                for item in items {
                    guard case .object(let fields) = item else {
                        check.errors.append("an artifact of '\(step)' is not of type 'object'")
                        continue
                    }
                    _ = check.string(fields, "type", oneOf: ["file", "directory", "tarball"])
                    _ = check.string(fields, "path")
                }
            }
        }
        log = check.string(object, "log", required: false)
        guard check.errors.isEmpty else { throw KernelCIError.invalidJSON([check.errors[0]]) }
        passed = status == "PASS"
    }

    /// The job-level facts the first build gives its job (`utils/build._update_job_doc`).
    var jobMetadata: [String: String] {
        var out: [String: String] = [
            "git_url": url, "git_commit": commit, "git_describe": describe,
            "compiler_version_full": compilerVersionFull,
            "compiler_version_ext": compilerVersionFull,
        ]
        out["git_describe_v"] = describeVerbose
        out["compiler"] = compiler
        out["compiler_version"] = compilerVersion
        out["cross_compile"] = crossCompile
        return out
    }

    /// The build as a result of its job's run.
    var testCase: TestCase {
        TestCase(
            suite: "build",
            classname: arch,
            name: "\(defconfigFull) (\(environment))",
            status: passed ? .passed : .failed,
            time: duration ?? 0,
            message: passed
                ? nil : (failedSteps.isEmpty ? "build failed" : "failed steps: " + failedSteps.joined(separator: ", ")),
            systemOut: publishPath.isEmpty ? nil : "publish_path: \(publishPath)"
        )
    }
}

/// Collects JSON-schema violations in jsonschema's words (`'x' is a required property`).
private struct SchemaCheck {
    var errors: [String] = []

    mutating func object(_ parent: [String: JSONValue]?, _ key: String) -> [String: JSONValue]? {
        guard let parent else { return nil }
        guard let value = parent[key] else {
            errors.append("'\(key)' is a required property")
            return nil
        }
        guard case .object(let object) = value else {
            errors.append("\(value.encodedString()) is not of type 'object'")
            return nil
        }
        return object
    }

    mutating func array(_ parent: [String: JSONValue]?, _ key: String, minItems: Int) -> [JSONValue]? {
        guard let parent else { return nil }
        guard let value = parent[key] else {
            errors.append("'\(key)' is a required property")
            return nil
        }
        guard case .array(let items) = value else {
            errors.append("\(value.encodedString()) is not of type 'array'")
            return nil
        }
        if items.count < minItems { errors.append("[] is too short") }
        return items
    }

    mutating func string(_ parent: [String: JSONValue]?, _ key: String, required: Bool = true, oneOf: [String]? = nil)
        -> String?
    {
        guard let parent else { return nil }
        guard let value = parent[key] else {
            if required { errors.append("'\(key)' is a required property") }
            return nil
        }
        guard let text = value.stringValue else {
            errors.append("\(value.encodedString()) is not of type 'string'")
            return nil
        }
        if let oneOf, !oneOf.contains(text) {
            errors.append("'\(text)' is not one of " + KernelCIJobController.pythonList(oneOf))
            return nil
        }
        return text
    }

    mutating func number(_ parent: [String: JSONValue]?, _ key: String, required: Bool, minimum: Double) -> Double? {
        guard let parent, let value = parent[key] else {
            if required, parent != nil { errors.append("'\(key)' is a required property") }
            return nil
        }
        guard case .number(let number) = value else {
            errors.append("\(value.encodedString()) is not of type 'number'")
            return nil
        }
        if number < minimum { errors.append("\(value.encodedString()) is less than the minimum of \(Int(minimum))") }
        return number
    }
}
