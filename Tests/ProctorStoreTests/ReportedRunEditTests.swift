import Foundation
import ProctorCore
import ProctorStore
import ProctorStoreWriting
import ProctorTestSupport
import Testing

/// The core rule every door's writes to a run go through: a client changes only the runs it reports on, never a
/// run that Proctor executes; and DCI's soft delete archives a job with its files.
@Suite struct ReportedRunEditTests {
    func services(_ backend: TestBackend) async throws -> RunServices {
        let store = try await backend.makeStore()
        let files = FileManager.default.temporaryDirectory.appendingPathComponent("proctor-files-\(UUID().uuidString)")
        return RunServices(store: store, filesRoot: files)
    }

    func run(_ services: RunServices, executor: RunExecutor) async throws -> Record {
        let group = try await services.writer.insert(Record(.groups, ["name": .string("g-\(UUID().uuidString)")]))
        return try await services.writer.insert(
            Record(
                .runs,
                [
                    "group_id": .string(group.id), "name": .string("r"), "status": .string("running"),
                    "executor": .string(executor.rawValue),
                ]
            )
        )
    }

    @Test(arguments: TestBackend.available)
    func aRunProctorExecutesIsNotAClientsToChange(_ backend: TestBackend) async throws {
        let services = try await services(backend)
        let reported = ReportedRuns(services: services)
        for executor in [RunExecutor.local, .agent] {
            let executed = try await run(services, executor: executor)
            for attempt in [
                { try await reported.edit(runID: executed.id, changes: [.name: .string("x")], scope: .everything) },
                { try await reported.updateOptions(runID: executed.id, scope: .everything) { $0["k"] = .number(1) } },
                { try await reported.archive(runID: executed.id, ifMatch: nil, scope: .everything) },
            ] as [@Sendable () async throws -> Any] {
                await #expect { _ = try await attempt() } throws: { ($0 as? ProctorError)?.code == .conflict }
            }
            let after = try await services.writer.require(.runs, id: executed.id)
            #expect(after.name == "r" && after["options"].jsonValue?["k"] == nil && after.string("state") != "archived")
        }
        let client = try await run(services, executor: .client)
        let edited = try await reported.edit(runID: client.id, changes: [.name: .string("x")], scope: .everything)
        #expect(edited.name == "x")
        await #expect {
            try await reported.edit(runID: client.id, changes: [.status: .string("success")], scope: .everything)
        } throws: {
            ($0 as? ProctorError)?.code == .internal
        }
        await services.writer.shutdown()
    }

    @Test(arguments: TestBackend.available)
    func archivingAJobArchivesItsFilesAndAStaleEtagChangesNothing(_ backend: TestBackend) async throws {
        let services = try await services(backend)
        let reported = ReportedRuns(services: services)
        let job = try await run(services, executor: .client)
        for index in 0..<3 {
            _ = try await services.writer.insert(
                Record(
                    .files,
                    [
                        "group_id": .string(job.groupID ?? ""), "run_id": .string(job.id), "name": .string("f\(index)"),
                        "size": .int(1),
                    ]
                )
            )
        }
        await #expect { try await reported.archive(runID: job.id, ifMatch: "stale", scope: .everything) } throws: {
            [.conflict, .preconditionFailed].contains(($0 as? ProctorError)?.code)
        }
        func states() async throws -> [String] {
            try await services.writer.list(.files, query: Query(filter: .equal("run_id", job.id)), scope: .everything)
                .items.compactMap { $0.string("state") }
        }
        #expect(try await states() == ["active", "active", "active"])
        try await reported.archive(runID: job.id, ifMatch: job.etag, scope: .everything)
        #expect(try await services.writer.require(.runs, id: job.id).string("state") == "archived")
        #expect(try await states() == ["archived", "archived", "archived"])
        await services.writer.shutdown()
    }
}
