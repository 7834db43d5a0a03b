import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ProctorCore

/// A thin client of Proctor's native API, for the agent and the CLI's client commands.
struct APIClient: Sendable {
    let base: String
    let token: String

    init(server: String, token: String) {
        self.base = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
    }

    /// An answer from the server.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer

        var json: JSONValue? { try? JSONValue.decode(Data(body.readableBytesView)) }
        var text: String { String(buffer: body) }

        /// The server's error message in the native shape, or the status.
        var errorMessage: String {
            if let message = json?["error"]?["message"]?.stringValue { return message }
            return "HTTP \(status)"
        }
    }

    /// The server could not be reached (as opposed to answering with an error).
    struct Unreachable: Error, CustomStringConvertible {
        var description: String
    }

    func send(
        _ method: HTTPMethod,
        _ path: String,
        json: JSONValue? = nil,
        body: HTTPClientRequest.Body? = nil,
        contentType: String? = nil,
        timeout: TimeAmount = .seconds(90)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.encodedString()))
        } else if let body {
            request.body = body
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw Unreachable(description: "cannot reach \(base): \(error)")
        }
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: buffer)
    }

    /// Like ``send`` but any non-2xx answer becomes an error carrying the server's message.
    func expect(
        _ method: HTTPMethod,
        _ path: String,
        json: JSONValue? = nil,
        body: HTTPClientRequest.Body? = nil,
        contentType: String? = nil,
        timeout: TimeAmount = .seconds(90)
    ) async throws -> Reply {
        let reply = try await send(method, path, json: json, body: body, contentType: contentType, timeout: timeout)
        guard (200..<300).contains(reply.status) else {
            throw ServerError(status: reply.status, message: reply.errorMessage)
        }
        return reply
    }

    struct ServerError: Error, CustomStringConvertible {
        var status: Int
        var message: String
        var description: String { message }
    }
}

/// Percent-encodes a query value.
func queryEscape(_ text: String) -> String {
    var allowed = CharacterSet.urlQueryAllowed
    allowed.remove(charactersIn: "&=+?#")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}
