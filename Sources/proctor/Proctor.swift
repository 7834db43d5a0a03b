import ArgumentParser
import Foundation
import ProctorCore
import ProctorExec

/// `proctor`: the server, its agent, and the commands that talk to them.
@main
struct Proctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proctor",
        abstract: "A self-hosted test-lab job server with XPRESSO, CDRouter, DCI and KernelCI compatible APIs.",
        version: ProctorBuild.version,
        subcommands: [
            Serve.self, Migrate.self, Apply.self, Agent.self, Login.self, Whoami.self, Get.self, Runs.self, Logs.self,
        ]
    )

    /// `serve` also reads its options from a configuration file and `PROCTOR_*` variables (``ServeSettings``).
    static func main() async {
        do {
            let arguments = try ServeSettings.expand(
                Array(CommandLine.arguments.dropFirst()),
                environment: ProcessInfo.processInfo.environment
            )
            await main(arguments)
        } catch {
            // A bad configuration file or variable: one line, and the command line's usage error status.
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}

/// Where the store is, for commands that open it directly.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Directory for the SQLite file and stored files.")
    var dataDir: String = "./proctor-data"

    @Option(
        name: .long,
        help: "PostgreSQL URL (postgres://user:password@host:port/db); overrides --data-dir for the database."
    )
    var databaseURL: String?
}

/// What the harness adapters take from the command line, the same for `serve` (local executor) and `agent`.
/// How the executing side isolates its runs (`serve` and `agent` alike); see docs/security.md.
struct SandboxOptions: ParsableArguments {
    @Option(
        help:
            "bwrap: every run in a bubblewrap sandbox (the default); none: no isolation, for a machine that cannot have bubblewrap."
    )
    var sandbox: SandboxSettings.Mode = .bwrap

    @Option(
        help: "The user jobs run as when this process is root (a name or uid; default nobody, or PROCTOR_SANDBOX_USER)."
    )
    var sandboxUser: String?

    @Option(help: "A path jobs must not see, besides the data and work directories (repeatable).")
    var sandboxHide: [String] = []

    @Option(help: "The bwrap binary, a path or a name on PATH.")
    var bwrap = "bwrap"

    var settings: SandboxSettings {
        SandboxSettings(
            mode: sandbox,
            bwrapBinary: bwrap,
            user: sandboxUser ?? ProcessInfo.processInfo.environment["PROCTOR_SANDBOX_USER"] ?? "nobody",
            hiddenPaths: sandboxHide.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        )
    }
}

extension SandboxSettings.Mode: ExpressibleByArgument {}

struct HarnessOptions: ParsableArguments {
    @Option(
        name: .customLong("cdrouter-cli"),
        help: "The cdrouter-cli binary the cdrouter harness runs (a path or a name on the runs' PATH)."
    )
    var cdrouterCLI = "cdrouter-cli"

    @Option(help: "The interpreter of pytest jobs whose definition names none (or PROCTOR_PYTHON; default python3).")
    var python: String?

    @Option(help: "The pyats binary of pyATS jobs whose definition names none (or PROCTOR_PYATS; default pyats).")
    var pyats: String?

    func validate() throws {
        guard !cdrouterCLI.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--cdrouter-cli cannot be empty")
        }
    }

    /// A relative path (`./bin/cdrouter-cli`) is made absolute here, since runs execute in their own directories;
    /// a bare name is looked up on the runs' `PATH`. The operator's PROCTOR_PYTHON and PROCTOR_PYATS are read here,
    /// as configuration: no variable of this process reaches a job.
    var settings: HarnessSettings {
        let environment = ProcessInfo.processInfo.environment
        return HarnessSettings(
            cdrouterBinary: Self.absolute(cdrouterCLI),
            python: Self.absolute(python ?? environment["PROCTOR_PYTHON"] ?? "python3"),
            pyats: Self.absolute(pyats ?? environment["PROCTOR_PYATS"] ?? "pyats")
        )
    }

    static func absolute(_ binary: String) -> String {
        binary.contains("/") && !binary.hasPrefix("/") ? URL(fileURLWithPath: binary).standardizedFileURL.path : binary
    }
}
