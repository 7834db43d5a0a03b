import Foundation
import ProctorCore
import Testing

@testable import ProctorDCI

/// ``DCIJSON`` writes DCI rows straight to bytes; these hold it to the dictionary path the door used before (a
/// `[String: JSONValue]` per job, its embeds set as members, then encoded with sorted keys), byte for byte, and to
/// a fixed text for one job with every embed.
@Suite struct DCIJSONTests {
    // MARK: The dictionary path, as the door had it

    /// `DCIRender.job` before the byte writer replaced it.
    static func referenceJob(_ record: Record) -> [String: JSONValue] {
        var out: [String: JSONValue] = [
            "id": .string(record.id), "etag": .string(record.etag), "created_at": DCIRender.time(record["created_at"]),
            "updated_at": DCIRender.time(record["updated_at"]),
        ]
        let labels = record["labels"].jsonValue?.objectValue ?? [:]
        out["name"] = .string(record.string("name") ?? "")
        out["status"] = DCIRender.string(record["status"])
        out["comment"] = DCIRender.string(record["comment"])
        out["status_reason"] = DCIRender.string(record["reason"])
        out["configuration"] = DCIRender.string(record["configuration"])
        out["url"] = DCIRender.string(record["url"])
        out["topic_id"] = DCIRender.string(record["topic_id"])
        out["topic_id_secondary"] = .null
        out["remoteci_id"] = DCIRender.string(record["remoteci_id"])
        out["team_id"] = DCIRender.string(record["group_id"])
        out["product_id"] = labels["product_id"] ?? .null
        out["pipeline_id"] = labels["pipeline_id"] ?? .null
        out["previous_job_id"] = DCIRender.string(record["previous_run_id"])
        out["update_previous_job_id"] = labels["update_previous_job_id"] ?? .null
        out["state"] = DCIRender.string(record["state"])
        out["tags"] = DCIRender.strings(record, "tags")
        out["data"] = DCIRender.json(record["data"])
        out["duration"] = .number((record["duration"].doubleValue ?? 0).rounded(.down))
        out["user_agent"] = DCIRender.string(record["user_agent"])
        out["client_version"] = DCIRender.string(record["client_version"])
        out["keys_values"] = .array(
            DCIRender.keysValues(record).map {
                .object(["key": .string($0.key), "value": .number($0.value), "job_id": .string(record.id)])
            }
        )
        return out
    }

    /// The rows a page embeds, as records.
    struct Related {
        var topics: [Record] = []
        var remotecis: [Record] = []
        var teams: [Record] = []
        var components: [Record] = []
        var jobstates: [String: [Record]] = [:]
        var files: [String: [Record]] = [:]

        func encoded() -> DCIJobController.EncodedRelations {
            func byID(_ rows: [Record], _ render: (Record) -> JSONValue) -> [String: [UInt8]] {
                Dictionary(uniqueKeysWithValues: rows.map { ($0.id, render($0).encodedBytes()) })
            }
            var relations = DCIJobController.EncodedRelations()
            relations.topics = byID(topics, DCIRender.topic)
            relations.remotecis = byID(remotecis, DCIRender.remoteci)
            relations.teams = byID(teams, DCIRender.team)
            relations.components = byID(components, DCIRender.component)
            relations.jobstates = jobstates.mapValues(DCIJSON.jobstate.array)
            relations.files = files.mapValues(DCIJSON.file.array)
            return relations
        }
    }

    /// `DCIJobController.render` before the byte writer: the job's dictionary, trimmed for a listing, with its
    /// embeds set as members, encoded.
    static func referenceBytes(_ job: Record, embed: Set<String>, related: Related, listing: Bool) -> [UInt8] {
        var object = referenceJob(job)
        if listing {
            object["data"] = nil
            if job["options"].isNull { object["keys_values"] = nil }
        }
        func one(_ rows: [Record], _ id: String?, _ render: (Record) -> JSONValue) -> JSONValue {
            rows.first { $0.id == id }.map(render) ?? .null
        }
        if embed.contains("topic") { object["topic"] = one(related.topics, job.string("topic_id"), DCIRender.topic) }
        if embed.contains("remoteci") {
            object["remoteci"] = one(related.remotecis, job.string("remoteci_id"), DCIRender.remoteci)
        }
        if embed.contains("team") { object["team"] = one(related.teams, job.groupID, DCIRender.team) }
        if embed.contains("components") {
            object["components"] = .array(
                job.strings("components").compactMap { id in
                    related.components.first { $0.id == id }.map(DCIRender.component)
                }
            )
        }
        if embed.contains("results") { object["results"] = .array(DCIResults.stored(job)) }
        if embed.contains("jobstates") {
            object["jobstates"] = .array((related.jobstates[job.id] ?? []).map(DCIRender.jobstate))
        }
        if embed.contains("files") { object["files"] = .array((related.files[job.id] ?? []).map(DCIRender.file)) }
        return JSONValue.object(object).encodedBytes()
    }

