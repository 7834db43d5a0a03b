import ProctorCore
import ProctorHTTPKit

/// Which group a row created through the native API belongs to; one rule for every native create.
enum NativeGroups {
    /// `group_id`, or `group` (a name), or the caller's only group. A group the caller cannot see is a 404;
    /// several groups and no choice is a 400 naming the field.
    static func owning(_ object: [String: JSONValue], principal: Principal, store: any StoreReader, noun: String)
        async throws
        -> String
    {
        try await owning(
            groupID: object["group_id"]?.stringValue,
            group: object["group"]?.stringValue,
            principal: principal,
            store: store,
            noun: noun
        )
    }

    /// ``owning(_:principal:store:noun:)`` from a decoded request's `group_id` and `group`.
    static func owning(groupID: String?, group: String?, principal: Principal, store: any StoreReader, noun: String)
        async throws -> String
    {
        if let id = groupID {
            guard principal.isSiteAdmin || principal.membership(in: id) != nil,
                try await store.get(.groups, id: id) != nil
            else {
                throw ProctorError.notFound("no such group: \(id)")
            }
            return id
        }
        if let name = group {
            if let membership = principal.memberships.first(where: { $0.groupName == name }) {
                return membership.groupID
            }
            if principal.isSiteAdmin, let group = try await store.first(.groups, matching: ["name": .string(name)]) {
                return group.id
            }
            throw ProctorError.notFound("no such group: \(name)")
        }
        if principal.memberships.count == 1 { return principal.memberships[0].groupID }
        throw ProctorError.badRequest(
            "say which group owns the \(noun): 'group' (a name) or 'group_id'",
            field: "group"
        )
    }
}
