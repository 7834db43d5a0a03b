import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// A test's history across its job's runs (`/tests/history?job=…&classname=…&name=…`) and the comparison of two
/// runs (`/runs/:id/compare?with=…`): both from the core's ``RunHistory``, linked from the run's page.
extension RunPages {
    /// How many of the job's latest runs a test's history shows.
    static let testHistorySize = 50

    @Sendable func testHistory(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let session = try PageSession(request, context)
        let scope = session.principal.scope
        let query = request.uri.queryParameters
        let jobID = query["job"].map(String.init) ?? ""
        let name = query["name"].map(String.init) ?? ""
        let classname = query["classname"].map(String.init) ?? ""
        guard !name.isEmpty else { throw ProctorError.badRequest("name (the test's name) is required", field: "name") }
        guard let job = try await store.get(.definitions, id: jobID, scope: scope) else {
            throw ProctorError.notFound("There is no job \(jobID) (or it belongs to a group you are not in).")
        }
        let history = try await RunHistory(store: store).testHistory(
            definitionID: job.id,
            classname: classname,
            name: name,
            limit: Self.testHistorySize,
            scope: scope
        )
        let since = RunHistory.failingSince(history)
        var data: [String: Any] = [
            "job": job.name ?? job.id, "job_id": job.id, "name": name, "classname": classname,
            "latest": history.first { $0.status != "-" }?.status ?? "",
            "runs": history.map { outcome -> [String: Any] in
                [
                    "id": outcome.runID, "label": Self.runLabel(outcome), "time": Format.time(outcome.createdAt),
                    "status": outcome.status, "status_class": Format.statusClass(outcome.status),
                    "message": outcome.message ?? "",
                ]
            },
            "empty": history.allSatisfy { $0.status == "-" },
        ]
        if let since {
            data["failing_since"] = [
                "id": since.runID, "label": Self.runLabel(since), "time": Format.time(since.createdAt),
            ]
        }
        return try renderer.page(
            "test_history",
            title: "\(name) · Test history · Proctor",
            section: "runs",
            session: session,
            data: data
        )
    }

    /// The history page's address for a test of a job.
    static func historyLink(jobID: String, classname: String, name: String) -> String {
        func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }
        return "/tests/history?job=\(encoded(jobID))&classname=\(encoded(classname))&name=\(encoded(name))"
    }

    static func runLabel(_ outcome: RunHistory.TestOutcome) -> String {
        (outcome.runSeq.map { "#\($0) " } ?? "") + (outcome.runName ?? outcome.runID)
    }

    /// `with` names the other run by id or number (`seq`); without it, the job's run before this one.
    @Sendable func compare(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let session = try PageSession(request, context)
        let scope = session.principal.scope
        let run = try await requireRun(context, scope: scope)
        let with = request.uri.queryParameters["with"].map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        let other: Record?
        if with.isEmpty {
            other = try await previousRun(of: run, scope: scope)
        } else if let seq = Int64(with.trimmingCharacters(in: CharacterSet(charactersIn: "#"))) {
            other = try await store.list(
                .runs,
                query: Query(filter: .predicate(Condition("seq", .equal, String(seq))), limit: 1),
                scope: scope
            ).items.first
        } else {
            other = try await store.get(.runs, id: with, scope: scope)
        }
        guard let other else {
            throw ProctorError.notFound(
                with.isEmpty
                    ? "Run \(run.name ?? run.id) has no earlier run of its job to compare with."
                    : "There is no run \(with) (or it belongs to a group you are not in)."
            )
        }
        let changes = try await RunHistory(store: store).changedTests(before: other.id, after: run.id, scope: scope)
        func label(_ record: Record) -> String {
            (record.int("seq").map { "#\($0) " } ?? "") + (record.name ?? record.id)
        }
        let data: [String: Any] = [
            "id": run.id, "label": label(run), "other_id": other.id, "other_label": label(other),
            "job_id": run.string("definition_id") ?? "",
            "changes": changes.map { change -> [String: Any] in
                [
                    "classname": change.classname, "name": change.name, "before": change.before,
                    "before_class": Format.statusClass(change.before), "after": change.after,
                    "after_class": Format.statusClass(change.after),
                ]
            },
            "empty": changes.isEmpty,
        ]
        return try renderer.page(
            "compare",
            title: "Compare \(label(other)) → \(label(run)) · Proctor",
            section: "runs",
            session: session,
            data: data
        )
    }

    /// The job's run launched just before `run` (the `definition_id, created_at` index), or nil.
    func previousRun(of run: Record, scope: Scope) async throws -> Record? {
        guard let job = run.string("definition_id"), let created = run.int("created_at") else { return nil }
        return try await store.list(
            .runs,
            query: Query(
                filter: .equal("definition_id", job)
                    && .predicate(Condition("created_at", .less, Timestamp.rfc3339(micros: created))),
                sort: [SortKey("created_at", descending: true)],
                limit: 1
            ),
            scope: scope
        ).items.first
    }
}