    static func newBytes(_ job: Record, embed: Set<String>, related: Related, listing: Bool) -> [UInt8] {
        DCIJSON.job.bytes(
            DCIJSON.JobRow(
                job,
                embed: DCIJobController.EmbedSet(embed),
                relations: related.encoded(),
                listing: listing
            )
        )
    }

    // MARK: Fixtures

    static let teamID = "0192f0c4-0000-7000-8000-00000000000a"
    static let topicID = "0192f0c4-0000-7000-8000-00000000000b"
    static let remoteciID = "0192f0c4-0000-7000-8000-00000000000c"
    static let componentIDs = ["0192f0c4-0000-7000-8000-0000000000c1", "0192f0c4-0000-7000-8000-0000000000c2"]
    static let jobID = "0192f0c4-0000-7000-8000-00000000001f"
    /// 2024-02-29T23:59:59.000001 UTC.
    static let leapDay: Int64 = 1_709_251_199_000_001

    /// A job with every field set: unicode and characters JSON escapes, nested data, labels, key/values, results.
    static let fullJob = Record(
        .runs,
        [
            "id": .string(jobID), "etag": .string("e7a6"), "created_at": .timestamp(leapDay),
            "updated_at": .int(leapDay + 1_000_000), "name": .string("nightly «ünïcode» \"quoted\"\n\ttab \u{1}"),
            "status": .string("success"), "comment": .string("ok ✓"), "reason": .null,
            "configuration": .string("cfg"), "url": .string("https://example.com/a?b=c&d=\\e"),
            "topic_id": .string(topicID), "remoteci_id": .string(remoteciID), "group_id": .string(teamID),
            "previous_run_id": .string("0192f0c4-0000-7000-8000-00000000001e"), "state": .string("active"),
            "tags": .strings(["debug", "日本語"]),
            "data": .json(
                .object(["nested": .object(["b": .array([.number(1.5), .null, .bool(true)]), "a": .string("x")])])
            ),
            "duration": .double(12.9), "user_agent": .string("python-dciclient_4.2.0"), "client_version": .null,
            "labels": .json(.object(["product_id": .string("p-1"), "pipeline_id": .null, "other": .number(3)])),
            "components": .strings(componentIDs + ["0192f0c4-0000-7000-8000-0000000000c9"]),
            "options": .json(
                .object([
                    "keys_values": .object(["z": .number(2), "a": .number(0.25), "skipped": .string("no")]),
                    "results": .array([
                        .object([
                            "id": .string("r1"), "name": .string("junit.xml"), "total": .number(3), "time": .number(10),
                        ])
                    ]),
                ])
            ),
        ]
    )

    /// A job with nothing but its id: every other member null, empty or defaulted.
    static let bareJob = Record(.runs, ["id": .string("0192f0c4-0000-7000-8000-000000000020")])

    static let related: Related = {
        var related = Related()
        related.teams = [Record(.groups, ["id": .string(teamID), "name": .string("équipe"), "etag": .string("t")])]
        related.topics = [
            Record(
                .topics,
                [
                    "id": .string(topicID), "name": .string("RHEL-9.4"), "component_types": .strings(["Compose"]),
                    "export_control": .bool(true), "data": .json(.object(["k": .string("v")])),
                    "created_at": .timestamp(leapDay),
                ]
            )
        ]
        related.remotecis = [
            Record(.remotecis, ["id": .string(remoteciID), "name": .string("ci"), "public": .bool(false)])
        ]
        related.components = componentIDs.enumerated().map { index, id in
            Record(
                .components,
                [
                    "id": .string(id), "name": .string("c\(index)"), "type": .string("Compose"),
                    "tags": .strings(["build:ga"]), "released_at": index == 0 ? .null : .timestamp(leapDay),
                    "created_at": .timestamp(leapDay - 1),
                ]
            )
        }
        related.jobstates[jobID] = ["new", "running", "success"].enumerated().map { index, status in
            Record(
                .runEvents,
                [
                    "id": .string("0192f0c4-0000-7000-8000-0000000000e\(index)"), "run_id": .string(jobID),
                    "status": .string(status), "comment": index == 1 ? .string("go") : .null,
                    "created_at": .timestamp(leapDay + Int64(index)),
                ]
            )
        }
        related.files[jobID] = [
            Record(
                .files,
                [
                    "id": .string("0192f0c4-0000-7000-8000-0000000000f1"), "run_id": .string(jobID),
                    "name": .string("junit.xml"), "mime": .string("application/junit"), "size": .int(2048),
                    "state": .string("active"), "group_id": .string(teamID), "created_at": .timestamp(leapDay),
                ]
            )
        ]
        return related
    }()

