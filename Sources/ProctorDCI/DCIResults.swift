import Foundation
import HTTPTypes
import ProctorCore
import ProctorHTTPKit

/// A job's per-file JUnit summaries: DCI's `tests_results` rows, served by `GET /jobs/{id}/results` and embedded
/// in a job.
///
/// The test cases themselves are core test results (with regression marks), and the per-file summary is the
/// core's (``RunFiles/FileResults``): taken from the ingest when DCI uploads the file and kept in the run's
/// `options.results`, so reading a job never re-counts its cases; result files that arrived another way
/// (native API, agents) are counted on demand by ``RunFiles/results(fileID:runID:)``.
struct DCIResults {
    let api: DCIAPI

    var store: any StoreReader { api.store }

    /// Whether DCI would parse the file as JUnit: its declared mime, or (no `DCI-MIME`) a body that looks like it.
    static func isJUnit(mime: String?, body: Data) -> Bool {
        if let mime { return mime.lowercased() == "application/junit" }
        let head = String(decoding: body.prefix(4096), as: UTF8.self)
        return head.contains("<testsuite")
    }

    /// One summary row.
    static func entry(file: Record, jobID: String, results: RunFiles.FileResults) -> JSONValue {
        .object([
            "id": .string(file.id), "file_id": .string(file.id), "job_id": .string(jobID),
            "name": DCIRender.string(file["name"]), "filename": DCIRender.string(file["name"]),
            "total": .number(Double(results.tests.total)), "success": .number(Double(results.tests.passed)),
            "failures": .number(Double(results.tests.failed)), "errors": .number(Double(results.tests.errored)),
            "skips": .number(Double(results.tests.skipped)), "regressions": .number(Double(results.regressions)),
            "successfixes": .number(Double(results.recoveries)), "time": .number(results.time.rounded()),
            "created_at": DCIRender.time(file["created_at"]),
        ])
    }

    /// The summaries kept on the run.
    static func stored(_ job: Record) -> [JSONValue] {
        job[DCIRender.options].jsonValue?["results"]?.arrayValue ?? []
    }

    /// Stores an uploaded JUnit file, ingests it into test results and records its summary on the run, in the
    /// ingest's own write (with the file's row where the store allows, ``RunFiles/storeAndIngest(data:run:name:mime:fields:format:summarize:)``).
    /// A file that is not JUnit is stored all the same, and the answer is DCI's 400.
    func storeAndIngest(data: Data, job: Record, name: String, mime: String, fields: [String: Value]) async throws
        -> Record
    {
        let jobID = job.id
        do {
            return try await api.services.files.storeAndIngest(
                data: data,
                run: job,
                name: name,
                mime: mime,
                fields: fields,
                format: .junit
            ) { file, results, replaced, options in
                // A file of the same name uploaded before is replaced, cases and summary.
                let replaced = Set(replaced)
                var summaries = (options["results"]?.arrayValue ?? []).filter {
                    !replaced.contains($0["file_id"]?.stringValue ?? "")
                }
                summaries.append(Self.entry(file: file, jobID: jobID, results: results))
                options["results"] = .array(summaries)
            }.file
        } catch let failure as ProctorError where failure.code == .badRequest || failure.code == .unprocessable {
            throw DCIError(.badRequest, "Invalid XML: \(failure.message)")
        }
    }

    /// Forgets a deleted file's summary.
    func remove(fileID: String, from jobID: String) async throws {
        try await updateOptions(of: jobID) { options in
            let results = options["results"]?.arrayValue ?? []
            options["results"] = .array(results.filter { $0["file_id"]?.stringValue != fileID })
        }
    }

    /// Every result file of the job: the stored summaries, plus a count of any JUnit file without one that has
    /// cases (one whose ingest failed has none, and DCI lists no results for it).
    func all(for job: Record) async throws -> [JSONValue] {
        var results = Self.stored(job)
        let known = Set(results.compactMap { $0["file_id"]?.stringValue })
        let files = try await store.list(
            .files,
            query: Query(
                filter: .equal("run_id", job.id) && .predicate(Condition("state", .notEqual, "archived")),
                sort: [SortKey("created_at")],
                limit: 1000
            ),
            scope: .everything
        )
        for file in files.items where !known.contains(file.id) {
            guard RunFiles.format(mime: file.string("mime") ?? "", name: file.name ?? "") == .junit else { continue }
            let counted = try await api.services.files.results(fileID: file.id, runID: job.id)
            if counted.tests.total > 0 { results.append(Self.entry(file: file, jobID: job.id, results: counted)) }
        }
        return results
    }

    /// Read-modify-write of the run's options, retried when another writer changed the run meanwhile.
    private func updateOptions(of runID: String, _ change: @Sendable @escaping (inout [String: JSONValue]) -> Void)
        async throws
    {
        guard try await store.get(.runs, id: runID) != nil else { return }
        try await ReportedRuns(services: api.services).updateOptions(runID: runID, scope: .everything) { change(&$0) }
    }
}
