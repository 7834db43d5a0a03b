/// How the executing side (`proctor serve` or `proctor agent`) isolates the runs it executes.
public struct SandboxSettings: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Every run in bubblewrap: own PID, mount, IPC and UTS namespaces, an unprivileged user, a read-only
        /// system, a private /tmp, one writable work directory, a clean environment.
        case bwrap
        /// No isolation: the run's processes run as the executor's user and see what it sees. For machines that
        /// cannot have bubblewrap; logged as a warning at every start.
        case none
    }

    public var mode: Mode
    /// The `bwrap` binary: a path, or a name looked up on `PATH`.
    public var bwrapBinary: String
    /// Whom jobs run as when the executor is root (a user name or a numeric uid). Ignored when the executor is
    /// not root: jobs then run as the executor's own user, seen as uid 65534 inside a user namespace.
    public var user: String
    /// Paths the sandbox hides besides the data and work directories (an agent's token file, `/etc/proctor`).
    public var hiddenPaths: [String]

    public init(mode: Mode = .bwrap, bwrapBinary: String = "bwrap", user: String = "nobody", hiddenPaths: [String] = [])
    {
        self.mode = mode
        self.bwrapBinary = bwrapBinary
        self.user = user
        self.hiddenPaths = hiddenPaths
    }
}
