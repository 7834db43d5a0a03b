import Foundation
import ProctorStoreWriting

/// Builds container images (XPRESSO's `POST /images/polaris_build`) as runs of the execution engine.
///
/// A build is an `image_builds` row and a run whose shell command is the configured builder
/// (`docker build` by default) with the image's name, tag, git refs and tarball path. The run goes through
/// the queue like any other (leases, max run time, logs, cancel); when it ends, ``finish(run:status:in:)``
/// moves the build from `building` to `built` (the run succeeded) or `failed`.
public struct ImageBuilds: Sendable {
    /// How builds are run.
    public struct Options: Sendable {
        /// The builder, a shell command line; it gets the arguments of ``command(for:context:)`` and the
        /// `PROCTOR_IMAGE_*`, `PROCTOR_GIT_REF`, `PROCTOR_BASE_REF` environment.
        public var builderCommand: String
        /// Where tarballs are written: `<storagePath>/<group>/<name>/<tag>.tar`.
        public var storagePath: String
        /// The build context handed to the builder (the server's workspace).
        public var context: String
        /// Seconds before a build is killed.
        public var maxRunTime: Int
        /// Days a built image is kept (reported in the build's data; nothing deletes images yet).
        public var retentionDays: Int
        /// Whether a built tarball is also kept as a file of the build's run, in the file store: with an object
        /// store shared by the replicas, any of them serves it (with the local store it would only be a copy).
        public var keepTarball: Bool

        public init(
            builderCommand: String = "docker build",
            storagePath: String,
            context: String,
            maxRunTime: Int = 3600,
            retentionDays: Int = 6,
            keepTarball: Bool = false
        ) {
            self.builderCommand = builderCommand
            self.storagePath = storagePath
            self.context = context
            self.maxRunTime = maxRunTime
            self.retentionDays = retentionDays
            self.keepTarball = keepTarball
        }
    }

    /// What a caller asks for.
    public struct Request: Sendable {
        public var name: String
        public var tag: String
        public var gitRef: String
        public var baseRef: String?
        /// Names of the groups the image is shared with.
        public var groups: [String]

        public init(name: String, tag: String, gitRef: String, baseRef: String?, groups: [String]) {
            self.name = name
            self.tag = tag
            self.gitRef = gitRef
            self.baseRef = baseRef
            self.groups = groups
        }
    }

    /// The permission a group membership needs to build images.
    public static let permission = "add_docker_image"

    public let lifecycle: RunLifecycle
    public let options: Options

    public init(lifecycle: RunLifecycle, options: Options) {
        self.lifecycle = lifecycle
        self.options = options
    }

    var store: any Store { lifecycle.store }

    /// Validates the request, then stores the build (`building`) and queues its run, in one transaction.
    ///
    /// - Throws: `forbidden` without ``permission`` in the group; `badRequest` naming the field for a bad
    ///   name, tag, ref or group.
    public func submit(_ request: Request, groupID: String, principal: Principal) async throws -> ImageBuild {
        guard principal.hasPermission(Self.permission, in: groupID) else {
            throw ProctorError(.forbidden, "You do not have permission to perform this action (\(Self.permission)).")
        }
        try Self.validate(request)
        // Groups the image is shared with: the caller's own (a group the caller is not in is refused the same way
        // as one that does not exist, so that the answer tells nothing of other groups).
        for name in request.groups {
            let group = try await store.first(Group.self, matching: [.name: .string(name)])
            guard let group, principal.isSiteAdmin || principal.membership(in: group.id) != nil else {
                throw ProctorError.badRequest("no such group of yours: \(name)", field: "groups")
            }
        }
        guard let group = try await store.get(Group.self, id: groupID) else {
            throw ProctorError.notFound("no such group")
        }
        let groupName = group.string(.name) ?? groupID
        let folder = Self.isSafeSegment(groupName) ? groupName : groupID
        let tarball = URL(fileURLWithPath: options.storagePath).appendingPathComponent(folder)
            .appendingPathComponent(request.name).appendingPathComponent("\(request.tag).tar").path
        let data: JSONValue = .object([
            "name": .string(request.name), "tag": .string(request.tag), "group": .string(groupName),
            "git_ref": .string(request.gitRef), "retention_day": .number(Double(options.retentionDays)),
            "submitter": .string(principal.name), "is_nfs_storage": .bool(true), "nfs_path": .string(tarball),
            "is_polaris_image": .bool(true),
        ])
        let build = try await store.transaction { store in
            let build = try await store.insert(
                ImageBuild([
                    .groupID: .string(groupID), .name: .string(request.name), .tag: .string(request.tag),
                    .gitRef: .string(request.gitRef), .baseRef: request.baseRef.map(Value.string) ?? .null,
                    .groups: .strings(request.groups), .status: .string("building"),
                    .storagePath: .string(tarball),
                    .data: .json(data), .submittedBy: .string(principal.name),
                ]).record
            )
            let run = try await lifecycle.createExecuted(
                Run([
                    .name: .string("image-build \(request.name):\(request.tag)"), .harness: .string("shell"),
                    .priority: .int(4), .maxRunTime: .int(Int64(options.maxRunTime)),
                    .launchedBy: principal.kind == .user ? .string(principal.id) : .null,
                    .labels: .json(.object(["image_build": .string(build.id)])),
                    .options: .json(
                        .object([
                            "command": .string(command(for: request, tarball: tarball)),
                            "env": .object(environment(for: request, group: groupName, tarball: tarball)),
                            "results": .array([]), "image_build_id": .string(build.id),
                            // The one folder of the image store the build's sandbox may write: its own image's.
                            "writable_paths": .array([
                                .string(URL(fileURLWithPath: tarball).deletingLastPathComponent().path)
                            ]),
                            "kept_files": .array(options.keepTarball ? [.string(tarball)] : []),
                        ])
                    ),
                ]),
                groupID: groupID,
                comment: "image build",
                in: store
            )
            return ImageBuild(
                unchecked: try await store.update(
                    .imageBuilds,
                    id: build.id,
                    changes: ImageBuild.changes([.runID: .string(run.id)]),
                    ifMatch: nil,
                    scope: .everything
                )
            )
        }
        await lifecycle.events.publish()
        return build
    }

