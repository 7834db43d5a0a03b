import Foundation
import Logging
import ProctorCore
import Subprocess
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A sandbox ready to use: the settings resolved against this machine (the `bwrap` path, the user's ids) and the
/// paths to hide. Built once at start by ``Sandbox/prepare(_:workRoot:hiddenPaths:)``, which says exactly what
/// is missing when it cannot be built.
public struct Sandbox: Sendable {
    public let mode: SandboxSettings.Mode
    /// The absolute path of `bwrap` (empty without a sandbox).
    let bwrap: String
    /// The absolute path of `setpriv` (util-linux), which drops a root executor's ids to the sandbox user's before
    /// it starts `bwrap`. (Not swift-subprocess's own uid/gid options: their `setgroups` after `clone3` in a
    /// multi-threaded process can wait for ever on glibc's set-id broadcast.)
    let setpriv: String
    /// The ids jobs run as when the executor switches to them (root executor); nil when jobs keep the
    /// executor's ids (inside a user namespace when sandboxed).
    public let identity: Identity?
    /// Absolute paths covered by an empty tmpfs inside the sandbox.
    let hidden: [String]
    /// bubblewrap's arguments that hide them.
    let hidingArguments: [String]
    /// Where runs get their work directories (hidden as a whole; each run sees only its own).
    public let workRoot: URL

    public struct Identity: Sendable, Equatable {
        public var uid: uid_t
        public var gid: gid_t
        public var name: String
    }

    /// The uid and gid a job sees inside the sandbox.
    static let sandboxID = 65534

    /// No isolation at all (tests of the harness adapters, `--sandbox none`).
    public static func unsandboxed(workRoot: URL) -> Sandbox {
        Sandbox(mode: .none, bwrap: "", setpriv: "", identity: nil, hidden: [], workRoot: workRoot)
    }

    init(
        mode: SandboxSettings.Mode,
        bwrap: String,
        setpriv: String,
        identity: Identity?,
        hidden: [String],
        workRoot: URL
    ) {
        self.mode = mode
        self.bwrap = bwrap
        self.setpriv = setpriv
        self.identity = identity
        self.hidden = hidden
        // Decided once: a folder becomes an empty tmpfs; a file (a token file) reads as empty.
        self.hidingArguments = hidden.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            let isFile =
                FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            return isFile ? ["--ro-bind", "/dev/null", path] : ["--tmpfs", path]
        }
        self.workRoot = workRoot
    }

    /// Resolves the settings and creates the work root (mode 0711, so that the sandbox user can reach its own
    /// directory but not list the others).
    ///
    /// - Parameters:
    ///   - ownDirectories: directories of this executor to hide, created (mode 0700) when missing so that they
    ///     stay hidden once they exist (the data directory, the image storage).
    ///   - hiddenPaths: other paths to hide (a token file); each must exist.
    public static func prepare(
        _ settings: SandboxSettings,
        workRoot: URL,
        ownDirectories: [String] = [],
        hiddenPaths: [String] = []
    ) throws -> Sandbox {
        let root = workRoot.standardizedFileURL
        for directory in ownDirectories {
            let path = URL(fileURLWithPath: directory).standardizedFileURL.path
            if root.path == path || root.path.hasPrefix(path + "/") {
                throw ProctorError(
                    .badRequest,
                    "the work root \(root.path) is inside \(path), which runs must not see: choose a --work-root outside it"
                )
            }
            if !FileManager.default.fileExists(atPath: path) {
                try FileManager.default.createDirectory(
                    atPath: path,
                    withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700]
                )
            }
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        chmod(root.path, 0o711)
        guard settings.mode == .bwrap else { return .unsandboxed(workRoot: root) }
        guard let bwrap = Self.lookUp(settings.bwrapBinary) else {
            throw ProctorError(
                .unavailable,
                "bubblewrap (\(settings.bwrapBinary)) is not installed, and every run executes in its sandbox: install it "
                    + "(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), or start with "
                    + "--sandbox none on a machine that cannot have it"
            )
        }
        var identity: Identity?
        if getuid() == 0 {
            guard let resolved = Self.user(settings.user) else {
                throw ProctorError(.badRequest, "no such user for --sandbox-user: \(settings.user)")
            }
            if resolved.uid != 0 { identity = resolved }
        }
        var setpriv = ""
        if identity != nil {
            guard let found = Self.lookUp("setpriv") else {
                throw ProctorError(
                    .unavailable,
                    "setpriv is not installed (Debian/Ubuntu: apt-get install util-linux); a root executor needs it to run jobs as --sandbox-user"
                )
            }
            setpriv = found
        }
        var hidden: [String] = []
        for path in ownDirectories + hiddenPaths + settings.hiddenPaths + [root.path] {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            guard FileManager.default.fileExists(atPath: absolute) else {
                throw ProctorError(
                    .badRequest,
                    "\(path), which runs must not see, does not exist (--sandbox-hide takes existing paths)"
                )
            }
            if absolute != "/" && !hidden.contains(absolute) { hidden.append(absolute) }
        }
        // A path inside another hidden one is hidden with it (and would leave an empty folder in its place).
        hidden = hidden.filter { path in !hidden.contains { path.hasPrefix($0 + "/") } }
        return Sandbox(mode: .bwrap, bwrap: bwrap, setpriv: setpriv, identity: identity, hidden: hidden, workRoot: root)
    }

    /// A fresh, empty work directory for a run, owned by whoever the job runs as.
    public func makeWorkDirectory(for runID: String) throws -> URL {
        let directory = workRoot.appendingPathComponent(runID, isDirectory: true)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try handOver(directory)
        return directory
    }

    /// Creates a directory the job may write to besides its work directory and gives it to the job's user.
    ///
    /// bubblewrap opens it as that user before it hides the executor's own directories, so the folders above it
    /// inside them (the image storage in the data directory) are made traversable, not listable (`o+x`): the
    /// job itself still sees them only as empty tmpfs.
    func makeWritable(_ path: String) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try handOver(url)
        guard identity != nil else { return }
        var ancestor = url.deletingLastPathComponent()
        while ancestor.path != "/"
            && hidden.contains(where: { ancestor.path == $0 || ancestor.path.hasPrefix($0 + "/") })
        {
            var info = stat()
            if stat(ancestor.path, &info) == 0, info.st_mode & 0o001 == 0 {
                chmod(ancestor.path, (info.st_mode & 0o7777) | 0o001)
            }
            ancestor = ancestor.deletingLastPathComponent()
        }
    }

    private func handOver(_ directory: URL) throws {
        chmod(directory.path, 0o700)
        if let identity, chown(directory.path, identity.uid, identity.gid) != 0 {
            throw ProctorError(
                .unavailable,
                "cannot give \(directory.path) to the sandbox user \(identity.name): errno \(errno)"
            )
        }
    }

    /// What to execute for a job: `bwrap` and its arguments around the job's command in bwrap mode, the job's
    /// command as it is without a sandbox.
    ///
    /// - Parameters:
    ///   - environment: the job's whole environment (an allow-list built by the worker; nothing is inherited).
    ///   - readable: folders the job reads, kept visible read-only (the workspace, which may lie under /tmp).
    ///   - writable: directories the job may write besides its work directory (an image build's output folder).
    ///   - network: whether the job shares the host's network (devices under test are reached over it).
    public func command(
        executable: String,
        arguments: [String],
        environment: [String: String],
        workdir: URL,
        readable: [String] = [],
        writable: [String] = [],
        network: Bool = true
    ) -> (executable: String, arguments: [String]) {
        guard mode == .bwrap else { return (executable, arguments) }
        let id = String(Self.sandboxID)
        var args = [
            "--die-with-parent",  // the sandbox dies with its executor, even on kill -9
            "--unshare-all",  // user, pid, ipc, uts, cgroup, mount, network
        ]
        if network { args.append("--share-net") }
        args += [
            "--new-session",  // no terminal to inject keystrokes into
            "--uid", id, "--gid", id, "--hostname", "proctor-run",
            "--ro-bind", "/", "/",
            "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        ]
        // What jobs read (the workspace their job files are found in) stays visible even under /tmp; the hidden
        // paths come after, so a data directory inside the workspace is still covered.
        for path in readable where path != "/" && FileManager.default.fileExists(atPath: path) {
            args += ["--ro-bind", path, path]
        }
        args += hidingArguments
        for path in writable { args += ["--bind", path, path] }
        args += ["--bind", workdir.path, workdir.path, "--chdir", workdir.path, "--clearenv"]
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) { args += ["--setenv", key, value] }
        args += ["--", executable] + arguments
        guard let identity else { return (bwrap, args) }
        return (setpriv, ["--reuid=\(identity.uid)", "--regid=\(identity.gid)", "--clear-groups", "--", bwrap] + args)
    }

    /// Starts one sandbox that only checks it can write its work directory, so that a machine where sandboxes
    /// cannot start (user namespaces disabled, a work root the sandbox user cannot reach) is told so at start,
    /// not at the first run.
    public func check() async throws {
        guard mode == .bwrap else { return }
        let workdir = try makeWorkDirectory(for: ".check-\(getpid())")
        defer { try? FileManager.default.removeItem(at: workdir) }
        let probe = command(
            executable: "/bin/sh",
            arguments: ["-c", "test -w ."],
            environment: ["PATH": "/usr/bin:/bin"],
            workdir: workdir,
            network: false
        )
        let outcome = try await withThrowingTaskGroup(of: (Bool, String)?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    .path(FilePath(probe.executable)),
                    arguments: Arguments(probe.arguments),
                    environment: .custom([:]),
                    output: .discarded,
                    error: .string(limit: 4096)
                )
                return (result.terminationStatus.isSuccess, result.standardError)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(20))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let outcome else {
            throw ProctorError(
                .unavailable,
                "bubblewrap did not start a sandbox within 20 s (\(probe.executable) \(probe.arguments.prefix(4).joined(separator: " ")) …)"
            )
        }
        guard outcome.0 else {
            let said = outcome.1.trimmingCharacters(in: .whitespacesAndNewlines)
            let who = identity.map { "user \($0.name)" } ?? "this process's user"
            throw ProctorError(
                .unavailable,
                "bubblewrap could not start a sandbox as \(who) in \(workRoot.path)"
                    + (said.isEmpty ? "" : " (\(said))")
                    + ". Check that unprivileged user namespaces are enabled (sysctl user.max_user_namespaces > 0; "
                    + "kernel.unprivileged_userns_clone=1 where it exists) and that \(who) can traverse every folder "
                    + "above the work root (--work-root), or choose another --sandbox-user"
            )
        }
    }

    /// The `PATH` of every job, and where `bwrap` and `setpriv` are looked for: the system's folders.
    public static let systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Looks a binary up on ``systemPath`` (or checks the path it was given).
    static func lookUp(_ binary: String) -> String? {
        if binary.contains("/") { return access(binary, X_OK) == 0 ? binary : nil }
        for directory in systemPath.split(separator: ":") {
            let candidate = "\(directory)/\(binary)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static func user(_ name: String) -> Identity? {
        if let uid = uid_t(name) {
            guard let entry = getpwuid(uid) else { return Identity(uid: uid, gid: gid_t(uid), name: name) }
            return Identity(
                uid: entry.pointee.pw_uid,
                gid: entry.pointee.pw_gid,
                name: String(cString: entry.pointee.pw_name)
            )
        }
        guard let entry = getpwnam(name) else { return nil }
        return Identity(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid, name: name)
    }

    /// One line for the start-up log: what isolates the runs.
    public var summary: String {
        switch mode {
        case .none:
            return
                "runs execute WITHOUT a sandbox (--sandbox none): every job runs as this process's user and can read "
                + "what it can read, including the data directory"
        case .bwrap:
            let who = identity.map { "user \($0.name) (uid \($0.uid))" } ?? "this process's user in a user namespace"
            return
                "runs execute in bubblewrap (\(bwrap)) as \(who); hidden from them: \(hidden.joined(separator: ", "))"
        }
    }
}

