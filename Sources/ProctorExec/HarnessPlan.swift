import Foundation
import ProctorCore

/// How one run is executed: the command, its environment, and which files hold its results.
///
/// Built from the run (its harness, job file, profile env args and job args snapshotted at launch) by the
/// harness adapter, the same way inside `proctor serve` and in a remote `proctor agent`.
public struct RunPlan: Sendable, Equatable {
    public enum ResultFormat: String, Sendable, Equatable {
        case junit
        case pyats
    }

    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    /// Globs relative to the working directory (`*` and `**` may cross directories).
    public var resultGlobs: [String]
    public var resultFormat: ResultFormat
    /// Seconds before the run is killed with reason `timeout`.
    public var maxRunTime: Int?
    /// Directories the job may write besides its work directory (an image build's output folder). Only the
    /// server puts them in a run's options; a launch cannot (``LaunchParameters``).
    public var writablePaths: [String]
    /// Files outside the work directory that a successful run keeps as its own files (an image build's tarball,
    /// into the file store). Only the server puts them in a run's options; a launch cannot.
    public var keptFiles: [String] = []
    /// Whether the job shares the host's network (the default; a job definition's `config.network: false` cuts it).
    public var network: Bool

    public init(
        executable: String,
        arguments: [String],
        environment: [String: String] = [:],
        resultGlobs: [String] = [],
        resultFormat: ResultFormat = .junit,
        maxRunTime: Int? = nil,
        writablePaths: [String] = [],
        network: Bool = true
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.resultGlobs = resultGlobs
        self.resultFormat = resultFormat
        self.maxRunTime = maxRunTime
        self.writablePaths = writablePaths
        self.network = network
    }
}

/// What the harness adapters take from the executing side's configuration (`proctor serve` or `proctor agent`).
public struct HarnessSettings: Sendable, Equatable {
    /// The `cdrouter-cli` binary: a path, or a name looked up on the run's `PATH`.
    public var cdrouterBinary: String
    /// The interpreter of `pytest` jobs whose definition names none (`config.python`).
    public var python: String
    /// The `pyats` binary of pyATS jobs whose definition names none (`config.pyats`).
    public var pyats: String

    public init(cdrouterBinary: String = "cdrouter-cli", python: String = "python3", pyats: String = "pyats") {
        self.cdrouterBinary = cdrouterBinary
        self.python = python
        self.pyats = pyats
    }
}

/// Turns a run into a ``RunPlan`` for its harness: `shell`, `pytest`, `pyats`, `cdrouter`. Anything else fails
/// the run at once with a reason that names the harnesses Proctor knows.
public enum HarnessAdapter {
    public static let known = ["shell", "pytest", "pyats", "cdrouter"]

