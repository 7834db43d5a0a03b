import Foundation
import ProctorCore

/// The `cdrouter-cli` command line of a CDRouter job, from what its launch snapshotted on the run:
/// `options.cdrouter_target` (package, device and config names, the package's testlist and extra arguments) and
/// `options.cdrouter` (the job options: tags, skip_tests, begin_at, end_at, extra_cli_args, testvars).
///
/// Only `-testvar name=value` is confirmed by QA Cafe's public material; the other flag names are Proctor's
/// assumption, listed in docs/cdrouter.md. Empty values give no flag.
enum CDRouterCommand {
    /// Where `cdrouter-cli` is told to write its JUnit results, in the run's working directory.
    static let junitFile = "cdrouter-junit.xml"

    static func arguments(_ options: [String: JSONValue], junit: String) throws -> [String] {
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
            let value = testvar["value"].map(HarnessAdapter.render) ?? ""
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
    static func environment(_ options: [String: JSONValue]) -> [String: String] {
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