    static let allEmbeds: Set<String> = ["topic", "remoteci", "team", "components", "results", "jobstates", "files"]

    // MARK: Tests

    /// Every subset of the seven embeds, listed and alone, on a full job and a bare one: the same bytes as the
    /// dictionary path.
    @Test func jobBytesMatchTheDictionaryPath() {
        let names = Array(Self.allEmbeds).sorted()
        for job in [Self.fullJob, Self.bareJob] {
            for mask in 0..<(1 << names.count) {
                let embed = Set(names.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element))
                for listing in [false, true] {
                    let expected = Self.referenceBytes(job, embed: embed, related: Self.related, listing: listing)
                    let written = Self.newBytes(job, embed: embed, related: Self.related, listing: listing)
                    #expect(
                        written == expected,
                        "\(job.id) embed=\(embed.sorted()) listing=\(listing):\n\(String(decoding: written, as: UTF8.self))\n\(String(decoding: expected, as: UTF8.self))"
                    )
                }
            }
        }
    }

    /// Unknown embed names are ignored, as DCI ignores them.
    @Test func unknownEmbedsAreIgnored() {
        #expect(DCIJobController.EmbedSet(["topic", "nope", "files"]) == [.topic, .files])
        #expect(DCIJobController.EmbedSet(Self.allEmbeds) == .all)
    }

    /// The listed job with every embed, as a fixed text: keys sorted by their bytes, nulls kept, unicode as UTF-8,
    /// quotes and control characters escaped, unknown component ids left out, key/values sorted by key.
    @Test func aJobWithEveryEmbedAsText() {
        let written = String(
            decoding: Self.newBytes(Self.fullJob, embed: Self.allEmbeds, related: Self.related, listing: true),
            as: UTF8.self
        )
        #expect(written == Self.expectedFullJob)
    }

    /// (Broken into lines here; the text has none.)
    static let expectedFullJob = #"""
        {"client_version":null,"comment":"ok ✓","components":[{"canonical_project_name":null,
        "created_at":"2024-02-29T23:59:59.000000","data":{},"display_name":"c0","etag":"",
        "id":"0192f0c4-0000-7000-8000-0000000000c1","message":null,"name":"c0",
        "released_at":"2024-02-29T23:59:59.000000","state":null,"tags":["build:ga"],"team_id":null,
        "title":null,"topic_id":null,"type":"Compose","updated_at":null,"url":null,"version":""},
        {"canonical_project_name":null,"created_at":"2024-02-29T23:59:59.000000","data":{},
        "display_name":"c1","etag":"","id":"0192f0c4-0000-7000-8000-0000000000c2","message":null,
        "name":"c1","released_at":"2024-02-29T23:59:59.000001","state":null,"tags":["build:ga"],
        "team_id":null,"title":null,"topic_id":null,"type":"Compose","updated_at":null,"url":null,
        "version":""}],"configuration":"cfg","created_at":"2024-02-29T23:59:59.000001","duration":12,
        "etag":"e7a6","files":[{"created_at":"2024-02-29T23:59:59.000001","etag":"",
        "id":"0192f0c4-0000-7000-8000-0000000000f1","job_id":"0192f0c4-0000-7000-8000-00000000001f",
        "jobstate_id":null,"md5":null,"mime":"application/junit","name":"junit.xml","size":"2048",
        "state":"active","team_id":"0192f0c4-0000-7000-8000-00000000000a","updated_at":null}],
        "id":"0192f0c4-0000-7000-8000-00000000001f","jobstates":[{"comment":null,
        "created_at":"2024-02-29T23:59:59.000001","id":"0192f0c4-0000-7000-8000-0000000000e0",
        "job_id":"0192f0c4-0000-7000-8000-00000000001f","status":"new"},{"comment":"go",
        "created_at":"2024-02-29T23:59:59.000002","id":"0192f0c4-0000-7000-8000-0000000000e1",
        "job_id":"0192f0c4-0000-7000-8000-00000000001f","status":"running"},{"comment":null,
        "created_at":"2024-02-29T23:59:59.000003","id":"0192f0c4-0000-7000-8000-0000000000e2",
        "job_id":"0192f0c4-0000-7000-8000-00000000001f","status":"success"}],
        "keys_values":[{"job_id":"0192f0c4-0000-7000-8000-00000000001f","key":"a","value":0.25},
        {"job_id":"0192f0c4-0000-7000-8000-00000000001f","key":"z","value":2}],
        "name":"nightly «ünïcode» \"quoted\"\n\ttab \u0001","pipeline_id":null,
        "previous_job_id":"0192f0c4-0000-7000-8000-00000000001e","product_id":"p-1",
        "remoteci":{"created_at":null,"data":{},"etag":"","id":"0192f0c4-0000-7000-8000-00000000000c",
        "name":"ci","public":false,"state":null,"team_id":null,"updated_at":null},
        "remoteci_id":"0192f0c4-0000-7000-8000-00000000000c","results":[{"id":"r1","name":"junit.xml",
        "time":10,"total":3}],"state":"active","status":"success","status_reason":null,"tags":["debug",
        "日本語"],"team":{"created_at":null,"etag":"t","external":true,"has_pre_release_access":true,
        "id":"0192f0c4-0000-7000-8000-00000000000a","name":"équipe","state":"active","updated_at":null},
        "team_id":"0192f0c4-0000-7000-8000-00000000000a","topic":{"component_types":["Compose"],
        "created_at":"2024-02-29T23:59:59.000001","data":{"k":"v"},"etag":"","export_control":true,
        "id":"0192f0c4-0000-7000-8000-00000000000b","name":"RHEL-9.4","next_topic_id":null,
        "product_id":null,"state":null,"updated_at":null},"topic_id":"0192f0c4-0000-7000-8000-00000000000b",
        "topic_id_secondary":null,"update_previous_job_id":null,"updated_at":"2024-03-01T00:00:00.000001",
        "url":"https://example.com/a?b=c&d=\\e","user_agent":"python-dciclient_4.2.0"}
        """#.split(separator: "\n").joined()

    /// Jobstates and files: the same bytes as their dictionaries.
    @Test func jobstateAndFileBytesMatchTheDictionaryPath() {
        for rows in Self.related.jobstates.values {
            for row in rows + [Record(.runEvents)] {
                #expect(DCIJSON.jobstate.bytes(row) == DCIRender.jobstate(row).encodedBytes())
            }
        }
        for rows in Self.related.files.values {
            for row in rows + [Record(.files)] {
                #expect(DCIJSON.file.bytes(row) == DCIRender.file(row).encodedBytes())
            }
        }
    }

    /// DCI's times are the shared writer's text without its `Z`, whether stored as a time, an integer or a number,
    /// across eras, leap days, the epoch and before it, the four-digit years' edges and beyond them; non-times are
    /// null.
    @Test func timesMatchTheSharedFormatter() {
        let samples: [Int64] = [
            0, 1, -1, 999_999, -999_999, 1_000_000, -1_000_000, 86_399_999_999, -86_400_000_000, Self.leapDay,
            951_782_400_000_000,  // 2000-02-29
            4_107_542_400_000_000,  // 2100-02-28 … 03-01
            253_402_300_799_999_999,  // 9999-12-31T23:59:59.999999
            253_402_300_800_000_000,  // 10000-01-01
            -62_167_219_200_000_000,  // 0000-01-01
            -62_167_219_200_000_001,  // just before year 0
        ]
        // (The writer itself, over the four-digit years: RFC3339Tests.)
        for micros in samples {
            for value in [Value.timestamp(micros), .int(micros), .double(Double(micros))] {
                var out: [UInt8] = []
                DCIJSON.time(value, into: &out)
                #expect(out == DCIRender.time(value).encodedBytes(), "\(micros)")
            }
        }
        for value in [Value.null, .string("2024-01-01"), .double(1.5), .bool(true)] {
            var out: [UInt8] = []
            DCIJSON.time(value, into: &out)
            #expect(out == DCIRender.time(value).encodedBytes())
        }
    }
}

extension DCIJSON.ScannedShape {
    /// A record's bytes: the record as a scanned row, the way the PostgreSQL scan hands rows over.
    func bytes(_ record: Record) -> [UInt8] {
        var out: [UInt8] = []
        write(RecordScannedRow(record, slots: fields.map { FieldSlot(kind, $0) }), into: &out)
        return out
    }

    /// The records' JSON array, as `RelatedRows.encodedChildren` writes one job's rows.
    func array(_ records: [Record]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (index, record) in records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: bytes(record))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}