    /// The builder's command line: `mkdir -p` of the tarball's folder, then the builder with docker's
    /// arguments (`--tag`, `--build-arg GIT_REF=…`, `--build-arg BASE_REF=…`, `--output type=docker,dest=…`,
    /// the context). Every value is quoted; they were validated too.
    func command(for request: Request, tarball: String) -> String {
        var arguments = [
            "--tag", "\(request.name):\(request.tag)", "--build-arg", "GIT_REF=\(request.gitRef)",
        ]
        if let base = request.baseRef { arguments += ["--build-arg", "BASE_REF=\(base)"] }
        arguments += ["--output", "type=docker,dest=\(tarball)", options.context]
        let folder = URL(fileURLWithPath: tarball).deletingLastPathComponent().path
        return "mkdir -p \(Self.quote(folder)) && \(options.builderCommand) "
            + arguments.map(Self.quote).joined(separator: " ")
    }

    func environment(for request: Request, group: String, tarball: String) -> [String: JSONValue] {
        [
            "PROCTOR_IMAGE_NAME": .string(request.name), "PROCTOR_IMAGE_TAG": .string(request.tag),
            "PROCTOR_IMAGE_GROUP": .string(group), "PROCTOR_GIT_REF": .string(request.gitRef),
            "PROCTOR_BASE_REF": .string(request.baseRef ?? ""), "PROCTOR_IMAGE_TARBALL": .string(tarball),
            "PROCTOR_BUILD_CONTEXT": .string(options.context),
        ]
    }

    /// Called in the transaction that ends a run: the image build it carries (if any) becomes `built` or
    /// `failed`, with the tarball's size when there is one.
    static func finish(run: Run, status: RunStatus, in store: any Store) async throws {
        guard let buildID = run.options["image_build_id"]?.stringValue,
            let build = try await store.get(ImageBuild.self, id: buildID)
        else { return }
        var changes: [ImageBuild.Field: Value] = [.status: .string(status == .success ? "built" : "failed")]
        if status == .success, let path = build.storagePath,
            let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber
        {
            changes[.size] = .int(size.int64Value)
        }
        _ = try await store.update(
            .imageBuilds,
            id: buildID,
            changes: ImageBuild.changes(changes),
            ifMatch: nil,
            scope: .everything
        )
    }

    // MARK: Validation

    /// Docker's image name grammar (lower case components joined by `.`, `_`, `-` or `/`), at most 128.
    static func validate(_ request: Request) throws {
        func check(_ value: String, _ field: String, _ valid: (String) -> Bool, _ rule: String) throws {
            guard !value.isEmpty else { throw ProctorError.badRequest("'\(field)' is required", field: field) }
            guard valid(value) else { throw ProctorError.badRequest("'\(field)' \(rule)", field: field) }
        }
        try check(
            request.name,
            "name",
            isImageName,
            "must be a lower-case image name (a-z, 0-9, '.', '_', '-', '/'), at most 128"
        )
        try check(
            request.tag,
            "tag",
            isTag,
            "must be an image tag (A-Z, a-z, 0-9, '.', '_', '-'; not first), at most 128"
        )
        try check(
            request.gitRef,
            "git_ref",
            isGitRef,
            "must be a git branch, tag or commit (no spaces, '..', or leading '-')"
        )
        if let base = request.baseRef {
            try check(
                base,
                "base_ref",
                isGitRef,
                "must be a git branch, tag or commit (no spaces, '..', or leading '-')"
            )
        }
        guard !request.groups.isEmpty else {
            throw ProctorError.badRequest("'groups' must list at least one group", field: "groups")
        }
    }

    static func isImageName(_ text: String) -> Bool {
        guard text.count <= 128 else { return false }
        let separators: Set<Character> = [".", "_", "-", "/"]
        var previousWasSeparator = true
        for character in text {
            if character.isASCII && (character.isLowercase || character.isNumber) {
                previousWasSeparator = false
            } else if separators.contains(character), !previousWasSeparator {
                previousWasSeparator = true
            } else {
                return false
            }
        }
        return !previousWasSeparator
    }

    static func isTag(_ text: String) -> Bool {
        guard text.count <= 128, let first = text.first, first != ".", first != "-" else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
    }

    static func isGitRef(_ text: String) -> Bool {
        guard text.count <= 255, !text.hasPrefix("-"), !text.contains(".."), !text.hasSuffix("/"),
            !text.hasSuffix(".lock")
        else { return false }
        let forbidden: Set<Character> = [
            "~", "^", ":", "?", "*", "[", "\\", "'", "\"", "`", "$", ";", "&", "|", "<", ">",
        ]
        return text.allSatisfy {
            $0.isASCII && !$0.isWhitespace && !forbidden.contains($0)
                && $0.asciiValue.map { $0 >= 0x20 && $0 != 0x7f } == true
        }
    }

    static func isSafeSegment(_ text: String) -> Bool {
        guard let first = text.first, first != ".", text.count <= 128 else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
    }

    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
