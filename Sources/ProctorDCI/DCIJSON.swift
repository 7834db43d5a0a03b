import ProctorCore

/// DCI rows written straight to JSON bytes: the bytes of encoding ``DCIRender``'s objects (keys sorted by their
/// UTF-8 bytes, as every answer lists them), without building a dictionary per row or sorting its keys again.
///
/// Each kind's members are put in order once (``DCIObjectShape``), each with its `"key":` already encoded; a row is
/// then written member by member. `DCIJSONTests` holds these to the dictionary path, byte for byte.
enum DCIJSON {
    // MARK: Values

    static let nullBytes = Array("null".utf8)

    static func null(into out: inout [UInt8]) {
        out.append(contentsOf: nullBytes)
    }

    static func string(_ text: String, into out: inout [UInt8]) {
        JSONValue.string(text).write(into: &out)
    }

    /// ``DCIRender/string(_:)``: the value's text, or null.
    static func string(_ value: Value, into out: inout [UInt8]) {
        if let text = value.stringValue { string(text, into: &out) } else { null(into: &out) }
    }

    /// ``DCIRender/strings(_:_:)``.
    static func strings(_ texts: [String], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, text) in texts.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            string(text, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func number(_ number: Double, into out: inout [UInt8]) {
        JSONValue.number(number).write(into: &out)
    }

    /// ``DCIRender/json(_:default:)`` with `{}` as the default.
    static func json(_ value: Value, into out: inout [UInt8]) {
        if let json = value.jsonValue {
            json.write(into: &out)
        } else {
            out.append(UInt8(ascii: "{"))
            out.append(UInt8(ascii: "}"))
        }
    }

    /// ``DCIRender/time(_:)``: `"2019-10-28T00:11:35.988480"` (UTC, microseconds, no zone), or null.
    static func time(_ value: Value, into out: inout [UInt8]) {
        guard let micros = value.intValue, !value.isNull else { return null(into: &out) }
        Timestamp.writeRFC3339(micros: micros, zulu: false, quoted: true, into: &out)
    }

    // MARK: Rows
    //
    // Each shape resolves its fields' slots once (``FieldSlot``), so that writing a page of rows reads each value
    // by position instead of hashing its name per row.

    /// What ``DCIRender``'s `base` gives every row of `kind`: `id`, `etag`, `created_at`, `updated_at`.
    private static func base<Row>(_ kind: ResourceKind, _ record: @escaping @Sendable (Row) -> Record)
        -> [String: DCIObjectShape<Row>.Member]
    {
        let created = FieldSlot(kind, "created_at")
        let updated = FieldSlot(kind, "updated_at")
        return [
            "id": .always { string(record($0).id, into: &$1) },
            "etag": .always { string(record($0).etag, into: &$1) },
            "created_at": .always { time(record($0)[created], into: &$1) },
            "updated_at": .always { time(record($0)[updated], into: &$1) },
        ]
    }

    /// A member that is the string (or null) in a field of the row.
    private static func text<Row>(_ slot: FieldSlot, of record: @escaping @Sendable (Row) -> Record)
        -> DCIObjectShape<Row>.Member
    {
        .always { string(record($0)[slot], into: &$1) }
    }

    /// ``DCIRender/jobstate(_:)``.
    static let jobstate: DCIObjectShape<Record> = {
        let row: @Sendable (Record) -> Record = { $0 }
        let created = RunEvent.slot(.createdAt)
        return DCIObjectShape([
            "id": .always { string($0.id, into: &$1) },
            "job_id": text(RunEvent.slot(.runID), of: row),
            "status": text(RunEvent.slot(.status), of: row),
            "comment": text(RunEvent.slot(.comment), of: row),
            "created_at": .always { time($0[created], into: &$1) },
        ])
    }()

    /// ``DCIRender/file(_:)``.
    static let file: DCIObjectShape<Record> = {
        let row: @Sendable (Record) -> Record = { $0 }
        let size = StoredFile.slot(.size)
        return DCIObjectShape(
            base(.files, row).merging([
                "name": text(StoredFile.slot(.name), of: row),
                "mime": text(StoredFile.slot(.mime), of: row),
                "md5": text(StoredFile.slot(.md5), of: row),
                "size": .always { string(String($0[size].intValue ?? 0), into: &$1) },
                "job_id": text(StoredFile.slot(.runID), of: row),
                "jobstate_id": text(StoredFile.slot(.eventID), of: row),
                "team_id": text(StoredFile.slot(.groupID), of: row),
                "state": text(StoredFile.slot(.state), of: row),
            ]) { $1 }
        )
    }()

    /// A job being written: its row, the page's embedded rows (each shared row already encoded), and what to write.
    struct JobRow {
        let record: Record
        let labels: [String: JSONValue]
        let embed: DCIJobController.EmbedSet
        let relations: DCIJobController.EncodedRelations
        /// A listing leaves out `data`, and `keys_values` when the job has no options.
        let listing: Bool

        private static let labelsSlot = Run.slot(.labels)

        init(
            _ record: Record,
            embed: DCIJobController.EmbedSet,
            relations: DCIJobController.EncodedRelations,
            listing: Bool
        ) {
            self.record = record
            self.labels = record[Self.labelsSlot].jsonValue?.objectValue ?? [:]
            self.embed = embed
            self.relations = relations
            self.listing = listing
        }

        func label(_ key: String, into out: inout [UInt8]) {
            if let value = labels[key] { value.write(into: &out) } else { DCIJSON.null(into: &out) }
        }
    }

    /// ``DCIRender/job(_:)`` and the embeds ``DCIJobController`` adds to it.
    static let job: DCIObjectShape<JobRow> = {
        typealias Member = DCIObjectShape<JobRow>.Member
        let row: @Sendable (JobRow) -> Record = { $0.record }
        let name = Run.slot(.name)
        let topicID = Run.slot(.topicID)
        let remoteciID = Run.slot(.remoteciID)
        let tags = Run.slot(.tags)
        let data = Run.slot(.data)
        let duration = Run.slot(.duration)
        let components = Run.slot(.components)
        var members = base(.runs, row)
        let own: [String: Member] = [
            "name": .always { string($0.record[name].stringValue ?? "", into: &$1) },
            "status": text(Run.slot(.status), of: row),
            "comment": text(Run.slot(.comment), of: row),
            "status_reason": text(Run.slot(.reason), of: row),
            "configuration": text(Run.slot(.configuration), of: row),
            "url": text(Run.slot(.url), of: row),
            "topic_id": text(topicID, of: row),
            "topic_id_secondary": .always { _, out in null(into: &out) },
            "remoteci_id": text(remoteciID, of: row),
            "team_id": text(Run.slot(.groupID), of: row),
            "product_id": .always { $0.label("product_id", into: &$1) },
            "pipeline_id": .always { $0.label("pipeline_id", into: &$1) },
            "previous_job_id": text(Run.slot(.previousRunID), of: row),
            "update_previous_job_id": .always { $0.label("update_previous_job_id", into: &$1) },
            "state": text(Run.slot(.state), of: row),
            "tags": .always { strings($0.record[tags].stringsValue ?? [], into: &$1) },
            "data": Member(when: { !$0.listing }) { json($0.record[data], into: &$1) },
            "duration": .always { number(($0.record[duration].doubleValue ?? 0).rounded(.down), into: &$1) },
            "user_agent": text(Run.slot(.userAgent), of: row),
            "client_version": text(Run.slot(.clientVersion), of: row),
            "keys_values": Member(when: { !$0.listing || !$0.record[DCIRender.options].isNull }) { row, out in
                out.append(UInt8(ascii: "["))
                for (index, entry) in DCIRender.keysValues(row.record).enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: keyValueJobID)
                    string(row.record.id, into: &out)
                    out.append(contentsOf: keyValueKey)
                    string(entry.key, into: &out)
                    out.append(contentsOf: keyValueValue)
                    number(entry.value, into: &out)
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: "]"))
            },
            "topic": Member(when: { $0.embed.contains(.topic) }) {
                $0.relations.one(.topics, $0.record[topicID].stringValue, into: &$1)
            },
            "remoteci": Member(when: { $0.embed.contains(.remoteci) }) {
                $0.relations.one(.remotecis, $0.record[remoteciID].stringValue, into: &$1)
            },
            "team": Member(when: { $0.embed.contains(.team) }) {
                $0.relations.one(.teams, $0.record.groupID, into: &$1)
            },
            "components": Member(when: { $0.embed.contains(.components) }) {
                $0.relations.many(.components, $0.record[components].stringsValue ?? [], into: &$1)
            },
            "results": Member(when: { $0.embed.contains(.results) }) {
                JSONValue.array(DCIResults.stored($0.record)).write(into: &$1)
            },
            "jobstates": Member(when: { $0.embed.contains(.jobstates) }) {
                jobstate.writeArray($0.relations.jobstates[$0.record.id] ?? [], into: &$1)
            },
            "files": Member(when: { $0.embed.contains(.files) }) {
                file.writeArray($0.relations.files[$0.record.id] ?? [], into: &$1)
            },
        ]
        members.merge(own) { $1 }
        return DCIObjectShape(members)
    }()

    // `{"job_id":…,"key":…,"value":…}`: a key/value's members in sorted order.
    private static let keyValueJobID = Array(#"{"job_id":"#.utf8)
    private static let keyValueKey = Array(#","key":"#.utf8)
    private static let keyValueValue = Array(#","value":"#.utf8)
}

/// The members of one kind of DCI object in the order its JSON lists them, each with its `"key":` encoded once and
/// a function writing its value from a row.
struct DCIObjectShape<Row>: Sendable {
    typealias Write = @Sendable (Row, inout [UInt8]) -> Void

    struct Member: Sendable {
        /// Whether the row has this member at all (nil: always).
        let when: (@Sendable (Row) -> Bool)?
        let write: Write

        init(when: (@Sendable (Row) -> Bool)?, _ write: @escaping Write) {
            self.when = when
            self.write = write
        }

        static func always(_ write: @escaping Write) -> Member { Member(when: nil, write) }
    }

    private let prefixes: [[UInt8]]
    private let members: [Member]

    init(_ members: [String: Member]) {
        let order = JSONMemberOrder(keys: members.keys)
        self.prefixes = order.prefixes
        self.members = order.keys.map { members[$0]! }
    }

    func write(_ row: Row, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for index in members.indices {
            let member = members[index]
            if let when = member.when, !when(row) { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: prefixes[index])
            member.write(row, &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    func writeArray(_ rows: [Row], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for index in rows.indices {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            write(rows[index], into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    func bytes(_ row: Row) -> [UInt8] {
        var out: [UInt8] = []
        write(row, into: &out)
        return out
    }
}
