import Foundation
import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// Jobs: runs that a remote CI creates, executes and reports on (`executor = client`).
///
/// `POST /jobs`, `POST /jobs/schedule`, `POST /jobs/{id}/update`, `POST /jobs/upgrade` (remote CIs only, as in
/// DCI), `GET /jobs` (`where`/`query`/`sort`/`limit`/`offset`/`embed`), `GET`/`POST /analytics/jobs` (search), `GET /jobs/{id}` (with its topic, remote
/// CI, team, components, results, jobstates and files, and its etag), `PUT` and `DELETE /jobs/{id}` (If-Match),
/// `/jobs/{id}/components`, `/jobs/{id}/jobstates`, `/jobs/{id}/results`, `/jobs/{id}/kv`.
struct DCIJobController {
    let api: DCIAPI

    var store: any StoreReader { api.store }
    /// Where a DCI job's own fields change: DCI jobs are runs a remote CI reports on.
    var reported: ReportedRuns { ReportedRuns(services: api.services) }

    func addRoutes(to group: DoorRoutes) {
        group.post("jobs", use: create)
        group.post("jobs/schedule", use: schedule)
        group.post("jobs/upgrade", use: upgrade)
        group.get("jobs", use: list)
        group.get("jobs/:id", use: get)
        group.put("jobs/:id", use: update)
        group.delete("jobs/:id", use: delete)
        group.post("jobs/:id/update", use: updateJob)
        group.get("jobs/:id/components", use: components)
        group.post("jobs/:id/components", use: addComponent)
        group.delete("jobs/:id/components/:component", use: removeComponent)
        group.get("jobs/:id/jobstates", use: jobstates)
        group.get("jobs/:id/results", use: results)
        group.post("jobs/:id/kv", use: addKeyValue)
        group.delete("jobs/:id/kv", use: deleteKeyValue)
        // dciclient's `job.search` posts with the arguments in the query string and no body; the control
        // server takes GET too.
        group.get("analytics/jobs", use: search)
        group.post("analytics/jobs", use: search)
    }

