/// The outcome of one test case, in the four words every results format can be mapped onto.
public enum TestStatus: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
    case passed
    case failed
    /// The test could not run to a verdict (an exception outside its assertions, an aborted section).
    case error
    case skipped

    /// Whether the case ended badly; used by regression marking.
    public var isFailure: Bool { self == .failed || self == .error }
}

/// One test result, as parsed from a JUnit or pyATS file, before it is stored against a run.
public struct TestCase: Sendable, Equatable, Hashable {
    public var suite: String
    public var classname: String
    public var name: String
    public var status: TestStatus
    /// Seconds; 0 when the producer did not say.
    public var time: Double
    /// Why it failed, errored or was skipped; nil for a plain pass.
    public var message: String?
    public var systemOut: String?
    public var systemErr: String?

    public init(
        suite: String,
        classname: String,
        name: String,
        status: TestStatus,
        time: Double = 0,
        message: String? = nil,
        systemOut: String? = nil,
        systemErr: String? = nil
    ) {
        self.suite = suite
        self.classname = classname
        self.name = name
        self.status = status
        self.time = time
        self.message = message
        self.systemOut = systemOut
        self.systemErr = systemErr
    }

    /// The identity of this case across runs.
    public var key: TestCaseKey { TestCaseKey(suite: suite, classname: classname, name: name) }
}

/// Identifies "the same test" in two runs, so results can be compared.
public struct TestCaseKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var suite: String
    public var classname: String
    public var name: String

    public init(suite: String, classname: String, name: String) {
        self.suite = suite
        self.classname = classname
        self.name = name
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.suite, lhs.classname, lhs.name) < (rhs.suite, rhs.classname, rhs.name)
    }

    public var description: String { "\(suite)/\(classname)/\(name)" }
}

/// Counts per status, as a run's result summary.
public struct TestSummary: Sendable, Equatable, Hashable, Codable {
    public var total = 0
    public var passed = 0
    public var failed = 0
    public var errored = 0
    public var skipped = 0

    public init(total: Int = 0, passed: Int = 0, failed: Int = 0, errored: Int = 0, skipped: Int = 0) {
        self.total = total
        self.passed = passed
        self.failed = failed
        self.errored = errored
        self.skipped = skipped
    }

    public init(_ cases: some Sequence<TestCase>) {
        for testCase in cases { add(testCase.status) }
    }

    /// Counts one more case; the streaming parsers call this so they never hold every case.
    public mutating func add(_ status: TestStatus) {
        total += 1
        switch status {
        case .passed: passed += 1
        case .failed: failed += 1
        case .error: errored += 1
        case .skipped: skipped += 1
        }
    }

    /// The summary of stored results counted by their `status` (``StoreReader/count(_:by:query:scope:)``); a
    /// status outside the four is not counted.
    public init(byStatus counts: [Value: Int]) {
        passed = counts[.string(TestStatus.passed.rawValue)] ?? 0
        failed = counts[.string(TestStatus.failed.rawValue)] ?? 0
        errored = counts[.string(TestStatus.error.rawValue)] ?? 0
        skipped = counts[.string(TestStatus.skipped.rawValue)] ?? 0
        total = passed + failed + errored + skipped
    }
}
