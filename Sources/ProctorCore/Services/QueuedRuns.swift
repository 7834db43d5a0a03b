import Foundation
import ProctorStoreWriting

/// Lookups for dialects whose clients name rows by small integers (CDRouter): every table's `seq` is such an id,
/// and a condition on a referenced row (`package_name~dhcp`, `device_id=3`) becomes a condition on the reference.
public struct SeqReferences: Sendable {
    public let store: any StoreReader
    /// The most referenced rows one condition may match; beyond it the client must narrow its filter.
    public let maxMatches: Int

    public init(store: any StoreReader, maxMatches: Int = 10_000) {
        self.store = store
        self.maxMatches = maxMatches
    }

    /// The row whose `seq` is the given integer text, or nil (also for text that is not an integer).
    public func row(_ kind: ResourceKind, seq text: String, scope: Scope, within base: Filter? = nil) async throws
        -> Record?
    {
        guard let seq = Int64(text.trimmingASCIIWhitespace()), seq > 0 else { return nil }
        let filter = base && .predicate(Condition("seq", .equal, String(seq)))
        return try await store.list(kind, query: Query(filter: filter, limit: 1), scope: scope).items.first
    }

    /// The ids of the rows of `kind` that satisfy `condition` (on one of their own fields) and `base`.
    ///
    /// - Throws: a bad request when more than ``maxMatches`` rows match.
    public func ids(_ kind: ResourceKind, matching condition: Condition, within base: Filter?, scope: Scope)
        async throws -> [String]
    {
        let page = try await store.list(
            kind,
            query: Query(filter: base && .predicate(condition), limit: maxMatches + 1, fields: ["id"]),
            scope: scope
        )
        if page.items.count > maxMatches {
            throw ProctorError.badRequest(
                "the filter on \(condition.field) matches more than \(maxMatches) \(kind.rawValue); narrow it",
                field: "filter"
            )
        }
        return page.items.map(\.id)
    }

    /// A filter no row satisfies (seq starts at 1), for conditions known to match nothing.
    public static let nothing: Filter = .predicate(Condition("seq", .less, "0"))
}

/// Changes to runs that wait in the queue, and bulk removal of runs that are not executing; shared by dialects
/// whose clients edit and delete jobs (CDRouter's PATCH, DELETE and bulk delete).
public struct QueuedRuns: Sendable {
    public let services: RunServices

    public init(services: RunServices) {
        self.services = services
    }

    var store: any Store { services.writer }

    /// Points a run that is still `new` at another definition, testbed or config. The definition's `job_file`,
    /// harness and config keys replace the old definition's in the run's options, as a fresh launch would set
    /// them; `extraOptions` are merged over them; `tags`, when given, replace the run's.
    ///
    /// - Throws: a conflict when the run left the queue meanwhile.
    public func retarget(
        runID: String,
        definition: Definition?,
        testbedID: String?,
        configID: String?,
        extraOptions: [String: JSONValue] = [:],
        tags: [String]? = nil,
        scope: Scope
    ) async throws -> Run {
        let run = try await store.require(Run.self, id: runID, scope: scope)
        guard run.status == .new else {
            throw ProctorError.conflict(
                "the job already started (\(run.string(.status) ?? "?")); only a pending job can change",
                field: "status"
            )
        }
        var changes: [Run.Field: Value] = [:]
        var options = run.options
        if let definition, definition.id != run.definitionID {
            if let oldID = run.definitionID, let old = try await store.get(Definition.self, id: oldID) {
                for (key, value) in old.config where options[key] == value { options[key] = nil }
            }
            options["job_file"] = .string(definition.jobFile)
            for (key, value) in definition.config { options[key] = value }
            changes[.definitionID] = .string(definition.id)
            changes[.name] = .string(definition.string(.name) ?? "run")
            changes[.harness] = .string(definition.harness)
        }
        try LaunchParameters.checkHarnessInputs(extraOptions)
        for (key, value) in extraOptions { options[key] = value }
        changes[.options] = .json(.object(options))
        if let testbedID { changes[.testbedID] = .string(testbedID) }
        if let configID { changes[.configID] = .string(configID) }
        if let tags { changes[.tags] = .strings(tags) }
        do {
            let updated = try await store.update(
                .runs,
                id: run.id,
                changes: Run.changes(changes),
                ifMatch: run.etag,
                scope: scope
            )
            await services.events.publish()
            return Run(unchecked: updated)
        } catch let failure as ProctorError where failure.code == .conflict {
            throw ProctorError.conflict(
                "the job changed meanwhile (it may have started); read it again",
                field: "status"
            )
        }
    }

