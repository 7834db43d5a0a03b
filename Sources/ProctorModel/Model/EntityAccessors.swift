/// Typed accessors for the fields the core reads most; every other field is read through the entity's
/// `string(_:)`, `int(_:)`… with its field enum.

extension Run {
    /// The stored status (a row written before a status existed reads as `new`).
    public var status: RunStatus {
        get { RunStatus(rawValue: string(.status) ?? "") ?? .new }
        set { self[.status] = .string(newValue.rawValue) }
    }

    /// Who executes the run; nil for a value this version does not know.
    public var executor: RunExecutor? { RunExecutor(rawValue: string(.executor) ?? "") }
    public var name: String? { string(.name) }
    public var definitionID: String? { string(.definitionID) }
    public var profileID: String? { string(.profileID) }
    public var testbedID: String? { string(.testbedID) }
    public var configID: String? { string(.configID) }
    public var engineID: String? { string(.engineID) }
    public var claimedBy: String? { string(.claimedBy) }
    public var attempts: Int64 { int(.attempts) ?? 0 }
    public var priority: Int64 { int(.priority) ?? 4 }
    public var cancelRequested: Bool { bool(.cancelRequested) ?? false }
    public var harness: String? { string(.harness) }
    public var startedAt: Int64? { int(.startedAt) }
    public var finishedAt: Int64? { int(.finishedAt) }
    public var leaseExpiresAt: Int64? { int(.leaseExpiresAt) }
    public var maxRunTime: Int64? { int(.maxRunTime) }
    public var tags: [String] { strings(.tags) }
    public var engineLabels: [String] { strings(.engineLabels) }
    /// The launch options (environment, arguments, the harness's inputs) as an object.
    public var options: [String: JSONValue] { json(.options)?.objectValue ?? [:] }
    /// The run's labels; a non-string value (never written by Proctor) is left out.
    public var labels: [String: String] {
        (json(.labels)?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }
}

extension RunEvent {
    public var runID: String { string(.runID) ?? "" }
    public var status: RunStatus? { RunStatus(rawValue: string(.status) ?? "") }
    public var previousStatus: RunStatus? { RunStatus(rawValue: string(.previousStatus) ?? "") }
    public var comment: String? { string(.comment) }
}

extension Definition {
    public var name: String { string(.name) ?? "" }
    public var harness: String { string(.harness) ?? "shell" }
    public var jobFile: String { string(.jobFile) ?? "" }
    /// Deleted, or disabled by its configuration state: it cannot be launched.
    public var isLaunchable: Bool {
        bool(.deleted) != true && string(.configurationState) != "DISABLED"
    }
    /// The definition's `config` object (launch options and declared parameters).
    public var config: [String: JSONValue] { json(.config)?.objectValue ?? [:] }
}

extension Profile {
    public var name: String { string(.name) ?? "" }
    public var definitionID: String { string(.definitionID) ?? "" }
    public var engineID: String? { string(.engineID) }
    public var configID: String? { string(.configID) }
    public var testbedIDs: [String] { strings(.testbedIDs) }
    public var harnessIDs: [String] { strings(.harnessIDs) }
    public var priority: Int64 { int(.priority) ?? 4 }
    public var maxRunTime: Int64? { int(.maxRunTime) }
    public var isDefault: Bool { bool(.isDefault) ?? false }
}

extension Engine {
    public var name: String { string(.name) ?? "" }
    /// Whether runs on this engine go to agents (else the local executor).
    public var isAgent: Bool { string(.type) == "agent" }
    public var labels: [String] { strings(.labels) }
}

extension Harness {
    public var name: String { string(.name) ?? "" }
    /// The harness kind (`shell`, `pytest`, `pyats`, `cdrouter`…).
    public var harness: String { string(.harness) ?? "shell" }
    public var path: String { string(.path) ?? "" }
}

extension Agent {
    public var name: String { string(.name) ?? "" }
    public var labels: [String] { strings(.labels) }
    public var slots: Int64 { int(.slots) ?? 1 }
    public var state: String { string(.state) ?? "offline" }
    public var lastSeenAt: Int64? { int(.lastSeenAt) }
}

extension Testbed {
    public var name: String { string(.name) ?? "" }
}

extension User {
    public var name: String { string(.name) ?? "" }
    public var isSiteAdmin: Bool { bool(.isSiteAdmin) ?? false }
    public var passwordHash: String? { string(.passwordHash) }
    /// The account may sign in: its state reads `active` (a row read without its state is not).
    public var isActive: Bool { string(.state) == "active" }
    public var email: String? { string(.email) }
}

extension Token {
    public var userID: String { string(.userID) ?? "" }
    public var scopes: [String] { strings(.scopes) }
    /// Revoked, or read without its `revoked` field: either way it authenticates nobody.
    public var isRevoked: Bool { bool(.revoked) != false }
    public var expiresAt: Int64? { int(.expiresAt) }
}

extension Membership {
    public var userID: String { string(.userID) ?? "" }
    public var role: String { string(.role) ?? "member" }
    public var permissions: [String] { strings(.permissions) }
}

extension RemoteCI {
    public var name: String { string(.name) ?? "" }
    public var apiSecret: String { string(.apiSecret) ?? "" }
    /// The remote CI may sign requests: its state reads `active` (a row read without its state is not).
    public var isActive: Bool { string(.state) == "active" }
}

extension StoredFile {
    public var runID: String? { string(.runID) }
    public var name: String { string(.name) ?? "" }
    public var mime: String { string(.mime) ?? "text/plain" }
    public var size: Int64 { int(.size) ?? 0 }
    /// Where the bytes are in the file store; never sent to clients.
    public var storagePath: String? { string(.storagePath) }
}

extension LogChunk {
    public var runID: String { string(.runID) ?? "" }
    public var offset: Int64 { int(.offset) ?? 0 }
    public var firstLine: Int64 { int(.firstLine) ?? 0 }
    public var lineCount: Int64 { int(.lineCount) ?? 0 }
    public var content: String { string(.content) ?? "" }
}

extension TestResult {
    public var runID: String { string(.runID) ?? "" }
    public var name: String { string(.name) ?? "" }
    public var classname: String { string(.classname) ?? "" }
    public var suite: String { string(.suite) ?? "" }
    public var status: String { string(.status) ?? "" }
    public var time: Double { double(.time) ?? 0 }
}

extension Webhook {
    public var url: String { string(.url) ?? "" }
    public var secret: String { string(.secret) ?? "" }
    public var statuses: [String] { strings(.statuses) }
    public var isActive: Bool { bool(.active) ?? true }
}

extension WebhookDelivery {
    public var webhookID: String { string(.webhookID) ?? "" }
    public var eventSeq: Int64 { int(.eventSeq) ?? 0 }
    public var runID: String? { string(.runID) }
    public var status: String { string(.status) ?? "pending" }
    public var attempts: Int64 { int(.attempts) ?? 0 }
}

extension Component {
    public var name: String { string(.name) ?? "" }
    public var topicID: String? { string(.topicID) }
    public var type: String { string(.type) ?? "" }
    public var state: String { string(.state) ?? "active" }
}

extension Topic {
    public var name: String { string(.name) ?? "" }
    public var componentTypes: [String] { strings(.componentTypes) }
}

extension ImageBuild {
    public var runID: String? { string(.runID) }
    public var status: String { string(.status) ?? "building" }
    public var storagePath: String? { string(.storagePath) }
}