    /// - Parameters:
    ///   - workspace: where relative job files are found (the server's or agent's working directory).
    ///   - workdir: the run's fresh working directory.
    public static func plan(
        for run: Run,
        workspace: URL,
        workdir: URL,
        settings: HarnessSettings = HarnessSettings()
    ) throws -> RunPlan {
        let harness = (run.harness ?? "shell").lowercased()
        let options = run.options
        let jobFile = options["job_file"]?.stringValue ?? ""
        let jobArgs = arguments(from: options["jobargs"])
        // The job's own variables: the definition's `env` (and a CDRouter job's), then the profile's envargs.
        // The worker adds the allow-listed base (PATH, HOME, LANG, TMPDIR); nothing else is inherited.
        var environment: [String: String] = ["PYTHONDONTWRITEBYTECODE": "1"]
        if case .object(let env) = options["env"] ?? .null {
            for (key, value) in env { environment[key] = value.commandLineText }
        }
        if case .array(let envargs) = options["envargs"] ?? .null {
            for item in envargs {
                if let name = item["name"]?.stringValue {
                    environment[name] = item["value"]?.stringValue ?? item["value"].map(\.commandLineText) ?? ""
                }
            }
        }
        for (key, value) in CDRouterCommand.environment(options) { environment[key] = value }
        environment["PROCTOR_RUN_ID"] = run.id
        environment["PROCTOR_RUN_NAME"] = run.name ?? ""
        environment["PROCTOR_RUN_WORKDIR"] = workdir.path
        let maxRunTime = run.maxRunTime.map(Int.init)
        let globs = resultGlobs(options["results"])
        let writable = options["writable_paths"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let kept = options["kept_files"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let network = options["network"] != .bool(false)

        switch harness {
        case "shell":
            let command = options["command"]?.stringValue ?? jobFile
            guard !command.isEmpty else {
                throw ProctorError(
                    .unprocessable,
                    "the shell harness needs a command (the job's job_file or the run's options.command)"
                )
            }
            var plan = RunPlan(
                executable: "/bin/sh",
                arguments: ["-c", ([command] + jobArgs.map(shellQuote)).joined(separator: " ")],
                environment: environment,
                resultGlobs: globs ?? ["*.xml", "results/**.xml"],
                resultFormat: .junit,
                maxRunTime: maxRunTime,
                writablePaths: writable,
                network: network
            )
            plan.keptFiles = kept
            return plan
        case "pytest":
            guard !jobFile.isEmpty else {
                throw ProctorError(.unprocessable, "the pytest harness needs a job_file (tests to run)")
            }
            let python = options["python"]?.stringValue ?? settings.python
            let target = resolve(jobFile, in: workspace)
            return RunPlan(
                executable: python,
                arguments: [
                    "-m", "pytest", target, "--junitxml=\(workdir.appendingPathComponent("junit.xml").path)",
                    "-p", "no:cacheprovider",
                ] + jobArgs,
                environment: environment,
                resultGlobs: ["junit.xml"],
                resultFormat: .junit,
                maxRunTime: maxRunTime,
                network: network
            )
        case "pyats":
            guard !jobFile.isEmpty else {
                throw ProctorError(.unprocessable, "the pyats harness needs a job_file (a pyATS job)")
            }
            let pyats = options["pyats"]?.stringValue ?? settings.pyats
            // pyATS checks its own installation by running `pyats` from PATH: its directory (a venv's bin)
            // comes first, as activating that venv would do.
            if environment["PATH"] == nil, pyats.hasPrefix("/") {
                let directory = (pyats as NSString).deletingLastPathComponent
                environment["PATH"] = directory + ":" + Sandbox.systemPath
            }
            return RunPlan(
                executable: pyats,
                arguments: [
                    "run", "job", resolve(jobFile, in: workspace), "--archive-dir",
                    workdir.appendingPathComponent("archive").path, "--no-archive-subdir", "--archive-name",
                    PyATSArchive.fileName, "--no-mail",
                ] + jobArgs,
                environment: environment,
                // The archive (pyATS empties its runinfo directory into it), or a results.json a job kept.
                resultGlobs: ["archive/" + PyATSArchive.fileName, "**results.json"],
                resultFormat: .pyats,
                maxRunTime: maxRunTime,
                network: network
            )
        case "cdrouter":
            let junit = workdir.appendingPathComponent(CDRouterCommand.junitFile).path
            return RunPlan(
                executable: settings.cdrouterBinary,
                arguments: try CDRouterCommand.arguments(options, junit: junit) + jobArgs,
                environment: environment,
                resultGlobs: [CDRouterCommand.junitFile],
                resultFormat: .junit,
                maxRunTime: maxRunTime,
                network: network
            )
        default:
            throw ProctorError(
                .unprocessable,
                "unknown harness '\(harness)'; Proctor runs \(known.joined(separator: ", "))",
                field: "harness"
            )
        }
    }

    /// XPRESSO job args (`[{name, value, flag}]`) or plain strings, as command-line arguments.
    static func arguments(from value: JSONValue?) -> [String] {
        guard case .array(let items) = value ?? .null else { return [] }
        var out: [String] = []
        for item in items {
            if let text = item.stringValue {
                out.append(text)
            } else if let name = item["name"]?.stringValue {
                out.append(name)
                if item["flag"] != .bool(true), let value = item["value"], value != .null {
                    out.append(value.commandLineText)
                }
            }
        }
        return out
    }

    static func resultGlobs(_ value: JSONValue?) -> [String]? {
        switch value ?? .null {
        case .string(let glob): return [glob]
        case .array(let items): return items.compactMap(\.stringValue)
        default: return nil
        }
    }

    static func resolve(_ path: String, in workspace: URL) -> String {
        path.hasPrefix("/") ? path : workspace.appendingPathComponent(path).standardizedFileURL.path
    }

    static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Finds files under a directory whose relative paths match shell-style globs (`*` and `**` match across
/// directories, `?` one character).
enum ResultFiles {
    static func find(in directory: URL, globs: [String]) -> [URL] {
        guard
            let enumerator = FileManager.default.enumerator(
                at: directory,
                includingPropertiesForKeys: [.isRegularFileKey]
            )
        else {
            return []
        }
        let root = directory.standardizedFileURL.resolvingSymlinksInPath().path
        var found: [URL] = []
        for case let url as URL in enumerator {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let full = url.standardizedFileURL.resolvingSymlinksInPath().path
            guard full.hasPrefix(root + "/") else { continue }
            let relative = String(full.dropFirst(root.count + 1))
            if globs.contains(where: { matches(Array($0.utf8), Array(relative.utf8)) }) { found.append(url) }
        }
        return found.sorted { $0.path < $1.path }
    }

    static func matches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var p = 0, t = 0, starP = -1, starT = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t]) {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == UInt8(ascii: "*") {
                while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
                starP = p
                starT = t
            } else if starP >= 0 {
                starT += 1
                t = starT
                p = starP
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
