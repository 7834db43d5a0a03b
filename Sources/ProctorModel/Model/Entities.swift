// The typed entities over the rows the store keeps. Each field enum lists exactly the schema's fields
// (Catalog builds each schema from them; EntityTests checks both ways), so a misspelt field does not compile.

/// A tenant: every grouped row belongs to one.
public struct Group: Entity {
    public static let kind = ResourceKind.groups
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case description
    }
}

/// A person who signs in.
public struct User: Entity {
    public static let kind = ResourceKind.users
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case email
        case fullname
        case passwordHash = "password_hash"
        case isSiteAdmin = "is_site_admin"
        case state
    }
}

/// A user's role and permissions in one group.
public struct Membership: Entity {
    public static let kind = ResourceKind.memberships
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case userID = "user_id"
        case role
        case permissions
    }
}

/// An API token (only its hash is kept).
public struct Token: Entity {
    public static let kind = ResourceKind.tokens
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case userID = "user_id"
        case name
        case tokenHash = "token_hash"
        case prefix
        case scopes
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revoked
    }
}

/// A DCI remote CI, signing requests with its API secret.
public struct RemoteCI: Entity {
    public static let kind = ResourceKind.remotecis
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case clientType = "client_type"
        case apiSecret = "api_secret"
        case state
        case `public`
        case data
    }
}

/// How a definition is run (shell, pytest, pyATS, CDRouter…).
public struct Harness: Entity {
    public static let kind = ResourceKind.harnesses
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case harness
        case path
        case supportingPath = "supporting_path"
        case configurationState = "configuration_state"
        case operationalState = "operational_state"
        case site
        case bldg
        case config
        case createdBy = "created_by"
        case deleted
    }
}

/// Where runs execute: the local executor or agents with labels.
public struct Engine: Entity {
    public static let kind = ResourceKind.engines
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case type
        case baseURL = "base_url"
        case configurationState = "configuration_state"
        case operationalState = "operational_state"
        case site
        case bldg
        case labels
        case createdBy = "created_by"
        case deleted
    }
}

/// A remote agent that claims runs.
public struct Agent: Entity {
    public static let kind = ResourceKind.agents
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case labels
        case version
        case slots
        case state
        case lastSeenAt = "last_seen_at"
    }
}

/// A device under test; one run holds it at a time.
public struct Testbed: Entity {
    public static let kind = ResourceKind.testbeds
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case clean
        case interfaces
        case topology
        case config
        case tags
        case createdBy = "created_by"
    }
}

/// A stored configuration file given to runs.
public struct Config: Entity {
    public static let kind = ResourceKind.configs
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case description
        case contents
        case tags
    }
}

/// A DCI product, above topics.
public struct Product: Entity {
    public static let kind = ResourceKind.products
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case label
        case description
        case state
    }
}

/// A DCI topic: a product release line whose components jobs test.
public struct Topic: Entity {
    public static let kind = ResourceKind.topics
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case productID = "product_id"
        case componentTypes = "component_types"
        case state
        case exportControl = "export_control"
        case nextTopicID = "next_topic_id"
        case data
    }
}

/// A DCI component: one versioned artifact of a topic.
public struct Component: Entity {
    public static let kind = ResourceKind.components
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case topicID = "topic_id"
        case type
        case canonicalProjectName = "canonical_project_name"
        case title
        case message
        case url
        case data
        case tags
        case state
        case releasedAt = "released_at"
        case displayName = "display_name"
        case version
    }
}

/// A job definition: what to run and with which harness.
public struct Definition: Entity {
    public static let kind = ResourceKind.definitions
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case harness
        case jobFile = "job_file"
        case description
        case supportMailers = "support_mailers"
        case interestLists = "interest_lists"
        case args
        case tags
        case config
        case configurationState = "configuration_state"
        case site
        case bldg
        case createdBy = "created_by"
        case deleted
    }
}

