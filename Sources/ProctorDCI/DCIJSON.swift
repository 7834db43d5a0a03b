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
    static func strings(_ record: Record, _ field: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, text) in record.strings(field).enumerated() {
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

    /// What ``DCIRender``'s `base` gives every row: `id`, `etag`, `created_at`, `updated_at`.
    private static func base<Row>(_ record: @escaping @Sendable (Row) -> Record) -> [String: DCIObjectShape<Row>.Write]
    {
        [
            "id": { string(record($0).id, into: &$1) },
            "etag": { string(record($0).etag, into: &$1) },
            "created_at": { time(record($0)["created_at"], into: &$1) },
            "updated_at": { time(record($0)["updated_at"], into: &$1) },
        ]
    }

    /// ``DCIRender/jobstate(_:)``.
    static let jobstate = DCIObjectShape<Record>([
        "id": .always { string($0.id, into: &$1) },
        "job_id": .always { string($0["run_id"], into: &$1) },
        "status": .always { string($0["status"], into: &$1) },
        "comment": .always { string($0["comment"], into: &$1) },
        "created_at": .always { time($0["created_at"], into: &$1) },
    ])

    /// ``DCIRender/file(_:)``.
    static let file = DCIObjectShape<Record>(
        base { (row: Record) in row }.mapValues { .always($0) }.merging([
            "name": .always { string($0["name"], into: &$1) },
            "mime": .always { string($0["mime"], into: &$1) },
            "md5": .always { string($0["md5"], into: &$1) },
            "size": .always { string(String($0.int("size") ?? 0), into: &$1) },
            "job_id": .always { string($0["run_id"], into: &$1) },
            "jobstate_id": .always { string($0["event_id"], into: &$1) },
            "team_id": .always { string($0["group_id"], into: &$1) },
            "state": .always { string($0["state"], into: &$1) },
        ]) { $1 }
    )

    /// A job being written: its row, the page's embedded rows (each shared row already encoded), and what to write.
    struct JobRow {
        let record: Record
        let labels: [String: JSONValue]
        let embed: DCIJobController.EmbedSet
        let relations: DCIJobController.EncodedRelations
        /// A listing leaves out `data`, and `keys_values` when the job has no options.
        let listing: Bool

        init(
            _ record: Record,
            embed: DCIJobController.EmbedSet,
            relations: DCIJobController.EncodedRelations,
            listing: Bool
        ) {
            self.record = record
            self.labels = record["labels"].jsonValue?.objectValue ?? [:]
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
        var members: [String: Member] = base { (row: JobRow) in row.record }.mapValues { .always($0) }
        let own: [String: Member] = [
            "name": .always { string($0.record.string("name") ?? "", into: &$1) },
            "status": .always { string($0.record["status"], into: &$1) },
            "comment": .always { string($0.record["comment"], into: &$1) },
            "status_reason": .always { string($0.record["reason"], into: &$1) },
            "configuration": .always { string($0.record["configuration"], into: &$1) },
            "url": .always { string($0.record["url"], into: &$1) },
            "topic_id": .always { string($0.record["topic_id"], into: &$1) },
            "topic_id_secondary": .always { _, out in null(into: &out) },
            "remoteci_id": .always { string($0.record["remoteci_id"], into: &$1) },
            "team_id": .always { string($0.record["group_id"], into: &$1) },
            "product_id": .always { $0.label("product_id", into: &$1) },
            "pipeline_id": .always { $0.label("pipeline_id", into: &$1) },
            "previous_job_id": .always { string($0.record["previous_run_id"], into: &$1) },
            "update_previous_job_id": .always { $0.label("update_previous_job_id", into: &$1) },
            "state": .always { string($0.record["state"], into: &$1) },
            "tags": .always { strings($0.record, "tags", into: &$1) },
            "data": Member(when: { !$0.listing }) { json($0.record["data"], into: &$1) },
            "duration": .always { number(($0.record["duration"].doubleValue ?? 0).rounded(.down), into: &$1) },
            "user_agent": .always { string($0.record["user_agent"], into: &$1) },
            "client_version": .always { string($0.record["client_version"], into: &$1) },
            "keys_values": Member(when: { !$0.listing || !$0.record["options"].isNull }) { row, out in
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
                $0.relations.one(.topics, $0.record.string("topic_id"), into: &$1)
            },
            "remoteci": Member(when: { $0.embed.contains(.remoteci) }) {
                $0.relations.one(.remotecis, $0.record.string("remoteci_id"), into: &$1)
            },
            "team": Member(when: { $0.embed.contains(.team) }) {
                $0.relations.one(.teams, $0.record.groupID, into: &$1)
            },
            "components": Member(when: { $0.embed.contains(.components) }) {
                $0.relations.many(.components, $0.record.strings("components"), into: &$1)
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
