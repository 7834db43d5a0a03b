import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import Testing

/// What one group's members can learn of the others: nothing of their groups, and `/metrics` only with its
/// token when the operator sets one.
@Suite struct VisibilityTests {
    static let lab = #"""
        {"groups": [{"name": "ours", "description": "our lab"}, {"name": "theirs", "description": "their secret lab"}],
         "users": [{"name": "mia", "groups": [{"group": "ours", "role": "admin", "permissions": ["add_docker_image"]}]}],
         "tokens": [{"user": "mia", "name": "t", "value": "pt_visibility_mia_token_00000001"}]}
        """#
    static let mia = "pt_visibility_mia_token_00000001"

    @Test func aUserSeesOnlyTheirGroups() async throws {
        let app = try await TestApp.make()
        try await app.test { client in
            try await client.execute(
                uri: "/api/v1/apply",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: Self.lab)
            ) {
                #expect($0.status == .ok)
            }
            let all = try await client.execute(
                uri: "/api/v1/groups?sort=name",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) {
                try json($0)["items"]?.arrayValue ?? []
            }
            #expect(all.compactMap { $0["name"]?.stringValue } == ["default", "ours", "theirs"])
            let theirs = all.first { $0["name"] == .string("theirs") }?["id"]?.stringValue ?? ""
            let mine = try await client.execute(
                uri: "/api/v1/groups?sort=name",
                method: .get,
                headers: bearer(Self.mia)
            ) {
                try json($0)["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            }
            #expect(mine == ["ours"])
            try await client.execute(uri: "/api/v1/groups/\(theirs)", method: .get, headers: bearer(Self.mia)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(
                uri: "/api/v1/groups?filter=name=theirs&count=true",
                method: .get,
                headers: bearer(Self.mia)
            ) {
                let total = try json($0)["total"]
                #expect(total == .number(0))
            }
            // An image shared with a group the caller is not in is refused like one that does not exist.
            try await client.execute(
                uri: "/xpresso/api/v2/images/polaris_build",
                method: .post,
                headers: [
                    .authorization: "Token \(Self.mia)", .contentType: "application/json",
                    HTTPField.Name("X-Xpresso-Group")!: "ours",
                ],
                body: ByteBuffer(json: #"{"name": "img", "tag": "t1", "git_ref": "main", "groups": ["theirs"]}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("no such group of yours: theirs"))
            }
        }
    }

    @Test func metricsNeedTheirTokenWhenOneIsSet() async throws {
        var app = try await TestApp.make()
        app.configuration.metricsToken = "scrape-secret"
        try await app.test { client in
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get, headers: bearer(TestApp.adminToken)) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: bearer("scrape-secret")) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("proctor_queue_depth"))
            }
        }
    }
}
