import Foundation
import HTTPTypes
import ProctorCore

/// A job's per-file JUnit summaries: DCI's `tests_results` rows, served by `GET /jobs/{id}/results` and embedded
/// in a job.
///
/// The test cases themselves are core test results (with regression marks); the per-file summary DCI shows is
/// computed once when the file is ingested and kept in the run's `options.results`, so reading a job never
/// re-counts its cases. Result files that arrived another way (native API, agents) are counted on demand.
struct DCIResults {
    let api: DCIAPI

    var store: any Store { api.store }

    /// Whether DCI would parse the file as JUnit: its declared mime, or (no `DCI-MIME`) a body that looks like it.
    static func isJUnit(mime: String?, body: Data) -> Bool {
        if let mime { return mime.lowercased() == "application/junit" }
        let head = String(decoding: body.prefix(4096), as: UTF8.self)
        return head.contains("<testsuite")
    }

    /// One summary row.
    static func entry(
        file: Record,
        jobID: String,
        summary: TestSummary,
        regressions: Int,
        successfixes: Int,
        time: Double
    ) -> JSONValue {
        .object([
            "id": .string(file.id), "file_id": .string(file.id), "job_id": .string(jobID),
            "name": DCIRender.string(file["name"]), "filename": DCIRender.string(file["name"]),
            "total": .number(Double(summary.total)), "success": .number(Double(summary.passed)),
            "failures": .number(Double(summary.failed)), "errors": .number(Double(summary.errored)),
            "skips": .number(Double(summary.skipped)), "regressions": .number(Double(regressions)),
            "successfixes": .number(Double(successfixes)), "time": .number(time.rounded()),
            "created_at": DCIRender.time(file["created_at"]),
        ])
    }

    /// The summaries kept on the run.
    static func stored(_ job: Record) -> [JSONValue] {
        job["options"].jsonValue?["results"]?.arrayValue ?? []
    }

    /// Ingests a stored JUnit file into test results and records its summary on the run.
    func ingest(_ file: Record, job: Record) async throws -> JSONValue {
        let ingest: RunFiles.Ingest
        do {
            ingest = try await api.services.files.ingest(file, run: job, format: .junit)
        } catch let failure as ProctorError where failure.code == .badRequest || failure.code == .unprocessable {
            throw DCIError(.badRequest, "Invalid XML: \(failure.message)")
        }
        let entry = Self.entry(
            file: file,
            jobID: job.id,
            summary: ingest.file,
            regressions: ingest.regressions,
            successfixes: ingest.recoveries,
            time: try await time(fileID: file.id, jobID: job.id)
        )
        try await updateOptions(of: job.id) { options in
            var results = options["results"]?.arrayValue ?? []
            results.append(entry)
            options["results"] = .array(results)
        }
        return entry
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
            let entry = try await count(file: file, jobID: job.id)
            if entry["total"] != .number(0) { results.append(entry) }
        }
        return results
    }

    /// Counts a file's stored cases by status and regression mark.
    private func count(file: Record, jobID: String) async throws -> JSONValue {
        func number(_ extra: Filter) async throws -> Int {
            try await store.count(
                .testResults,
                query: Query(filter: .equal("run_id", jobID) && .equal("file_id", file.id) && extra),
                scope: .everything
            )
        }
        var summary = TestSummary()
        summary.passed = try await number(.equal("status", TestStatus.passed.rawValue))
        summary.failed = try await number(.equal("status", TestStatus.failed.rawValue))
        summary.errored = try await number(.equal("status", TestStatus.error.rawValue))
        summary.skipped = try await number(.equal("status", TestStatus.skipped.rawValue))
        summary.total = summary.passed + summary.failed + summary.errored + summary.skipped
        return Self.entry(
            file: file,
            jobID: jobID,
            summary: summary,
            regressions: try await number(.equal("regression", Regression.regressed.rawValue)),
            successfixes: try await number(.equal("regression", Regression.recovered.rawValue)),
            time: try await time(fileID: file.id, jobID: jobID)
        )
    }

    /// The sum of a file's case times (DCI's suite time ignores the `time` attribute of `<testsuite>`).
    private func time(fileID: String, jobID: String) async throws -> Double {
        var total = 0.0
        var cursor: String?
        repeat {
            let page = try await store.list(
                .testResults,
                query: Query(
                    filter: .equal("run_id", jobID) && .equal("file_id", fileID),
                    sort: [SortKey("seq")],
                    limit: 1000,
                    cursor: cursor,
                    fields: ["time"]
                ),
                scope: .everything
            )
            for row in page.items { total += row["time"].doubleValue ?? 0 }
            cursor = page.nextCursor
        } while cursor != nil
        return total
    }

    /// Read-modify-write of the run's options, retried when another writer changed the run meanwhile.
    private func updateOptions(of runID: String, _ change: @Sendable (inout [String: JSONValue]) -> Void) async throws {
        for attempt in 0..<8 {
            guard let run = try await store.get(.runs, id: runID) else { return }
            var options = run["options"].jsonValue?.objectValue ?? [:]
            change(&options)
            do {
                _ = try await store.update(
                    .runs,
                    id: runID,
                    changes: ["options": .json(.object(options))],
                    ifMatch: run.etag,
                    scope: .everything
                )
                return
            } catch let failure as ProctorError where failure.code == .conflict && attempt < 7 {
                continue
            }
        }
    }
}
