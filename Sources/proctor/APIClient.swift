import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import ProctorCore

/// A thin client of Proctor's native API, for the agent and the CLI's client commands.
struct APIClient: Sendable {
    let base: String
    let token: String
    let http: HTTPClient

    init(server: String, token: String, http: HTTPClient = .shared) {
        self.base = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.http = http
    }

    /// Seconds a client command waits for a connection to the server.
    static let connectSeconds: Int64 = 3

    /// The HTTP client of the commands a person or a script runs: a server that is down or refuses the
    /// connection is an error within ``connectSeconds``, not after the request's whole deadline (the shared client
    /// keeps retrying the connection until then, 90 s). The agent keeps the shared client: it retries by itself.
    static let commandLineHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(connectSeconds)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

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
        var server: String
        var cause: String

        init(server: String, error: any Error) {
            self.server = server
            self.cause = Self.cause(of: error)
        }

        var description: String { "cannot reach \(server)/ (\(cause))" }

        /// The reason in a few words: what NIO and AsyncHTTPClient report, without their wrapping.
        static func cause(of error: any Error) -> String {
            switch error {
            case let error as IOError: return reason(errno: error.errnoCode) ?? oneLine(error)
            case let error as NIOConnectionError:
                if error.dnsAError != nil || error.dnsAAAAError != nil { return "host \(error.host) not found" }
                if let first = error.connectionErrors.first?.error { return cause(of: first) }
                return oneLine(error)
            case let error as HTTPClientError where error == .connectTimeout:
                return "no connection within \(APIClient.connectSeconds) s"
            case let error as HTTPClientError where error == .deadlineExceeded:
                return "no answer in time"
            case let error as HTTPClientError where error == .remoteConnectionClosed:
                return "the server closed the connection"
            case ChannelError.connectTimeout:
                return "no connection within \(APIClient.connectSeconds) s"
            default: return oneLine(error)
            }
        }

        static func reason(errno: Int32) -> String? {
            switch errno {
            case ECONNREFUSED: return "connection refused"
            case ECONNRESET: return "connection reset"
            case EHOSTUNREACH: return "host unreachable"
            case ENETUNREACH: return "network unreachable"
            case ETIMEDOUT: return "connection timed out"
            default: return nil
            }
        }
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
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw Unreachable(server: base, error: error)
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
