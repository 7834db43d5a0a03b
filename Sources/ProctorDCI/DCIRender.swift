import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// Core records in DCI's JSON: the keys and types of the seed document's examples (timestamps without a zone,
/// `size` as a string, nulls where the real server has them), plus the newer fields dciclient reads (`tags`,
/// `display_name`, `version`, `released_at`).
enum DCIRender {
    /// A job's `options`, where its key/values and result summaries are kept.
    static let options = Run.slot(.options)

    /// `2019-10-28T00:11:35.988480`: UTC with microseconds and no zone, as DCI's `isoformat()` prints it.
    static func time(_ value: Value) -> JSONValue {
        guard let micros = value.intValue, !value.isNull else { return .null }
        return .string(String(Timestamp.rfc3339(micros: micros).dropLast()))
    }

    static func string(_ value: Value) -> JSONValue {
        value.stringValue.map(JSONValue.string) ?? .null
    }

    static func strings(_ record: Record, _ field: String) -> JSONValue {
        .array(record.strings(field).map(JSONValue.string))
    }

    static func json(_ value: Value, default fallback: JSONValue = .object([:])) -> JSONValue {
        value.jsonValue ?? fallback
    }

    private static func base(_ record: Record) -> [String: JSONValue] {
        [
            "id": .string(record.id), "etag": .string(record.etag), "created_at": time(record["created_at"]),
            "updated_at": time(record["updated_at"]),
        ]
    }

    static func topic(_ record: Record) -> JSONValue {
        var out = base(record)
        out["name"] = string(record["name"])
        out["state"] = string(record["state"])
        out["component_types"] = strings(record, "component_types")
        out["product_id"] = string(record["product_id"])
        out["next_topic_id"] = string(record["next_topic_id"])
        out["export_control"] = .bool(record.bool("export_control") ?? false)
        out["data"] = json(record["data"])
        return .object(out)
    }

    static func component(_ record: Record) -> JSONValue {
        var out = base(record)
        for field in ["name", "type", "topic_id", "state", "url", "title", "message", "canonical_project_name"] {
            out[field] = string(record[field])
        }
        // A component stored before schema version 4 kept its version as canonical_project_name.
        out["display_name"] = .string(record.string("display_name") ?? record.string("name") ?? "")
        out["version"] = .string(record.string("version") ?? record.string("canonical_project_name") ?? "")
        out["data"] = json(record["data"])
        out["tags"] = strings(record, "tags")
        out["released_at"] = record["released_at"].isNull ? time(record["created_at"]) : time(record["released_at"])
        out["team_id"] = string(record["group_id"])
        return .object(out)
    }

    static func product(_ record: Record) -> JSONValue {
        var out = base(record)
        for field in ["name", "label", "description", "state"] { out[field] = string(record[field]) }
        return .object(out)
    }

    static func remoteci(_ record: Record) -> JSONValue {
        var out = base(record)
        out["name"] = string(record["name"])
        out["state"] = string(record["state"])
        out["team_id"] = string(record["group_id"])
        out["public"] = .bool(record.bool("public") ?? false)
        out["data"] = json(record["data"])
        return .object(out)
    }

    static func team(_ record: Record) -> JSONValue {
        var out = base(record)
        out["name"] = string(record["name"])
        out["state"] = .string("active")
        out["external"] = .bool(true)
        out["has_pre_release_access"] = .bool(true)
        return .object(out)
    }

    /// A job as the seed shows it (`client_version` … `user_agent`), plus the fields of today's server, without
    /// embeds: written by ``DCIJSON/job``.
    static func jobBytes(_ record: Record) -> [UInt8] {
        DCIJSON.job.bytes(DCIJSON.JobRow(record, embed: [], relations: .init(), listing: false))
    }

    /// The job's key/values (metrics), kept in the run's options under `keys_values`.
    static func keysValues(_ record: Record) -> [(key: String, value: Double)] {
        let stored = record[options].jsonValue?["keys_values"]?.objectValue ?? [:]
        return stored.compactMap { key, value in
            if case .number(let number) = value { return (key, number) }
            return nil
        }.sorted { $0.key < $1.key }
    }

    static func jobstate(_ record: Record) -> JSONValue {
        .object([
            "id": .string(record.id), "job_id": string(record["run_id"]), "status": string(record["status"]),
            "comment": string(record["comment"]), "created_at": time(record["created_at"]),
        ])
    }

    static func file(_ record: Record) -> JSONValue {
        var out = base(record)
        out["name"] = string(record["name"])
        out["mime"] = string(record["mime"])
        out["md5"] = string(record["md5"])
        out["size"] = .string(String(record.int("size") ?? 0))
        out["job_id"] = string(record["run_id"])
        out["jobstate_id"] = string(record["event_id"])
        out["team_id"] = string(record["group_id"])
        out["state"] = string(record["state"])
        return .object(out)
    }

    // MARK: Envelopes

    /// `{"<plural>": [...], "_meta": {"count": total}}`.
    static func list(_ plural: String, _ items: [JSONValue], count: Int) -> Response {
        JSONResponse.make(.object([plural: .array(items), "_meta": .object(["count": .number(Double(count))])]))
    }