    // MARK: Creating

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let remoteci = try await creatingRemoteci(principal)
        let object = try await api.object(request)
        try api.allow(object, only: DCIJobInput.createKeys)
        guard let components = try DCIJobInput.strings(object, "components") else {
            throw DCIError.malformed(["'components' is a required property"])
        }
        let topic = try await activeTopic(try DCIJobInput.string(object, "topic_id") ?? "", principal: principal)
        var ids: [String] = []
        for id in components {
            ids.append(try await api.require(.components, id: id, principal: principal).id)
        }
        let job = try await build(
            object,
            topic: topic,
            components: ids,
            remoteci: remoteci,
            principal: principal,
            request: request
        )
        return DCIRender.createdJob(job)
    }

    /// `POST /jobs/schedule`: the given `components_ids` (one per component type of the topic), or else the
    /// latest active component of each type.
    @Sendable func schedule(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let remoteci = try await creatingRemoteci(principal)
        let object = try await api.object(request)
        try api.allow(object, only: DCIJobInput.scheduleKeys)
        guard let topicID = try DCIJobInput.string(object, "topic_id") else {
            throw DCIError.malformed(["'topic_id' is a required property"])
        }
        let topic = try await activeTopic(topicID, principal: principal)
        let ids = try await scheduledComponents(topic, given: try DCIJobInput.strings(object, "components_ids") ?? [])
        let job = try await build(
            object,
            topic: topic,
            components: ids,
            remoteci: remoteci,
            principal: principal,
            request: request
        )
        return DCIRender.createdJob(job)
    }

    /// `POST /jobs/{id}/update`: a new job in the same topic with its latest components, linked to the old one.
    @Sendable func updateJob(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let previous = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(previous, principal: principal)
        let topic = try await activeTopic(previous.string("topic_id") ?? "", principal: principal)
        let job = try await follow(
            previous,
            topic: topic,
            labels: ["update_previous_job_id": .string(previous.id)],
            request: request
        )
        return DCIRender.createdJob(job)
    }

    /// `POST /jobs/upgrade {"job_id"}`: a new job in the next topic of the job's topic.
    @Sendable func upgrade(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        try api.allow(object, only: ["job_id"])
        guard let jobID = try DCIJobInput.string(object, "job_id") else {
            throw DCIError.malformed(["'job_id' is a required property"])
        }
        let previous = try await api.require(.jobs, id: jobID, principal: principal)
        try api.requireWrite(previous, principal: principal)
        let current = try await api.require(.topics, id: previous.string("topic_id") ?? "", principal: principal)
        guard let next = current.string("next_topic_id") else {
            throw DCIError(.badRequest, "topic \(current.id) does not contains a next topic")
        }
        let topic = try await activeTopic(next, principal: principal)
        let job = try await follow(previous, topic: topic, labels: [:], request: request)
        return DCIRender.createdJob(job)
    }

    // MARK: Reading

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let embed = EmbedSet(DCIListArguments.embeds(DCIListArguments.parameters(request)["embed"]))
        // Like DCI, a list leaves out each job's `data`; key/values and result summaries (both in `options`)
        // only come with `embed=results` or on the job itself.
        var excluded = ["data"]
        if !embed.contains(.results) { excluded.append("options") }
        if !embed.contains(.components) { excluded.append("components") }
        let (jobs, total) = try await api.page(
            .jobs,
            arguments: try DCIListArguments(request),
            principal: principal,
            excluding: excluded
        )
        let relations = try await relations(of: jobs, embed: embed)
        return DCIRender.list("jobs", count: total) {
            Self.write(jobs, embed: embed, relations: relations, listing: true, into: &$0)
        }
    }

    /// `/analytics/jobs?query=…`: the jobs matching a search (``DCIAnalyticsQuery``), paged, sorted and limited to
    /// the caller's teams as `GET /jobs` is, each with everything `GET /jobs/{id}` embeds but `data`, in the
    /// control server's answer (``DCIRender/searchHits(_:total:)``).
    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let parameters = DCIListArguments.parameters(request)
        let arguments = try DCIListArguments.search(parameters)
        let (jobs, total) = try await api.page(
            .jobs,
            arguments: arguments,
            principal: context.principal,
            excluding: ["data"]
        )
        let documents = try await render(jobs, embed: .all, listing: true)
        let source = DCISourceFilter(includes: parameters["includes"], excludes: parameters["excludes"])
        return DCIRender.searchHits(zip(jobs, documents).map { ($0.id, source.apply(to: $1)) }, total: total)
    }

    @Sendable func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        let encoded = try await encode([job], embed: .all, listing: false)
        // `[{…}]`: the one job's object.
        return DCIRender.one("job", encoded: encoded.dropFirst().dropLast(), etag: job.etag)
    }

    @Sendable func components(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        let items = try await componentRecords(job.strings("components")).map(DCIRender.component)
        return DCIRender.list("components", items, count: items.count)
    }

    @Sendable func jobstates(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        return try await api.list(
            .jobstates,
            request,
            principal: principal,
            extra: .equal("run_id", job.id),
            parent: job
        ) {
            $0.map(DCIRender.jobstate)
        }
    }

    @Sendable func results(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        let items = try await DCIResults(api: api).all(for: job)
        return DCIRender.list("results", items, count: items.count)
    }

    // MARK: Changing

    /// `PUT /jobs/{id}` with `If-match`: a status change is a jobstate, as in DCI; the answer is the new job.
    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let etag = try api.ifMatch(request)
        let object = try await api.object(request)
        var job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(job, principal: principal)
        guard job.etag == etag else { throw DCIError.conflict("Job", job.id) }

        let fields = object.filter { DCIJobInput.updateKeys.contains($0.key) }
        var changes: [Run.Field: Value] = [:]
        for (key, field) in [
            "name": Run.Field.name, "comment": .comment, "configuration": .configuration, "url": .url,
            "status_reason": .reason,
        ] {
            if let text = try DCIJobInput.string(fields, key) { changes[field] = .string(text) }
        }
        if let tags = try DCIJobInput.tags(fields) { changes[.tags] = .strings(tags) }
        if let state = try DCIJobInput.state(fields) { changes[.state] = .string(state) }
        if let status = try DCIJobInput.status(fields), status.rawValue != job.string("status") {
            job = try await api.services.lifecycle.report(
                runID: job.id,
                status: status,
                comment: nil,
                scope: principal.scope
            ).run.record
        }
        if !changes.isEmpty {
            job = try await reported.edit(runID: job.id, changes: changes, scope: principal.scope).record
        }
        return DCIRender.one("job", encoded: DCIRender.jobBytes(job), etag: job.etag)
    }

    /// `DELETE /jobs/{id}` with `If-match`: archives the job and its files (DCI's soft delete).
    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let etag = try api.ifMatch(request)
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(job, principal: principal)
        do {
            try await reported.archive(runID: job.id, ifMatch: etag, scope: principal.scope)
        } catch let failure as ProctorError where failure.code == .conflict || failure.code == .preconditionFailed {
            throw DCIError.conflict("Job", job.id)
        }
        return Response(status: .noContent)
    }

    @Sendable func addComponent(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        try api.allow(object, only: ["id"])
        guard let componentID = try DCIJobInput.string(object, "id") else {
            throw DCIError.malformed(["'id' is a required property"])
        }
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(job, principal: principal)
        let component = try await api.require(.components, id: componentID, principal: principal)
        var ids = job.strings("components")
        guard !ids.contains(component.id) else {
            throw DCIError(.conflict, "Unable to associate component \(component.id) to job \(job.id)")
        }
        ids.append(component.id)
        try await reported.edit(runID: job.id, changes: [.components: .strings(ids)], scope: principal.scope)
        return Response(status: .created)
    }

    @Sendable func removeComponent(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(job, principal: principal)
        let componentID = try context.parameters.require("component")
        let ids = job.strings("components")
        if ids.contains(componentID) {
            try await reported.edit(
                runID: job.id,
                changes: [.components: .strings(ids.filter { $0 != componentID })],
                scope: principal.scope
            )
        }
        return Response(status: .created)
    }

    // MARK: Key/values

    /// `POST /jobs/{id}/kv {"key", "value"}`: a numeric metric on the job (kept in the run's options).
    @Sendable func addKeyValue(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        try api.allow(object, only: ["key", "value"])
        guard let key = try DCIJobInput.string(object, "key") else {
            throw DCIError.malformed(["'key' is a required property"])
        }
        guard case .number(let value) = object["value"] ?? .null else {
            throw DCIError.malformed(["value: \(object["value"]?.encodedString() ?? "missing") is not of type 'number'"]
            )
        }
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(job, principal: principal)
        var options = job["options"].jsonValue?.objectValue ?? [:]
        var values = options["keys_values"]?.objectValue ?? [:]
        guard values[key] == nil else {
            throw DCIError(.conflict, "We are unable to create this resource. A similar resource already exists.")
        }
        values[key] = .number(value)
        options["keys_values"] = .object(values)
        let updated = try await storeOptions(options, job: job, principal: principal)
        return DCIRender.one(
            "kv",
            .object([
                "job_id": .string(job.id), "key": .string(key), "value": .number(value),
                "created_at": DCIRender.time(updated["updated_at"]),
                "updated_at": DCIRender.time(updated["updated_at"]),
            ]),
            etag: nil,
            status: .created
        )
    }

    @Sendable func deleteKeyValue(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let principal = context.principal
        let object = try await api.object(request)
        try api.allow(object, only: ["key"])
        guard let key = try DCIJobInput.string(object, "key") else {
            throw DCIError.malformed(["'key' is a required property"])
        }
        let job = try await api.require(.jobs, id: try context.parameters.require("id"), principal: principal)
        try api.requireWrite(job, principal: principal)
        var options = job["options"].jsonValue?.objectValue ?? [:]
        var values = options["keys_values"]?.objectValue ?? [:]
        values[key] = nil
        options["keys_values"] = .object(values)
        _ = try await storeOptions(options, job: job, principal: principal)
        return Response(status: .noContent)
    }

    private func storeOptions(_ options: [String: JSONValue], job: Record, principal: Principal) async throws -> Record
    {
        do {
            return try await reported.updateOptions(runID: job.id, ifMatch: job.etag, scope: principal.scope) {
                $0 = options
            }.record
        } catch let failure as ProctorError where failure.code == .conflict || failure.code == .preconditionFailed {
            throw DCIError(.conflict, "conflict on Job \"\(job.id)\" or etag not matched")
        }
    }

    // MARK: Helpers

    /// Only a remote CI creates jobs, and only while it is active (`internal_create_jobs`).
    private func creatingRemoteci(_ principal: Principal) async throws -> Record {
        guard principal.kind == .remoteci, let remoteci = try await store.get(.remotecis, id: principal.id),
            (remoteci.string("client_type") ?? "remoteci") == "remoteci"
        else { throw DCIError(.badRequest, "Only remoteci can create job") }
        guard remoteci.string("state") == "active" else {
            throw DCIError(.preconditionFailed, "RemoteCI \"\(remoteci.id)\" is disabled.")
        }
        return remoteci
    }

    private func activeTopic(_ id: String, principal: Principal) async throws -> Record {
        let topic = try await api.require(.topics, id: id, principal: principal)
        guard topic.string("state") == "active" else {
            throw DCIError(.preconditionFailed, "Topic \(topic.id):\(topic.name ?? "") not active.")
        }
        return topic
    }

    /// DCI's `get_schedule_components_ids`: verify the given ids (one per type, active, of the topic), or pick
    /// the newest active component of each type.
    private func scheduledComponents(_ topic: Record, given: [String]) async throws -> [String] {
        let types = topic.strings("component_types")
        let scope = Scope.groups([topic.groupID ?? ""])
        if given.isEmpty {
            var ids: [String] = []
            for type in types {
                let page = try await store.list(
                    .components,
                    query: Query(
                        filter: .equal("topic_id", topic.id) && .equal("type", type) && .equal("state", "active"),
                        sort: [SortKey("created_at", descending: true)],
                        limit: 1
                    ),
                    scope: scope
                )
                guard let component = page.items.first else {
                    throw DCIError(.preconditionFailed, "Component of type \"\(type)\" not found or not exported.")
                }
                ids.append(component.id)
            }
            return ids
        }
        guard given.count == types.count else {
            throw DCIError(
                .preconditionFailed,
                "The number of component ids does not match the number of component types \(types)"
            )
        }
        var seen = Set<String>()
        for id in given {
            guard let component = try await store.get(.components, id: id, scope: scope),
                component.string("topic_id") == topic.id, component.string("state") == "active"
            else { throw DCIError(.notFound, "component id \(id) not found or not exported") }
            let type = component.string("type") ?? ""
            guard seen.insert(type).inserted else {
                throw DCIError(.preconditionFailed, "Component types malformed: type \(type) duplicated.")
            }
        }
        return given
    }

    /// Creates the run for a DCI job through the core lifecycle (status `new`, a first run event).
    private func build(
        _ object: [String: JSONValue],
        topic: Record,
        components: [String],
        remoteci: Record,
        principal: Principal,
        request: Request
    ) async throws -> Record {
        var (values, labels) = try DCIJobInput.jobValues(object)
        if let previous = try DCIJobInput.string(object, "previous_job_id") {
            values["previous_run_id"] = .string(try await api.require(.jobs, id: previous, principal: principal).id)
        }
        return try await createRun(
            values,
            labels: labels,
            topic: topic,
            components: components,
            remoteciID: remoteci.id,
            groupID: remoteci.groupID ?? "",
            request: request
        )
    }

    /// A follow-on job (update/upgrade) of the same remote CI.
    private func follow(_ previous: Record, topic: Record, labels: [String: JSONValue], request: Request) async throws
        -> Record
    {
        let ids = try await scheduledComponents(topic, given: [])
        var values: [String: Value] = ["previous_run_id": .string(previous.id)]
        for field in ["name", "configuration", "url"] where !previous[field].isNull { values[field] = previous[field] }
        return try await createRun(
            values,
            labels: labels,
            topic: topic,
            components: ids,
            remoteciID: previous.string("remoteci_id") ?? "",
            groupID: previous.groupID ?? "",
            request: request
        )
    }

    private func createRun(
        _ fields: [String: Value],
        labels extra: [String: JSONValue],
        topic: Record,
        components: [String],
        remoteciID: String,
        groupID: String,
        request: Request
    ) async throws -> Record {
        var values = Run(checkedValues: fields)
        var labels = extra
        if let product = topic.string("product_id") { labels["product_id"] = .string(product) }
        values[.topicID] = .string(topic.id)
        values[.remoteciID] = .string(remoteciID)
        values[.components] = .strings(components)
        values[.labels] = .json(.object(labels))
        values[.duration] = .double(0)
        if let agent = request.headers.value(of: .userAgent) { values[.userAgent] = .string(String(agent.prefix(255))) }
        if let name = HTTPField.Name("Client-Version"), let version = request.headers[name] {
            values[.clientVersion] = .string(String(version.prefix(255)))
        }
        return try await api.services.lifecycle.createReported(values, groupID: groupID).record
    }

    private func componentRecords(_ ids: [String]) async throws -> [Record] {
        let byID = try await RelatedRows(store: store).byID(.components, ids)
        return ids.compactMap { byID[$0] }
    }

    /// The most jobstates and files embedded per job.
    static let embeddedChildrenPerJob = 1000

    /// What `embed` may ask for on a job, as flags (DCI ignores unknown embeds since 2022; so does Proctor).
    struct EmbedSet: OptionSet, Sendable {
        let rawValue: UInt8
        static let topic = EmbedSet(rawValue: 1 << 0)
        static let remoteci = EmbedSet(rawValue: 1 << 1)
        static let team = EmbedSet(rawValue: 1 << 2)
        static let components = EmbedSet(rawValue: 1 << 3)
        static let results = EmbedSet(rawValue: 1 << 4)
        static let jobstates = EmbedSet(rawValue: 1 << 5)
        static let files = EmbedSet(rawValue: 1 << 6)
        static let all: EmbedSet = [.topic, .remoteci, .team, .components, .results, .jobstates, .files]

        init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The known names of `names` (others are ignored, as DCI ignores them).
        init(_ names: some Sequence<String>) {
            var set: EmbedSet = []
            for name in names {
                switch name {
                case "topic": set.insert(.topic)
                case "remoteci": set.insert(.remoteci)
                case "team": set.insert(.team)
                case "components": set.insert(.components)
                case "results": set.insert(.results)
                case "jobstates": set.insert(.jobstates)
                case "files": set.insert(.files)
                default: break
                }
            }
            self = set
        }
    }

    /// The rows a page of jobs embeds, each relation read in one query for the whole page (not one per job), and
    /// each shared row (a topic, remote CI, team or component many jobs name) rendered and encoded once.
    struct EncodedRelations: Sendable {
        enum Shared: Int { case topics, remotecis, teams, components }
        var topics: [String: [UInt8]] = [:]
        var remotecis: [String: [UInt8]] = [:]
        var teams: [String: [UInt8]] = [:]
        var components: [String: [UInt8]] = [:]
        /// Each job's embedded jobstates and files, as JSON arrays.
        var jobstates: [String: [UInt8]] = [:]
        var files: [String: [UInt8]] = [:]

        func rows(_ relation: Shared) -> [String: [UInt8]] {
            switch relation {
            case .topics: return topics
            case .remotecis: return remotecis
            case .teams: return teams
            case .components: return components
            }
        }

    }

    /// Finds the shared rows each job of a page embeds, remembering the previous job's: a page's jobs mostly name
    /// the same topic, remote CI, team and components, found again with a comparison instead of a hash lookup.
    struct SharedRowFinder {
        let relations: EncodedRelations
        /// The last id and row of each relation, by ``EncodedRelations/Shared``'s raw value.
        private var last: [(id: String, bytes: [UInt8]?)?] = Array(repeating: nil, count: 4)
        private var lastComponents: (ids: [String], bytes: [UInt8])?

        init(_ relations: EncodedRelations) {
            self.relations = relations
        }

        /// The shared row's JSON, or nil when the job names none or one that does not exist.
        mutating func one(_ relation: EncodedRelations.Shared, _ id: String?) -> [UInt8]? {
            guard let id else { return nil }
            if let previous = last[relation.rawValue], previous.id == id { return previous.bytes }
            let bytes = relations.rows(relation)[id]
            last[relation.rawValue] = (id, bytes)
            return bytes
        }

        /// The JSON array of the components of these ids that exist, in the ids' order.
        mutating func components(_ ids: [String]) -> [UInt8] {
            if let previous = lastComponents, previous.ids == ids { return previous.bytes }
            var out: [UInt8] = [UInt8(ascii: "[")]
            var first = true
            for id in ids {
                guard let bytes = relations.components[id] else { continue }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(contentsOf: bytes)
            }
            out.append(UInt8(ascii: "]"))
            lastComponents = (ids, out)
            return out
        }
    }

    func relations(of jobs: [Record], embed: EmbedSet) async throws -> EncodedRelations {
        let related = RelatedRows(store: store)
        let ids = jobs.map(\.id)
        func rows(
            _ kind: ResourceKind,
            _ wanted: EmbedSet,
            _ ids: () -> [String],
            _ render: (Record) -> JSONValue
        ) async throws -> [String: [UInt8]] {
            guard embed.contains(wanted) else { return [:] }
            return try await related.byID(kind, ids()).mapValues { render($0).encodedBytes() }
        }
        let topicID = Run.slot(.topicID), remoteciID = Run.slot(.remoteciID), components = Run.slot(.components)
        var relations = EncodedRelations()
        relations.topics = try await rows(.topics, .topic, { jobs.compactMap { $0[topicID].stringValue } }) {
            DCIRender.topic($0)
        }
        relations.remotecis = try await rows(.remotecis, .remoteci, { jobs.compactMap { $0[remoteciID].stringValue } })
        {
            DCIRender.remoteci($0)
        }
        relations.teams = try await rows(.groups, .team, { jobs.compactMap(\.groupID) }) { DCIRender.team($0) }
        relations.components = try await rows(
            .components,
            .components,
            { Self.componentIDs(of: jobs, slot: components) }
        ) {
            DCIRender.component($0)
        }
        if embed.contains(.jobstates) {
            relations.jobstates = try await related.encodedChildren(
                .runEvents,
                field: "run_id",
                parents: ids,
                sort: [SortKey("seq")],
                perParent: Self.embeddedChildrenPerJob,
                fields: DCIJSON.jobstate.fields,
                write: DCIJSON.jobstate.write
            )
        }
        if embed.contains(.files) {
            relations.files = try await related.encodedChildren(
                .files,
                field: "run_id",
                parents: ids,
                filter: .predicate(.isNull("event_id")) && .predicate(Condition("state", .notEqual, "archived")),
                sort: [SortKey("created_at"), SortKey("seq")],
                perParent: Self.embeddedChildrenPerJob,
                fields: DCIJSON.file.fields,
                write: DCIJSON.file.write
            )
        }
        return relations
    }

    /// The component ids a page's jobs name, each job's list left out when it is the previous job's (jobs of one
    /// topic mostly test the same components).
    static func componentIDs(of jobs: [Record], slot: FieldSlot) -> [String] {
        var ids: [String] = []
        var previous: [String]?
        for job in jobs {
            let named = job[slot].stringsValue ?? []
            if named == previous { continue }
            ids += named
            previous = named
        }
        return ids
    }

    /// Jobs with the asked embeds, as JSON values (search hits, which the source filter then trims): the JSON
    /// ``encode(_:embed:listing:)`` writes, read back.
    func render(_ jobs: [Record], embed: EmbedSet, listing: Bool = false) async throws -> [JSONValue] {
        var finder = SharedRowFinder(try await relations(of: jobs, embed: embed))
        return try jobs.map { job in
            let bytes = DCIJSON.job.bytes(DCIJSON.JobRow(job, embed: embed, finder: &finder, listing: listing))
            return try JSONValue.decode(Data(bytes))
        }
    }

    /// A page of jobs with the asked embeds, written as the `jobs` array's JSON: each job straight to bytes in its
    /// members' precomputed order (``DCIJSON/job``), each shared row encoded once per page however many jobs
    /// embed it.
    func encode(_ jobs: [Record], embed: EmbedSet, listing: Bool) async throws -> [UInt8] {
        let relations = try await relations(of: jobs, embed: embed)
        var out: [UInt8] = []
        Self.write(jobs, embed: embed, relations: relations, listing: listing, into: &out)
        return out
    }

    /// Appends the `jobs` array's JSON to `out`.
    static func write(
        _ jobs: [Record],
        embed: EmbedSet,
        relations: EncodedRelations,
        listing: Bool,
        into out: inout [UInt8]
    ) {
        out.reserveCapacity(out.count + jobs.count * (embed.isEmpty ? 768 : 4096))
        out.append(UInt8(ascii: "["))
        var finder = SharedRowFinder(relations)
        for (index, job) in jobs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            DCIJSON.job.write(DCIJSON.JobRow(job, embed: embed, finder: &finder, listing: listing), into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}
