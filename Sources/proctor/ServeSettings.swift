import ArgumentParser
import Foundation
import Yams

/// `serve`'s options from a configuration file (`--config proctor.yaml`, or `PROCTOR_CONFIG`) and from `PROCTOR_*`
/// variables, below the command line: an option the command line gives is taken from it, else from its variable
/// (`PROCTOR_DATABASE_URL` for `--database-url`), else from the file (`database-url:`), else its default.
///
/// Each setting becomes the option it names, added to the arguments before they are parsed, so that every option
/// is checked and documented in one place (`proctor serve --help`), whichever way it comes.
enum ServeSettings {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// `serve`'s options (their long names) and whether each takes a value, as ArgumentParser lists them.
    static let options: [String: Bool] = {
        var options: [String: Bool] = [:]
        let help = Proctor.helpMessage(for: Proctor.Serve.self, columns: 10_000)
        for line in help.split(separator: "\n") where line.hasPrefix("  -") {
            // "  --port <port>   …" or "  -h, --help   …": an option's own line, not a wrapped description.
            var rest = line.drop { $0 == " " }
            if rest.hasPrefix("-"), !rest.hasPrefix("--") { rest = rest.drop { $0 != " " }.drop { $0 == " " } }
            guard rest.hasPrefix("--") else { continue }
            let name = String(rest.dropFirst(2).prefix { $0 != " " })
            options[name] = rest.dropFirst(2 + name.count).hasPrefix(" <")
        }
        options["help"] = nil
        options["version"] = nil
        return options
    }()

    /// `arguments` (the command line after `proctor`), with `serve`'s settings from the environment and the
    /// configuration file added before the command line's own.
    static func expand(_ arguments: [String], environment: [String: String]) throws -> [String] {
        guard arguments.first == "serve" else { return arguments }
        let given = Set(
            arguments.dropFirst().compactMap { argument -> String? in
                guard argument.hasPrefix("--") else { return nil }
                return String(argument.dropFirst(2).prefix { $0 != "=" })
            }
        )
        var added: [String] = []
        var taken = given
        for (name, takesValue) in options.sorted(by: { $0.key < $1.key }) where !taken.contains(name) {
            let variable = "PROCTOR_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let value = environment[variable], !value.isEmpty else { continue }
            if takesValue {
                for item in name == "config" ? [value] : value.split(separator: ",").map(String.init) {
                    added += ["--\(name)", item.trimmingCharacters(in: .whitespaces)]
                }
            } else if ["1", "true", "yes"].contains(value.lowercased()) {
                added.append("--\(name)")
            }
            taken.insert(name)
        }
        if let path = configPath(arguments) ?? environment["PROCTOR_CONFIG"] {
            for (name, values) in try read(path) where !taken.contains(name) {
                guard let takesValue = options[name] else {
                    throw Invalid(
                        description:
                            "\(path): '\(name)' is not an option of proctor serve (see proctor serve --help)"
                    )
                }
                if takesValue {
                    for value in values { added += ["--\(name)", value] }
                } else if values == ["true"] {
                    added.append("--\(name)")
                }
            }
        }
        return ["serve"] + added + arguments.dropFirst()
    }

    /// The command line's `--config FILE` or `--config=FILE`.
    static func configPath(_ arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }

    /// The file's settings: option name (`data-dir`; `data_dir` is read the same) → its values as text (a list
    /// for a repeatable option).
    static func read(_ path: String) throws -> [(String, [String])] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Invalid(description: "\(path): cannot be read: \(error.localizedDescription)")
        }
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch {
            throw Invalid(
                description: "\(path): invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")"
            )
        }
        guard let parsed else { return [] }
        guard let mapping = parsed as? [String: Any] else {
            throw Invalid(description: "\(path): must be a mapping of proctor serve's options (port: 8080, …)")
        }
        return try mapping.sorted { $0.key < $1.key }.map { key, value in
            let name = key.replacingOccurrences(of: "_", with: "-")
            let values: [Any] = (value as? [Any]) ?? [value]
            return (
                name,
                try values.map { item in
                    switch item {
                    case let text as String: return text
                    case let flag as Bool: return flag ? "true" : "false"
                    case let number as Int: return String(number)
                    case let number as Double: return String(number)
                    default: throw Invalid(description: "\(path): '\(key)' must be a value or a list of values")
                    }
                }
            )
        }
    }
}