    /// Deletes a run unless it is executing. A queued run is first ended `killed` so that no executor claims it
    /// while it is removed.
    ///
    /// - Returns: false when the scope holds no such run.
    /// - Throws: a conflict when the run is executing.
    @discardableResult
    public func deleteUnlessActive(runID: String, principal: Principal, scope: Scope) async throws -> Bool {
        guard let run = try await store.get(Run.self, id: runID, scope: scope) else { return false }
        try principal.require(.member, in: run.groupID ?? "", resource: "job")
        let status = run.status
        if status.isActive {
            throw ProctorError.conflict("the job is running; stop it before deleting it", field: "status")
        }
        if status == .new {
            do {
                try await services.lifecycle.advance(runID: run.id, to: .killed, reason: "deleted", expecting: [.new])
            } catch let failure as ProctorError where failure.code == .conflict {
                throw ProctorError.conflict("the job started meanwhile; stop it before deleting it", field: "status")
            }
        }
        return try await ReportedRuns(services: services).delete(runID: run.id, scope: scope)
    }

    /// Deletes a run as a generic DELETE asks (the native API): `role` in its group, `ifMatch` guarding against a
    /// concurrent change (412); a run Proctor executes only when it is not executing (409), a client's run at any
    /// time. Its files' contents go with it.
    public func delete(_ run: Run, ifMatch: String?, role: Role, principal: Principal) async throws {
        try CatalogEditor.authorize(run.record, role: role, principal: principal)
        if let ifMatch, ifMatch != run.etag {
            throw ProctorError(.preconditionFailed, "the run changed since it was read (If-Match)")
        }
        let deleted: Bool
        if run.executor == .client {
            deleted = try await ReportedRuns(services: services).delete(runID: run.id, scope: .everything)
        } else {
            deleted = try await deleteUnlessActive(runID: run.id, principal: principal, scope: principal.scope)
        }
        guard deleted else { throw ProctorError.notFound("no such run: \(run.id)") }
    }

    /// Deletes every run matching `filter` that is not executing (nor claimed meanwhile), page by page.
    ///
    /// - Returns: how many runs were deleted.
    public func deleteInactive(matching filter: Filter?, principal: Principal, scope: Scope) async throws -> Int {
        let idle: Filter = .predicate(Condition("status", .notIn, RunStatus.activeValues))
        var deleted = 0
        var skipped: Set<String> = []
        while true {
            var query = Query(filter: filter && idle, sort: [SortKey("seq")], limit: 200, fields: ["id"])
            if !skipped.isEmpty { query.filter = query.filter && .predicate(Condition("id", .notIn, Array(skipped))) }
            let page = try await store.list(.runs, query: query, scope: scope).items
            if page.isEmpty { return deleted }
            for row in page {
                do {
                    if try await deleteUnlessActive(runID: row.id, principal: principal, scope: scope) {
                        deleted += 1
                    } else {
                        skipped.insert(row.id)  // gone meanwhile, or out of scope: never listed again
                    }
                } catch let failure as ProctorError where failure.code == .conflict || failure.code == .forbidden {
                    skipped.insert(row.id)
                }
            }
        }
    }
}
