/// What a request may do with a scoped API token: one vocabulary for every door.
///
/// A token without scopes carries its user's full rights (which roles and group membership then limit). A token
/// with scopes may only do what they grant, whatever its user could do:
/// - `read`: read anything the user can read;
/// - `write`: also create, change and delete resources, and report on runs a client executes;
/// - `execute`: also launch, cancel and relaunch runs that Proctor executes, and execute runs as an agent;
/// - `admin`: everything, including users, groups, memberships, webhooks and lab documents.
///
/// `write` and `execute` each include `read`; `admin` includes all. KernelCI's token rights are scope names
/// too: `get` grants read, `post`, `put` and `delete` grant write (the KernelCI door also keeps them apart,
/// as its API does), each also as `kernelci:get` and so on. An unknown name grants nothing.
public enum AccessScope: String, Sendable, CaseIterable, Comparable {
    case read, write, execute, admin

    /// Every scope name a token may carry.
    public static let scopeNames: [String] =
        ["read", "write", "execute", "admin", "get", "post", "put", "delete"]
        + ["get", "post", "put", "delete", "admin"].map { "kernelci:" + $0 }

    /// Refuses a scope name that grants nothing (a typo would make a token that can do nothing, silently).
    public static func validate(_ names: [String]) throws {
        if let unknown = names.first(where: { granted(by: $0).isEmpty }) {
            throw ProctorError.badRequest(
                "unknown scope '\(unknown)'; scopes are \(scopeNames.joined(separator: ", "))",
                field: "scopes",
                details: ["valid": scopeNames]
            )
        }
    }

    /// What one token scope name grants.
    public static func granted(by name: String) -> Set<AccessScope> {
        let bare = name.hasPrefix("kernelci:") ? String(name.dropFirst("kernelci:".count)) : name
        switch bare {
        case "read", "get": return [.read]
        case "write", "post", "put", "delete": return [.read, .write]
        case "execute": return [.read, .execute]
        case "admin": return Set(allCases)
        default: return []
        }
    }

    /// What a set of token scopes grants (nil: a token without scopes, which grants everything).
    public static func granted(by names: Set<String>?) -> Set<AccessScope> {
        guard let names else { return Set(allCases) }
        return names.reduce(into: []) { $0.formUnion(granted(by: $1)) }
    }

    public static func < (lhs: AccessScope, rhs: AccessScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

extension Principal {
    /// Whether the caller's token allows a request that needs `scope`.
    public func allows(_ scope: AccessScope) -> Bool {
        scopes == nil || AccessScope.granted(by: scopes).contains(scope)
    }
}
