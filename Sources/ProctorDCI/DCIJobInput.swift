import Foundation
import HTTPTypes
import ProctorCore
import ProctorHTTPKit

/// Reads the loosely typed JSON of DCI job bodies into core values, with DCI's "Request malformed" errors.
enum DCIJobInput {
    /// `POST /jobs` (`create_job_schema`; `components` is required).
    static let createKeys: Set<String> = [
        "remoteci_id", "team_id", "components", "comment", "previous_job_id", "update_previous_job_id", "state",
        "topic_id",
        "tags", "data", "status_reason", "configuration", "name", "url", "pipeline_id",
    ]

    /// `POST /jobs/schedule` (`schedule_job_schema`; `topic_id` is required).
    static let scheduleKeys: Set<String> = [
        "remoteci_id", "topic_id", "components_ids", "comment", "previous_job_id", "state", "tags", "data",
        "configuration",
        "name", "url", "pipeline_id",
    ]

    /// `PUT /jobs/{id}` (`update_job_schema`); other keys are ignored, as DCI's cleaning does.
    static let updateKeys: Set<String> = [
        "comment", "status", "state", "tags", "status_reason", "configuration", "name", "url",
    ]

    static let states: Set<String> = ["active", "inactive", "archived"]

    static func string(_ object: [String: JSONValue], _ key: String) throws -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .string(let text) = value else {
            throw DCIError.malformed(["\(key): \(value.encodedString()) is not of type 'string'"])
        }
        return text
    }

    static func strings(_ object: [String: JSONValue], _ key: String) throws -> [String]? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .array(let items) = value else {
            throw DCIError.malformed(["\(key): \(value.encodedString()) is not of type 'array'"])
        }
        return try items.map { item in
            guard case .string(let text) = item else {
                throw DCIError.malformed(["\(key): \(item.encodedString()) is not of type 'string'"])
            }
            return text
        }
    }

    /// Tags without blanks (`utils._filter_empty_tags`).
    static func tags(_ object: [String: JSONValue]) throws -> [String]? {
        try strings(object, "tags")?.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    static func state(_ object: [String: JSONValue]) throws -> String? {
        guard let state = try string(object, "state") else { return nil }
        guard states.contains(state) else {
            throw DCIError.malformed(["state: '\(state)' is not one of ['active', 'inactive', 'archived']"])
        }
        return state
    }

    static func status(_ object: [String: JSONValue]) throws -> RunStatus? {
        guard let text = try string(object, "status") else { return nil }
        guard let status = RunStatus(rawValue: text) else {
            let valid = RunStatus.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw DCIError.malformed(["status: '\(text)' is not one of [\(valid)]"])
        }
        return status
    }

    /// The core values of the job fields both create and schedule accept.
    static func jobValues(_ object: [String: JSONValue]) throws -> (
        values: [String: Value], labels: [String: JSONValue]
    ) {
        var values: [String: Value] = [:]
        var labels: [String: JSONValue] = [:]
        for (key, field) in [
            "name": "name", "comment": "comment", "configuration": "configuration", "url": "url",
            "status_reason": "reason",
        ] {
            if let text = try string(object, key) { values[field] = .string(text) }
        }
        if let tags = try tags(object) { values["tags"] = .strings(tags) }
        if let state = try state(object) { values["state"] = .string(state) }
        if let data = object["data"], !data.isNull { values["data"] = .json(data) }
        for key in ["pipeline_id", "update_previous_job_id"] {
            if let text = try string(object, key) { labels[key] = .string(text) }
        }
        return (values, labels)
    }
}
