import ProctorHTTPKit

/// `POST /api/v1/agents/register`: who the agent is and what it offers.
struct AgentRegistration: Decodable, Sendable {
    static let maxNameLength = 200
    static let maxSlots: Int64 = 1000

    var name: String
    var labels: [String]
    var version: String?
    /// How many runs the agent executes at once.
    var slots: Int
    /// The owning group's name; the token's first group where it is a member when not given.
    var group: String?

    enum CodingKeys: String, CodingKey {
        case name, labels, version, slots, group
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        guard !name.isEmpty, name.count <= Self.maxNameLength else {
            throw DecodingError.dataCorruptedError(
                forKey: .name,
                in: container,
                debugDescription: "1 to \(Self.maxNameLength) characters"
            )
        }
        labels = try container.decodeIfPresent([String].self, forKey: .labels) ?? []
        version = try container.decodeIfPresent(String.self, forKey: .version)
        slots = Int(try JSONBody.integer(container, forKey: .slots, in: 1...Self.maxSlots) ?? 1)
        group = try container.decodeIfPresent(String.self, forKey: .group)
    }
}

/// `POST /api/v1/runs/{id}/heartbeat`: the claim the agent holds.
struct AgentHeartbeat: Decodable, Sendable {
    /// As returned by the claim.
    var claimant: String
}

/// `POST /api/v1/runs/{id}/advance`: the agent moves its run to the next phase.
struct AgentPhaseReport: Decodable, Sendable {
    var claimant: String
    var status: String
    var reason: String?
    /// The job's exit code, reported with `post-run`.
    var exitCode: Int64?

    enum CodingKeys: String, CodingKey {
        case claimant, status, reason
        case exitCode = "exit_code"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        claimant = try container.decode(String.self, forKey: .claimant)
        status = try container.decode(String.self, forKey: .status)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        exitCode = try JSONBody.integer(container, forKey: .exitCode, in: -(1 << 31)...(1 << 31))
    }
}
