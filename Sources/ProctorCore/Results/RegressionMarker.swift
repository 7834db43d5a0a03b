/// How one test case changed between a run and the run before it.
public enum Regression: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
    /// Not in the previous run.
    case added = "ADDED"
    /// In the previous run, not in this one.
    case removed = "REMOVED"
    /// Same verdict class as before (including skipped ↔ anything, failed ↔ error).
    case unchanged = "UNCHANGED"
    /// Passed before, failed or errored now.
    case regressed = "REGRESSED"
    /// Failed or errored before, passes now.
    case recovered = "RECOVERED"
}

/// Compares two runs' cases, keyed by suite + classname + name, so a reader sees what broke and what was fixed.
public enum RegressionMarker {
    /// The marks for every key of either run, and the removed keys in a stable order.
    public struct Marks: Sendable, Equatable {
        /// Every key seen in either run; removed keys are marked ``Regression/removed``.
        public var marks: [TestCaseKey: Regression]
        /// The keys of the previous run that this run lacks, sorted.
        public var removed: [TestCaseKey]

        /// How many keys carry each mark.
        public var counts: [Regression: Int] {
            marks.values.reduce(into: [:]) { $0[$1, default: 0] += 1 }
        }
    }

    /// Marks `current` against `previous`.
    ///
    /// A key that appears several times in one run (a re-run inside the same job) counts with its worst
    /// status, so one failure among retries is not hidden.
    public static func mark(previous: some Sequence<TestCase>, current: some Sequence<TestCase>) -> Marks {
        let before = worstByKey(previous)
        let after = worstByKey(current)
        var marks: [TestCaseKey: Regression] = [:]
        marks.reserveCapacity(after.count)
        for (key, now) in after {
            guard let was = before[key] else {
                marks[key] = .added
                continue
            }
            marks[key] = mark(was: was, now: now)
        }
        var removed: [TestCaseKey] = []
        for key in before.keys where after[key] == nil {
            marks[key] = .removed
            removed.append(key)
        }
        removed.sort()
        return Marks(marks: marks, removed: removed)
    }

    /// The mark for one case seen in both runs.
    public static func mark(was: TestStatus, now: TestStatus) -> Regression {
        if was == .passed && now.isFailure { return .regressed }
        if was.isFailure && now == .passed { return .recovered }
        return .unchanged
    }

    private static func worstByKey(_ cases: some Sequence<TestCase>) -> [TestCaseKey: TestStatus] {
        var statuses: [TestCaseKey: TestStatus] = [:]
        for testCase in cases {
            let key = testCase.key
            if let existing = statuses[key] {
                if rank(testCase.status) > rank(existing) { statuses[key] = testCase.status }
            } else {
                statuses[key] = testCase.status
            }
        }
        return statuses
    }

    private static func rank(_ status: TestStatus) -> Int {
        switch status {
        case .skipped: 0
        case .passed: 1
        case .failed: 2
        case .error: 3
        }
    }
}
