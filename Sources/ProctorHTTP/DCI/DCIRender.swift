import HTTPTypes
import Hummingbird
import ProctorCore

/// Core records in DCI's JSON: the keys and types of the seed document's examples (timestamps without a zone,
/// `size` as a string, nulls where the real server has them), plus the newer fields dciclient reads (`tags`,
/// `display_name`, `version`, `released_at`).
enum DCIRender {
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

    /// A job as the seed shows it (`client_version` … `user_agent`), plus the fields of today's server.
    static func job(_ record: Record) -> [String: JSONValue] {
        var out = base(record)
        let labels = record["labels"].jsonValue?.objectValue ?? [:]
        out["name"] = .string(record.string("name") ?? "")
        out["status"] = string(record["status"])
        out["comment"] = string(record["comment"])
        out["status_reason"] = string(record["reason"])
        out["configuration"] = string(record["configuration"])
        out["url"] = string(record["url"])
        out["topic_id"] = string(record["topic_id"])
        out["topic_id_secondary"] = .null
        out["remoteci_id"] = string(record["remoteci_id"])
        out["team_id"] = string(record["group_id"])
        out["product_id"] = labels["product_id"] ?? .null
        out["pipeline_id"] = labels["pipeline_id"] ?? .null
        out["previous_job_id"] = string(record["previous_run_id"])
        out["update_previous_job_id"] = labels["update_previous_job_id"] ?? .null
        out["state"] = string(record["state"])
        out["tags"] = strings(record, "tags")
        out["data"] = json(record["data"])
        out["duration"] = .number((record["duration"].doubleValue ?? 0).rounded(.down))
        out["user_agent"] = string(record["user_agent"])
        out["client_version"] = string(record["client_version"])
        out["keys_values"] = .array(
            keysValues(record).map {
                .object(["key": .string($0.key), "value": .number($0.value), "job_id": .string(record.id)])
            }
        )
        return out
    }

    /// The job's key/values (metrics), kept in the run's options under `keys_values`.
    static func keysValues(_ record: Record) -> [(key: String, value: Double)] {
        let stored = record["options"].jsonValue?["keys_values"]?.objectValue ?? [:]
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

    /// `{"<singular>": {...}}` with the row's etag in `ETag`.
    static func one(_ singular: String, _ item: JSONValue, etag: String?, status: HTTPResponse.Status = .ok) -> Response
    {
        var headers: HTTPFields = [:]
        if let etag, !etag.isEmpty { headers[.eTag] = etag }
        return JSONResponse.make(.object([singular: item]), status: status, headers: headers)
    }

    /// `201 {"job": …}`: the answer to every call that makes a job.
    static func createdJob(_ job: Record) -> Response {
        one("job", .object(Self.job(job)), etag: job.etag, status: .created)
    }
}
