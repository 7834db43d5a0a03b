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
                With --server (or PROCTOR_URL) the lab is sent to that server with --token (or PROCTOR_TOKEN), \
                in batches under the server's body limit (groups first, then users, tokens, ..., definitions with \
                their profiles, bundles), with progress on stderr when it is a terminal. Each batch is applied in \
                its own transaction: when one fails, the batches before it stay applied, and applying the lab \
                again after the fix is safe. Without a server, the lab is applied directly to the store named by \
                --data-dir or --database-url, in one transaction.

                At the end it prints what it created, updated and left unchanged per kind (--verbose: also one \
                line per created or updated item; --output json or yaml: every item with its id, and the counts).
                """
        )

        @Option(name: .shortAndLong, help: "The lab file (YAML).")
        var file: String

        @Option(help: "URL of a running server (default: env PROCTOR_URL).")
        var server: String?

        @Option(help: "API token of a site admin (default: env PROCTOR_TOKEN).")
        var token: String?

        @Option(help: "table (a summary per kind, the default), json or yaml (every item, and the counts).")
        var output: OutputFormat = .table

        @Flag(name: .shortAndLong, help: "With table output, also print one line per created or updated item.")
        var verbose = false

        @Option(
            help: ArgumentHelp(
                "The most bytes of JSON one request carries (a smaller limit of the server is learnt from its 413).",
                valueName: "bytes"
            )
        )
        var batchBytes = LabFile.defaultBatchBytes

        @OptionGroup var store: StoreOptions

        func validate() throws {
            guard batchBytes >= 1024 else { throw ValidationError("--batch-bytes must be at least 1024") }
        }

        func run() async throws {
            try await failingCleanly {
                let document = try LabFile.load(path: file)
                let environment = ProcessInfo.processInfo.environment
                let result: LabFile.Result
                if let server = server ?? environment["PROCTOR_URL"] {
                    guard let token = token ?? environment["PROCTOR_TOKEN"] else {
                        throw CleanExit.message("--token (or PROCTOR_TOKEN) is needed with --server")
                    }
                    let api = APIClient(server: server, token: token, http: APIClient.commandLineHTTP)
                    do {
                        result = try await LabFile.send(document, to: api, batchBytes: batchBytes, name: file)
                    } catch let error as APIClient.Unreachable {
                        throw ClientExit.saying(error)
                    }
                } else {
                    let configuration = AppConfiguration(dataDirectory: store.dataDir, databaseURL: store.databaseURL)
                    let opened = try await openStore(configuration, logger: Logger(label: "proctor"))
                    do {
                        result = LabFile.Result(
                            changes: try await LabApplier(store: opened).apply(document),
                            batches: 1
                        )
                    } catch {
                        await opened.shutdown()
                        throw error
                    }
                    await opened.shutdown()
                }
                output.print(result.json) {
                    if verbose { for change in result.changes where change.action != .unchanged { print(change.line) } }
                    result.printSummary()
                }
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

    /// The most bytes of JSON one apply request carries by default: half the server's default body limit.
    static let defaultBatchBytes = 512 * 1024

    /// The most items one apply request carries, so that progress moves about once a second on a big lab.
    static let batchItems = 500

    /// What an apply did.
    struct Result {
        var changes: [LabApplier.Change]
        var batches: Int

        /// Counts per kind, in the order the kinds first appear.
        var counts: [(kind: String, created: Int, updated: Int, unchanged: Int)] {
            var order: [String] = []
            var counts: [String: (created: Int, updated: Int, unchanged: Int)] = [:]
            for change in changes {
                if counts[change.kind] == nil { order.append(change.kind) }
                var count = counts[change.kind] ?? (0, 0, 0)
                switch change.action {
                case .created: count.created += 1
                case .updated: count.updated += 1
                case .unchanged: count.unchanged += 1
                }
                counts[change.kind] = count
            }
            return order.map { ($0, counts[$0]!.created, counts[$0]!.updated, counts[$0]!.unchanged) }
        }

        func total(_ action: LabApplier.Action) -> Int { changes.filter { $0.action == action }.count }

        /// The API's answer (`changes`) with the counts per kind (`summary`), the totals and the batches sent.
        var json: JSONValue {
            var summary: [String: JSONValue] = [:]
            for count in counts {
                summary[count.kind] = .object([
                    "created": .number(Double(count.created)), "updated": .number(Double(count.updated)),
                    "unchanged": .number(Double(count.unchanged)),
                ])
            }
            return .object([
                "changes": .array(
                    changes.map {
                        .object([
                            "action": .string($0.action.rawValue), "kind": .string($0.kind), "name": .string($0.name),
                            "id": .string($0.id),
                        ])
                    }
                ),
                "summary": .object(summary),
                "created": .number(Double(total(.created))), "updated": .number(Double(total(.updated))),
                "unchanged": .number(Double(total(.unchanged))), "batches": .number(Double(batches)),
            ])
        }

        /// A table of the counts per kind, then `C created, U updated, N unchanged`.
        func printSummary() {
            let rows = counts.map { count -> JSONValue in
                .object([
                    "kind": .string(count.kind), "created": .number(Double(count.created)),
                    "updated": .number(Double(count.updated)), "unchanged": .number(Double(count.unchanged)),
                ])
            }
            if !rows.isEmpty { printTable(rows, columns: ["kind", "created", "updated", "unchanged"]) }
            print("\(total(.created)) created, \(total(.updated)) updated, \(total(.unchanged)) unchanged")
        }
    }

    /// Sends a lab to a server in batches under `batchBytes` (or under the server's body limit, when its 413 says
    /// it is smaller), one after another, in the order that lets each batch's references resolve.
    static func send(_ document: JSONValue, to api: APIClient, batchBytes: Int, name: String) async throws -> Result {
        let lab: LabBatches
        do {
            lab = try LabBatches(document)
        } catch let error as ProctorError {
            throw CleanExit.message("\(name): \(error.message)")
        }
        var maxBytes = batchBytes
        var changes: [LabApplier.Change] = []
        var start = 0
        var sent = 0
        let progress = ApplyProgress(name: name, total: lab.items.count)
        defer { progress.finish() }
        repeat {
            let range: Range<Int>
            let remaining: Int
            do {
                range = try lab.batch(from: start, maxBytes: maxBytes, maxItems: batchItems)
                remaining = try lab.batches(from: start, maxBytes: maxBytes, maxItems: batchItems).count
            } catch let error as ProctorError {
                throw CleanExit.message("\(name): \(error.message)")
            }
            progress.show(done: start, batch: sent + 1, of: sent + remaining)
            let reply = try await api.send(.POST, "/api/v1/apply", json: lab.document(range), timeout: .seconds(600))
            if reply.status == 413 {
                // The server (or a proxy before it) takes less: its limit when it says it, else half as much.
                let said = reply.json?["error"]?["limit"]?.arrayValue?.first?.stringValue.flatMap { Int($0) }
                let smaller = said.map { $0 < maxBytes ? $0 : maxBytes / 2 } ?? maxBytes / 2
                guard smaller >= 1024 else {
                    throw CleanExit.message("apply failed: \(reply.errorMessage)")
                }
                maxBytes = smaller
                continue
            }
            guard reply.status == 200 else {
                let applied =
                    start > 0
                    ? " (the \(start) items before this batch were applied; applying the lab again after the fix is safe)"
                    : ""
                throw CleanExit.message(
                    "apply failed: \(lab.locating(reply.errorMessage, in: range))\(applied)"
                )
            }
            changes += (reply.json?["changes"]?.arrayValue ?? []).compactMap(change(from:))
            sent += 1
            start = range.upperBound
        } while start < lab.items.count
        return Result(changes: changes, batches: sent)
    }

    static func change(from item: JSONValue) -> LabApplier.Change? {
        guard let action = item["action"]?.stringValue.flatMap(LabApplier.Action.init(rawValue:)) else { return nil }
        return LabApplier.Change(
            action: action,
            kind: item["kind"]?.stringValue ?? "",
            name: item["name"]?.stringValue ?? "",
            id: item["id"]?.stringValue ?? ""
        )
    }
}

/// A line on stderr that says how far an apply is, rewritten in place; only when stderr is a terminal.
struct ApplyProgress {
    let name: String
    let total: Int
    let enabled = isatty(STDERR_FILENO) == 1

    func show(done: Int, batch: Int, of batches: Int) {
        guard enabled else { return }
        let percent = total == 0 ? 100 : done * 100 / total
        write("\r\u{1B}[Kapplying \(name): \(done)/\(total) items (\(percent)%), batch \(batch) of \(batches)")
    }

    func finish() {
        if enabled { write("\r\u{1B}[K") }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