/// Reads the process table to find and stop every process of a run, whether it stayed in the run's process
/// group or not.
enum ProcessTable {
    /// The processes a run consists of: in a sandbox, every process of its PID namespace (found through the
    /// sandbox's init, the child of `bwrap`); without one, its process group. Zombies are not counted.
    static func members(root pid: pid_t, sandboxed: Bool) -> [pid_t] {
        if sandboxed {
            guard let initPID = children(of: pid).first, let namespace = pidNamespace(of: initPID) else {
                return isLive(pid) ? [pid] : []
            }
            return allPIDs().filter { pidNamespace(of: $0) == namespace && isLive($0) }
        }
        return allPIDs().filter { processGroup(of: $0) == pid && isLive($0) }
    }

    /// The init of a sandbox started as `pid` (bubblewrap's child, PID 1 in the run's namespace).
    static func sandboxInit(root pid: pid_t) -> pid_t? { children(of: pid).first }

    static func children(of pid: pid_t) -> [pid_t] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else {
            return []
        }
        return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func pidNamespace(of pid: pid_t) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
    }

    /// Whether a process exists and is not a zombie waiting to be reaped.
    static func isLive(_ pid: pid_t) -> Bool {
        guard let fields = statFields(pid) else { return false }
        return fields.state != "Z" && fields.state != "X"
    }

    static func processGroup(of pid: pid_t) -> pid_t? { statFields(pid)?.group }

    /// The state and process group from `/proc/PID/stat` (the command name, in parentheses, may hold spaces).
    private static func statFields(_ pid: pid_t) -> (state: Character, group: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count > 3, let state = rest[0].first, let group = pid_t(rest[3]) else { return nil }
        return (state, group)
    }

    static func allPIDs() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }
}
