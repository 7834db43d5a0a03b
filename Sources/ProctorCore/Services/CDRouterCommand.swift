import Foundation
import ProctorCore

/// The `cdrouter-cli` command line of a CDRouter job, from what its launch snapshotted on the run:
/// `options.cdrouter_target` (package, device and config names, the package's testlist and extra arguments) and
/// `options.cdrouter` (the job options: tags, skip_tests, begin_at, end_at, extra_cli_args, testvars).
///
/// Only `-testvar name=value` is confirmed by QA Cafe's public material; the other flag names are Proctor's
/// assumption, listed in docs/cdrouter.md. Empty values give no flag.
public enum CDRouterCommand {
    /// Where `cdrouter-cli` is told to write its JUnit results, in the run's working directory.
    public static let junitFile = "cdrouter-junit.xml"

    public static func arguments(_ options: [String: JSONValue], junit: String) throws -> [String] {
        let target = options["cdrouter_target"]?.objectValue ?? [:]
        let job = options["cdrouter"]?.objectValue ?? [:]
        func text(_ object: [String: JSONValue], _ key: String) -> String { object[key]?.stringValue ?? "" }
        func list(_ object: [String: JSONValue], _ key: String) -> String {
            object[key]?.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? ""
        }
        var out: [String] = []
        for (flag, value) in [
            ("-package", text(target, "package")), ("-device", text(target, "device")),
            ("-config", text(target, "config")),
            ("-testlist", list(target, "testlist")), ("-tags", list(job, "tags")),
            ("-skip-tests", list(job, "skip_tests")),
            ("-start", text(job, "begin_at")), ("-end", text(job, "end_at")),
        ] where !value.isEmpty {
            out += [flag, value]
        }
        for testvar in job["testvars"]?.arrayValue ?? [] {
            guard let name = testvar["name"]?.stringValue, !name.isEmpty else {
                throw ProctorError(.unprocessable, "a CDRouter testvar needs a name")
            }
            let group = testvar["group"]?.stringValue ?? ""
            let value = testvar["value"].map(\.commandLineText) ?? ""
            out += ["-testvar", (group.isEmpty || group == "default" ? name : "\(group).\(name)") + "=" + value]
        }
        out += ["-junit", junit]
        out += try split(text(target, "extra_cli_args"))
        out += try split(text(job, "extra_cli_args"))
        return out
    }

    /// The `CDROUTER_*` variables a CDRouter job's run gets whatever its harness (a package may run a shell job):
    /// the package, device and config names and the job options, from the same snapshot as the flags. Empty
    /// for a run that is not a CDRouter job.
    public static func environment(_ options: [String: JSONValue]) -> [String: String] {
        guard let target = options["cdrouter_target"]?.objectValue else { return [:] }
        let job = options["cdrouter"]?.objectValue ?? [:]
        func text(_ object: [String: JSONValue], _ key: String) -> String { object[key]?.stringValue ?? "" }
        func list(_ key: String) -> String {
            job[key]?.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? ""
        }
        return [
            "CDROUTER_PACKAGE": text(target, "package"), "CDROUTER_DEVICE": text(target, "device"),
            "CDROUTER_CONFIG": text(target, "config"), "CDROUTER_TAGS": list("tags"),
            "CDROUTER_SKIP_TESTS": list("skip_tests"),
            "CDROUTER_BEGIN_AT": text(job, "begin_at"), "CDROUTER_END_AT": text(job, "end_at"),
            "CDROUTER_EXTRA_CLI_ARGS": text(job, "extra_cli_args"),
        ]
    }

    /// The testvars a CDRouter job runs with, as `cdrouter-cli` would end up with them, a later source winning:
    /// the config's top-level `testvar NAME VALUE` lines, the job's `testvars` option, then `-testvar NAME=VALUE`
    /// in the package's and then the job's `extra_cli_args`. A testvar of a group other than `default` is keyed
    /// `group.name`. Throws when an `extra_cli_args` cannot be split (an unterminated quote).
    public static func testvars(_ options: [String: JSONValue], configContents: String) throws -> [String: String] {
        let target = options["cdrouter_target"]?.objectValue ?? [:]
        let job = options["cdrouter"]?.objectValue ?? [:]
        var testvars = configTestvars(configContents)
        for testvar in job["testvars"]?.arrayValue ?? [] {
            guard let name = testvar["name"]?.stringValue, !name.isEmpty else { continue }
            let group = testvar["group"]?.stringValue ?? ""
            let key = group.isEmpty || group == "default" ? name : "\(group).\(name)"
            testvars[key] = testvar["value"].map(\.commandLineText) ?? ""
        }
        for arguments in [target["extra_cli_args"], job["extra_cli_args"]] {
            for (name, value) in commandLineTestvars(try split(arguments?.stringValue ?? "")) { testvars[name] = value }
        }
        return testvars
    }

    /// The `testvar NAME VALUE` lines of a config's contents outside any `testvar_group NAME { … }` block.
    static func configTestvars(_ contents: String) -> [String: String] {
        var testvars: [String: String] = [:]
        var depth = 0
        for rawLine in contents.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            let words = line.split(maxSplits: 2, whereSeparator: \.isWhitespace)
            if depth == 0, words.count >= 2, words[0] == "testvar" {
                let value = words.count == 3 ? String(words[2]) : ""
                testvars[String(words[1])] = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            depth = max(0, depth + line.filter { $0 == "{" }.count - line.filter { $0 == "}" }.count)
        }
        return testvars
    }

    /// The `-testvar NAME=VALUE` pairs of a command line, in order (also spelt `--testvar` or `-testvar=NAME=VALUE`).
    static func commandLineTestvars(_ words: [String]) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        var index = words.startIndex
        while index < words.endIndex {
            var assignment: Substring?
            let word = words[index]
            if word == "-testvar" || word == "--testvar" {
                index += 1
                if index < words.endIndex { assignment = Substring(words[index]) }
            } else if word.hasPrefix("-testvar=") || word.hasPrefix("--testvar="), let equals = word.firstIndex(of: "=")
            {
                assignment = word[word.index(after: equals)...]
            }
            if let assignment, let equals = assignment.firstIndex(of: "=") {
                pairs.append((String(assignment[..<equals]), String(assignment[assignment.index(after: equals)...])))
            }
            index += 1
        }
        return pairs
    }

    /// Splits a command-line string into words the way a POSIX shell would, without expanding anything:
    /// blanks separate, single quotes are literal, double quotes allow `\"` and `\\`, a backslash escapes.
    static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in line {
            if escaped {
                // Inside double quotes a backslash escapes only `"`, `\`, `$` and `` ` ``; before anything else it stays.
                if quote == "\"", !"\"\\$`".contains(character) { word.append("\\") }
                word.append(character)
                escaped = false
                continue
            }
            switch (quote, character) {
            case ("'", "'"), ("\"", "\""):
                quote = nil
            case ("'", _):
                word.append(character)
            case ("\"", "\\"), (nil, "\\"):
                escaped = true
                inWord = true
            case ("\"", _):
                word.append(character)
            case (nil, "'"), (nil, "\""):
                quote = character
                inWord = true
            case (nil, _) where character.isWhitespace:
                if inWord { words.append(word) }
                word = ""
                inWord = false
            default:
                word.append(character)
                inWord = true
            }
        }
        guard quote == nil, !escaped else {
            throw ProctorError(.unprocessable, "extra_cli_args has an unterminated quote or escape: \(line)")
        }
        if inWord { words.append(word) }
        return words
    }
}