    /// ``list(_:_:count:)`` with the items' JSON array written by `items` straight into the answer's bytes.
    static func list(_ plural: String, count: Int, items: (inout [UInt8]) -> Void) -> Response {
        // `_meta` sorts before every plural DCI has (`_` is 0x5F, below the lower-case letters).
        var out: [UInt8] = Array(#"{"_meta":{"count":"#.utf8)
        JSONValue.number(Double(count)).write(into: &out)
        out.append(contentsOf: #"},""#.utf8)
        out.append(contentsOf: plural.utf8)
        out.append(contentsOf: #"":"#.utf8)
        items(&out)
        out.append(UInt8(ascii: "}"))
        return JSONResponse.make(bytes: out, status: .ok, headers: [:])
    }

    /// `{"<singular>": {...}}` with the object already encoded, and the row's etag in `ETag`.
    static func one(
        _ singular: String,
        encoded: some Collection<UInt8>,
        etag: String?,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        var headers: HTTPFields = [:]
        if let etag, !etag.isEmpty { headers[.eTag] = etag }
        var out: [UInt8] = []
        out.reserveCapacity(singular.utf8.count + encoded.count + 5)
        out.append(UInt8(ascii: "{"))
        JSONValue.string(singular).write(into: &out)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: encoded)
        out.append(UInt8(ascii: "}"))
        return JSONResponse.make(bytes: out, status: status, headers: headers)
    }

    /// `{"<singular>": {...}}` with the row's etag in `ETag`.
    static func one(_ singular: String, _ item: JSONValue, etag: String?, status: HTTPResponse.Status = .ok) -> Response
    {
        var headers: HTTPFields = [:]
        if let etag, !etag.isEmpty { headers[.eTag] = etag }
        return JSONResponse.make(.object([singular: item]), status: status, headers: headers)
    }

    /// `201 {"job": …}`: the answer to every call that makes a job.
    static func createdJob(_ job: Record) -> Response {
        one("job", encoded: jobBytes(job), etag: job.etag, status: .created)
    }

    /// The answer to a job search. The control server relays its analytics service's Elasticsearch result:
    /// `hits.total` (`{"value", "relation"}`), `hits.hits[]` (`_index`, `_id`, `_score`, `_source`: the job), and
    /// the index's `_meta`. With no hit the service keeps only `{"_meta": {}}` (`dci_analytics/api/jobs.py`).
    static func searchHits(_ documents: [(id: String, source: JSONValue)], total: Int) -> Response {
        guard !documents.isEmpty else { return JSONResponse.make(.object(["_meta": .object([:])])) }
        let hits = documents.map { document -> JSONValue in
            .object([
                "_index": .string("jobs"), "_id": .string(document.id), "_score": .null, "_source": document.source,
            ])
        }
        return JSONResponse.make(
            .object([
                "hits": .object([
                    "total": .object(["value": .number(Double(total)), "relation": .string("eq")]),
                    "max_score": .null,
                    "hits": .array(hits),
                ]),
                "_meta": .object([:]),
            ])
        )
    }
}

/// Elasticsearch's `_source` filtering of a job search's documents: `includes` and `excludes` are
/// comma-separated field paths (`team.name`); a path through an array applies to each of its objects.
struct DCISourceFilter: Sendable {
    let includes: [[Substring]]
    let excludes: [[Substring]]

    init(includes: String?, excludes: String?) {
        func paths(_ text: String?) -> [[Substring]] {
            (text ?? "").split(separator: ",").map { $0.split(separator: ".") }.filter { !$0.isEmpty }
        }
        self.includes = paths(includes)
        self.excludes = paths(excludes)
    }

    func apply(to document: JSONValue) -> JSONValue {
        var out = includes.isEmpty ? document : Self.keeping(document, includes.map { $0[...] })
        for path in excludes { out = Self.removing(out, path[...]) }
        return out
    }

    /// The value with only the fields on `paths` (and all of a field a path ends at).
    private static func keeping(_ value: JSONValue, _ paths: [ArraySlice<Substring>]) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map { keeping($0, paths) })
        case .object(let object):
            var out: [String: JSONValue] = [:]
            for (key, child) in object {
                let below = paths.filter { $0.first.map(String.init) == key }.map { $0.dropFirst() }
                if below.contains(where: \.isEmpty) {
                    out[key] = child
                } else if !below.isEmpty {
                    out[key] = keeping(child, below)
                }
            }
            return .object(out)
        default: return value
        }
    }

    /// The value without the field at `path`.
    private static func removing(_ value: JSONValue, _ path: ArraySlice<Substring>) -> JSONValue {
        guard let head = path.first.map(String.init) else { return value }
        switch value {
        case .array(let items): return .array(items.map { removing($0, path) })
        case .object(var object):
            if path.count == 1 {
                object[head] = nil
            } else if let child = object[head] {
                object[head] = removing(child, path.dropFirst())
            }
            return .object(object)
        default: return value
        }
    }
}
