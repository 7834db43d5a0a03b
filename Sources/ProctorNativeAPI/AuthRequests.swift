import ProctorHTTPKit

/// `POST /api/v1/auth/login`: `{"name" | "username", "password", "expires_in"?}`.
struct LoginRequest: Decodable, Sendable {
    var name: String
    var password: String
    /// The session token's lifetime in seconds (the server's default when not given).
    var expiresIn: Int64?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, username, password
        case expiresIn = "expires_in"
    }

    init(from decoder: any Decoder) throws {
        try JSONBody.refuseUnknownMembers(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let given =
            try container.decodeIfPresent(String.self, forKey: .name)
            ?? container.decodeIfPresent(String.self, forKey: .username)
        guard let given, !given.isEmpty else {
            throw DecodingError.keyNotFound(
                CodingKeys.name,
                .init(codingPath: [], debugDescription: "a user name is required")
            )
        }
        name = given
        password = try container.decode(String.self, forKey: .password)
        expiresIn = try JSONBody.integer(container, forKey: .expiresIn)
    }
}

/// `POST /api/v1/tokens`: `{"name", "expires_in"? | "expires_at"?, "scopes"?}`.
struct TokenRequest: Decodable, Sendable {
    var name: String
    var expiresIn: Int64?
    /// An RFC 3339 time.
    var expiresAt: String?
    var scopes: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, scopes
        case expiresIn = "expires_in"
        case expiresAt = "expires_at"
    }

    init(from decoder: any Decoder) throws {
        try JSONBody.refuseUnknownMembers(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        expiresIn = try JSONBody.integer(container, forKey: .expiresIn)
        expiresAt = try container.decodeIfPresent(String.self, forKey: .expiresAt)
        scopes = try container.decodeIfPresent([String].self, forKey: .scopes)
    }
}

/// `POST /api/v1/groups/{id}/members`: `{"user_id" | "user" (a name), "role"?, "permissions"?}`.
struct MemberRequest: Decodable, Sendable {
    var userID: String?
    var user: String?
    var role: String?
    var permissions: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case user, role, permissions
        case userID = "user_id"
    }

    init(from decoder: any Decoder) throws {
        try JSONBody.refuseUnknownMembers(in: decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        userID = try container.decodeIfPresent(String.self, forKey: .userID)
        user = try container.decodeIfPresent(String.self, forKey: .user)
        role = try container.decodeIfPresent(String.self, forKey: .role)
        permissions = try container.decodeIfPresent([String].self, forKey: .permissions)
    }
}
