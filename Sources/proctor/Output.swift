import ArgumentParser
import Foundation
import ProctorCore
import Yams

/// How a client command prints what the server answered: `--output table|json|yaml`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Columns for a person (the default).
    case table
    /// The API's JSON, pretty-printed with sorted keys.
    case json
    /// The same document as YAML (keys sorted).
    case yaml

    /// Prints `raw` as JSON or YAML, or calls `table` to print it for a person.
    func print(_ raw: JSONValue, table: () -> Void) {
        switch self {
        case .table: table()
        case .json: Swift.print(raw.prettyString())
        case .yaml: Swift.print(raw.yamlString(), terminator: "")
        }
    }
}

/// Prints rows as an aligned table of the given columns, or `raw` as JSON or YAML.
func printRows(_ rows: [JSONValue], columns: [String], format: OutputFormat, raw: JSONValue) {
    format.print(raw) { printTable(rows, columns: columns) }
}

/// Prints rows as an aligned table of the given columns, a header line first.
func printTable(_ rows: [JSONValue], columns: [String]) {
    if rows.isEmpty {
        print("(none)")
        return
    }
    let cells = rows.map { row in columns.map { cell(row[$0]) } }
    let widths = columns.indices.map { index in max(columns[index].count, cells.map { $0[index].count }.max() ?? 0) }
    func line(_ values: [String]) -> String {
        zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }
    print(line(columns.map { $0.uppercased() }))
    for row in cells { print(line(row)) }
}

/// Prints one resource as FIELD VALUE lines: `id` and `name` first, then the other fields by name.
func printFields(_ item: JSONValue) {
    guard case .object(let fields) = item else {
        print(item.prettyString())
        return
    }
    let keys = ["id", "name"].filter { fields[$0] != nil } + fields.keys.filter { $0 != "id" && $0 != "name" }.sorted()
    let width = keys.map(\.count).max() ?? 0
    for key in keys { print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + cell(fields[key])) }
}

private func cell(_ value: JSONValue?) -> String {
    switch value ?? .null {
    case .null: return "-"
    case .string(let text): return text.count > 60 ? String(text.prefix(57)) + "..." : text
    case .number(let number): return number.rounded() == number ? String(Int64(number)) : String(format: "%.2f", number)
    case .bool(let flag): return flag ? "yes" : "no"
    case .array(let items): return items.map { cell($0) }.joined(separator: ",")
    case .object: return value?.encodedString() ?? ""
    }
}

extension JSONValue {
    func prettyString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? encodedString()
    }

    /// The value as a YAML document (keys sorted; a string that YAML would read as another type is quoted).
    func yamlString() -> String {
        (try? Yams.serialize(node: yamlNode(), sortKeys: true)) ?? encodedString() + "\n"
    }

    private func yamlNode() -> Node {
        switch self {
        case .null: return Node("null", Tag(.null))
        case .bool(let flag): return Node(flag ? "true" : "false", Tag(.bool))
        case .number(let number):
            if number.rounded() == number, abs(number) < 1e15 { return Node(String(Int64(number)), Tag(.int)) }
            return Node(String(number), Tag(.float))
        case .string(let text): return .scalar(text.represented())  // quoted when YAML would read another type
        case .array(let items): return .sequence(Node.Sequence(items.map { $0.yamlNode() }))
        case .object(let map):
            return .mapping(Node.Mapping(map.map { (Node($0.key, Tag(.str)), $0.value.yamlNode()) }))
        }
    }
}
