import ArgumentParser

/// `proctor`: the server, its agent, and the commands that talk to them.
@main
struct Proctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proctor",
        abstract: "A self-hosted test-lab job server with XPRESSO, CDRouter, DCI and KernelCI compatible APIs.",
        version: "0.1.0",
        subcommands: [Serve.self, Migrate.self, Apply.self, Agent.self, Login.self, Get.self, Runs.self, Logs.self]
    )
}

/// Where the store is, for commands that open it directly.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Directory for the SQLite file and stored files.")
    var dataDir: String = "./proctor-data"

    @Option(name: .long, help: "PostgreSQL URL (postgres://user:password@host:port/db); overrides --data-dir for the database.")
    var databaseURL: String?
}
