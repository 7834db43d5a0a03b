import ProctorCore

/// `POST /api/v1/runs` (schema `RunCreate`): a launch of a job definition when `definition` is given, else a bare
/// run that the client executes and reports on (with the bare-run members below).
struct RunCreateRequest: Decodable, Sendable {
    /// A job definition's id or name.
    var definition: String?
    var profile: String?
    var testbed: String?
    var name: String?
    /// Values for the launch parameters the job declares, by name (``LaunchParameters``).
    var options: [String: JSONValue]
    var tags: [String]
    var labels: [String: String]
    var requestID: String?

    // A bare run's own members.
    var groupID: String?
    var group: String?
    var comment: String?
    var url: String?
    var configuration: String?
    var data: JSONValue?
    var topicID: String?
    var remoteciID: String?
    var components: [String]?

    enum CodingKeys: String, CodingKey {
        case definition, profile, testbed, name, options, tags, labels, group, comment, url, configuration, data
        case components
        case requestID = "request_id"
        case groupID = "group_id"
        case topicID = "topic_id"
        case remoteciID = "remoteci_id"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        definition = try container.decodeIfPresent(String.self, forKey: .definition)
        if definition?.isEmpty == true {
            throw DecodingError.dataCorruptedError(
                forKey: .definition,
                in: container,
                debugDescription: "a job definition's id or name"
            )
        }
        profile = try container.decodeIfPresent(String.self, forKey: .profile)
        testbed = try container.decodeIfPresent(String.self, forKey: .testbed)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        options = try container.decodeIfPresent([String: JSONValue].self, forKey: .options) ?? [:]
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        requestID = try container.decodeIfPresent(String.self, forKey: .requestID)
        groupID = try container.decodeIfPresent(String.self, forKey: .groupID)
        group = try container.decodeIfPresent(String.self, forKey: .group)
        comment = try container.decodeIfPresent(String.self, forKey: .comment)
        url = try container.decodeIfPresent(String.self, forKey: .url)
        configuration = try container.decodeIfPresent(String.self, forKey: .configuration)
        data = try container.decodeIfPresent(JSONValue.self, forKey: .data)
        topicID = try container.decodeIfPresent(String.self, forKey: .topicID)
        remoteciID = try container.decodeIfPresent(String.self, forKey: .remoteciID)
        components = try container.decodeIfPresent([String].self, forKey: .components)
    }

    /// The launch this request asks for, when it names a definition.
    var launch: LaunchRequest? {
        definition.map {
            LaunchRequest(
                definition: $0,
                profile: profile,
                testbed: testbed,
                name: name,
                parameters: options,
                tags: tags,
                labels: labels,
                requestID: requestID
            )
        }
    }

    /// The fields of the bare run this request creates.
    func bareRun(launchedBy user: String?) -> Run {
        var run = Run([
            .tags: .strings(tags), .labels: .json(.object(labels.mapValues(JSONValue.string))),
        ])
        let given: [(Run.Field, String?)] = [
            (.name, name), (.comment, comment), (.url, url), (.configuration, configuration), (.topicID, topicID),
            (.remoteciID, remoteciID),
        ]
        for case (let field, let value?) in given { run[field] = .string(value) }
        if let data { run[.data] = .json(data) }
        if let components { run[.components] = .strings(components) }
        if let user { run[.launchedBy] = .string(user) }
        return run
    }
}

/// `POST /api/v1/runs/{id}/status` (schema `RunStatusReport`).
struct RunStatusReport: Decodable, Sendable {
    var status: String
    var comment: String?
}