/// A definition bound to an engine, testbeds and arguments.
public struct Profile: Entity {
    public static let kind = ResourceKind.profiles
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case definitionID = "definition_id"
        case name
        case isDefault = "is_default"
        case priority
        case configurationState = "configuration_state"
        case engineID = "engine_id"
        case harnessIDs = "harness_ids"
        case testbedIDs = "testbed_ids"
        case configID = "config_id"
        case envargs
        case jobargs
        case maxRunTime = "max_run_time"
        case metadata
        case topologies
        case interestLists = "interest_lists"
        case supportMailers = "support_mailers"
        case createdBy = "created_by"
        case deleted
    }
}

/// A named list of profiles launched together (XPRESSO bundles).
public struct ProfileBundle: Entity {
    public static let kind = ResourceKind.bundles
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case description
        case profileIDs = "profile_ids"
        case createdBy = "created_by"
        case deleted
    }
}

/// One execution of a job: its state, where it ran and its counts.
public struct Run: Entity {
    public static let kind = ResourceKind.runs
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case status
        case reason
        case executor
        case definitionID = "definition_id"
        case profileID = "profile_id"
        case testbedID = "testbed_id"
        case configID = "config_id"
        case engineID = "engine_id"
        case topicID = "topic_id"
        case remoteciID = "remoteci_id"
        case launchedBy = "launched_by"
        case previousRunID = "previous_run_id"
        case requestID = "request_id"
        case priority
        case options
        case tags
        case labels
        case components
        case comment
        case url
        case configuration
        case data
        case clientVersion = "client_version"
        case userAgent = "user_agent"
        case state
        case runAt = "run_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case duration
        case maxRunTime = "max_run_time"
        case claimedBy = "claimed_by"
        case leaseExpiresAt = "lease_expires_at"
        case attempts
        case testsTotal = "tests_total"
        case testsPassed = "tests_passed"
        case testsFailed = "tests_failed"
        case testsErrored = "tests_errored"
        case testsSkipped = "tests_skipped"
        case cancelRequested = "cancel_requested"
        case exitCode = "exit_code"
        case harness
        case engineLabels = "engine_labels"
    }
}

/// One state change of a run (DCI jobstates).
public struct RunEvent: Entity {
    public static let kind = ResourceKind.runEvents
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case runID = "run_id"
        case status
        case previousStatus = "previous_status"
        case comment
    }
}

/// A file attached to a run (logs, JUnit, artifacts); its bytes live in the file store.
public struct StoredFile: Entity {
    public static let kind = ResourceKind.files
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case runID = "run_id"
        case eventID = "event_id"
        case name
        case mime
        case size
        case md5
        case sha256
        case storagePath = "storage_path"
        case state
    }
}

/// One test case of a run.
public struct TestResult: Entity {
    public static let kind = ResourceKind.testResults
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case runID = "run_id"
        case fileID = "file_id"
        case suite
        case classname
        case name
        case status
        case time
        case message
        case systemOut = "system_out"
        case systemErr = "system_err"
        case regression
    }
}

/// A piece of a run's console log.
public struct LogChunk: Entity {
    public static let kind = ResourceKind.logChunks
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case runID = "run_id"
        case offset
        case firstLine = "first_line"
        case lineCount = "line_count"
        case content
    }
}

/// An XPRESSO image build.
public struct ImageBuild: Entity {
    public static let kind = ResourceKind.imageBuilds
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case tag
        case gitRef = "git_ref"
        case baseRef = "base_ref"
        case groups
        case status
        case type
        case storagePath = "storage_path"
        case size
        case imageID = "image_id"
        case data
        case submittedBy = "submitted_by"
        case runID = "run_id"
    }
}

/// A URL told of run status changes.
public struct Webhook: Entity {
    public static let kind = ResourceKind.webhooks
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case name
        case url
        case secret
        case statuses
        case active
    }
}

/// One attempt chain to deliver an event to a webhook.
public struct WebhookDelivery: Entity {
    public static let kind = ResourceKind.webhookDeliveries
    public var record: Record

    public init(unchecked record: Record) { self.record = record }

    public enum Field: String, EntityField {
        case id
        case seq
        case groupID = "group_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case etag
        case webhookID = "webhook_id"
        case eventSeq = "event_seq"
        case runID = "run_id"
        case status
        case attempts
        case responseCode = "response_code"
        case error
        case nextAttemptAt = "next_attempt_at"
        case deliveredAt = "delivered_at"
    }
}
