import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import ProctorStore
import Yams

extension Proctor {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply a lab described in YAML: through a running server, or straight into a store.",
            discussion: """
                With --server (or PROCTOR_URL) the file is sent to that server with --token (or PROCTOR_TOKEN). \
                Without one, it is applied directly to the store named by --data-dir or --database-url.
                """
        )

        @Option(name: .shortAndLong, help: "The lab file (YAML).")
        var file: String

        @Option(help: "URL of a running server (default: env PROCTOR_URL).")
        var server: String?

        @Option(help: "API token of a site admin (default: env PROCTOR_TOKEN).")
        var token: String?

        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await failingCleanly {
                let document = try LabFile.load(path: file)
                let environment = ProcessInfo.processInfo.environment
                let changes: [LabApplier.Change]
                if let server = server ?? environment["PROCTOR_URL"] {
                    guard let token = token ?? environment["PROCTOR_TOKEN"] else {
                        throw CleanExit.message("--token (or PROCTOR_TOKEN) is needed with --server")
                    }
                    changes = try await LabFile.send(document, server: server, token: token)
                } else {
                    let configuration = AppConfiguration(dataDirectory: store.dataDir, databaseURL: store.databaseURL)
                    let opened = try await openStore(configuration, logger: Logger(label: "proctor"))
                    do {
                        changes = try await LabApplier(store: opened).apply(document)
                    } catch {
                        await opened.shutdown()
                        throw error
                    }
                    await opened.shutdown()
                }
                for change in changes where change.action != .unchanged { print(change.line) }
                let created = changes.filter { $0.action == .created }.count
                let updated = changes.filter { $0.action == .updated }.count
                print("\(created) created, \(updated) updated, \(changes.count - created - updated) unchanged")
            }
        }
    }
}

/// Reading a lab file and sending it to a server.
enum LabFile {
    static func load(path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CleanExit.message("cannot read \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch let error as YamlError {
            throw CleanExit.message(
                "\(path): invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")"
            )
        } catch {
            throw CleanExit.message("\(path): invalid YAML")
        }
        guard let parsed, case .object = try json(from: parsed, path: path) else {
            throw CleanExit.message("\(path): a lab file is a mapping of sections (groups, users, harnesses, ...)")
        }
        return try json(from: parsed, path: path)
    }

    static func json(from value: Any, path: String) throws -> JSONValue {
        switch value {
        case is NSNull: return .null
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(Double(i))
        case let d as Double: return .number(d)
        case let s as String: return .string(s)
        case let date as Date: return .string(Timestamp.rfc3339(micros: Timestamp.micros(date)))
        case let array as [Any]: return .array(try array.map { try json(from: $0, path: path) })
        case let map as [String: Any]: return .object(try map.mapValues { try json(from: $0, path: path) })
        case let map as [AnyHashable: Any]:
            var object: [String: JSONValue] = [:]
            for (key, item) in map { object["\(key.base)"] = try json(from: item, path: path) }
            return .object(object)
        default: throw CleanExit.message("\(path): unsupported YAML value \(value)")
        }
    }

    static func send(_ document: JSONValue, server: String, token: String) async throws -> [LabApplier.Change] {
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        var request = HTTPClientRequest(url: base + "/api/v1/apply")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: document.encodedString()))
        let response: HTTPClientResponse
        do {
            response = try await APIClient.commandLineHTTP.execute(request, timeout: .seconds(120))
        } catch {
            throw ClientExit.saying(APIClient.Unreachable(server: base, error: error))
        }
        let body = try await response.body.collect(upTo: 16 << 20)
        let json = (try? JSONValue.decode(Data(buffer: body))) ?? .null
        guard response.status.code == 200 else {
            let message = json["error"]?["message"]?.stringValue ?? "HTTP \(response.status.code)"
            throw CleanExit.message("apply failed: \(message)")
        }
        let items: [JSONValue] = json["changes"]?.arrayValue ?? []
        return items.compactMap { item -> LabApplier.Change? in
            guard let action = item["action"]?.stringValue.flatMap(LabApplier.Action.init(rawValue:)) else {
                return nil
            }
            return LabApplier.Change(
                action: action,
                kind: item["kind"]?.stringValue ?? "",
                name: item["name"]?.stringValue ?? "",
                id: item["id"]?.stringValue ?? ""
            )
        }
    }
}
