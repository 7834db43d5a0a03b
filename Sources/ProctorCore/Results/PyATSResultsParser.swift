import Foundation

/// A pyATS result word, with pyATS's own vocabulary (`passx`, `blocked`, `aborted`) kept intact.
public enum PyATSResult: String, Sendable, Equatable, CaseIterable {
    case passed
    case passx
    case failed
    case errored
    case aborted
    case blocked
    case skipped

    /// Reads a result case-insensitively ("PASSED", "Passx"); nil for anything else (e.g. pyATS's "null").
    public init?(word: String) {
        self.init(rawValue: word.lowercased())
    }

    /// The four-word status Proctor stores.
    public var testStatus: TestStatus {
        switch self {
        case .passed, .passx: .passed
        case .failed: .failed
        case .errored, .aborted: .error
        case .blocked, .skipped: .skipped
        }
    }

    /// Higher is worse: Aborted > Errored > Failed > Blocked > Passx > Passed > Skipped.
    public var severity: Int {
        switch self {
        case .skipped: 0
        case .passed: 1
        case .passx: 2
        case .blocked: 3
        case .failed: 4
        case .errored: 5
        case .aborted: 6
        }
    }

    /// The overall result of several results, the worst by ``severity``, as a lowercase word.
    ///
    /// Unknown words are ignored; with nothing known (or an empty list) the result is "skipped",
    /// the weakest word, because nothing ran to a verdict.
    public static func rollUp(_ results: [String]) -> String {
        rollUp(results.compactMap(PyATSResult.init(word:))).rawValue
    }

    public static func rollUp(_ results: [PyATSResult]) -> PyATSResult {
        results.max { $0.severity < $1.severity } ?? .skipped
    }
}

/// Turns a pyATS `results.json` (from a job's archive or runinfo directory) into ``TestCase`` values.
///
/// Each task is a suite, named after its testscript. Under it, the common setup, each testcase and the
/// common cleanup are the classnames, and their sections (subsections, setup, tests, cleanup) are the
/// cases; steps fold into their section's message. A testcase with no sections (e.g. blocked because the
/// common setup failed) becomes one case of its own. ``Granularity/testcases`` gives one case per
/// testcase instead, matching pyATS's own "Overall Stats".
public enum PyATSResultsParser {
    public enum Granularity: Sendable {
        /// One case per section inside common setup, testcases and common cleanup (pyATS "Section Stats").
        case sections
        /// One case per common setup, testcase and common cleanup (pyATS "Overall Stats").
        case testcases
    }

    /// The parsed report: the cases, their counts, and pyATS's own overall result.
    public struct Report: Sendable, Equatable {
        public var cases: [TestCase]
        public var summary: TestSummary
        /// The job's result as pyATS rolled it up (e.g. "aborted"), nil when absent.
        public var result: String?
        public var jobName: String?

        public init(cases: [TestCase], summary: TestSummary, result: String? = nil, jobName: String? = nil) {
            self.cases = cases
            self.summary = summary
            self.result = result
            self.jobName = jobName
        }
    }

    /// Parses a `results.json` body.
    ///
    /// - Throws: ``ProctorError/Code/badRequest`` (field `file`) when it is not JSON or has no report.
    public static func parse(
        data: Data,
        granularity: Granularity = .sections,
        maxFieldBytes: Int = JUnitParser.defaultMaxFieldBytes
    ) throws -> Report {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw ProctorError.badRequest("malformed pyATS results.json: \(Self.describe(error))", field: "file")
        }
        guard let report = document.report ?? document.bareReport else {
            throw ProctorError.badRequest("malformed pyATS results.json: no 'report' object", field: "file")
        }
        let tasks = report.tasks ?? []
        var nameCounts: [String: Int] = [:]
        for task in tasks { nameCounts[task.scriptName, default: 0] += 1 }
        var cases: [TestCase] = []
        for task in tasks {
            // Two tasks running the same script would collide on the script name: add the task id.
            let suite =
                nameCounts[task.scriptName, default: 0] > 1 ? "\(task.scriptName)[\(task.id ?? "")]" : task.scriptName
            for top in task.sections ?? [] {
                let classname = top.label
                let children = (top.sections ?? []).filter { !$0.isStep }
                if granularity == .sections, !children.isEmpty {
                    for child in children {
                        cases.append(
                            makeCase(child, suite: suite, classname: classname, name: child.label, maxFieldBytes)
                        )
                    }
                } else {
                    cases.append(makeCase(top, suite: suite, classname: classname, name: top.label, maxFieldBytes))
                }
            }
        }
        return Report(cases: cases, summary: TestSummary(cases), result: report.result?.value, jobName: report.name)
    }

    /// Parses the `results.json` at `url`.
    public static func parse(
        fileAt url: URL,
        granularity: Granularity = .sections,
        maxFieldBytes: Int = JUnitParser.defaultMaxFieldBytes
    ) throws -> Report {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ProctorError.notFound("no readable pyATS results.json at \(url.path)")
        }
        return try parse(data: data, granularity: granularity, maxFieldBytes: maxFieldBytes)
    }

    private static func makeCase(_ node: Node, suite: String, classname: String, name: String, _ limit: Int) -> TestCase
    {
        let result = node.result?.value.flatMap(PyATSResult.init(word:))
        let status = result?.testStatus ?? .skipped
        var message = node.result?.reason
        let traceback = node.result?.data?.traceback ?? node.data?.traceback
        if let traceback,
            let last = traceback.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) })
        {
            let exception = last.trimmingCharacters(in: .whitespaces)
            message = message.map { "\($0): \(exception)" } ?? exception
        }
        if message == nil, status != .passed {
            message = explainingStep(in: node, result: result)
        }
        return TestCase(
            suite: suite,
            classname: classname,
            name: name,
            status: status,
            time: max(0, node.runtime ?? 0),
            message: message.map { cap($0, limit) },
            systemOut: nil,
            systemErr: traceback.map { cap($0, limit) }
        )
    }

    /// The first step (depth first) or child with the same result that says why: "STEP 2: Gi0/1 is up: Gi0/1 is down".
    private static func explainingStep(in node: Node, result: PyATSResult?) -> String? {
        for child in node.sections ?? [] {
            let childResult = child.result?.value.flatMap(PyATSResult.init(word:))
            if childResult == result {
                if let reason = child.result?.reason {
                    let title =
                        child.isStep && child.id != nil && child.name != nil && child.id != child.name
                        ? "\(child.id!): \(child.name!)" : child.label
                    return "\(title): \(reason)"
                }
                if let deeper = explainingStep(in: child, result: result) { return deeper }
            }
        }
        return nil
    }

    private static func cap(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var capped = CappedText(limit: limit)
        capped.append(text)
        return capped.value
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            return context.underlyingError.map { "\($0.localizedDescription)" } ?? context.debugDescription
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(context.debugDescription) at '\(path)'"
        default:
            return String(describing: error)
        }
    }

    // MARK: The subset of results.json we read (version 3.x); unknown keys are ignored.

    private struct Document: Decodable {
        var report: Node?
        /// Some tools write the report object alone, without the `{"version", "report"}` wrapper.
        var bareReport: Node?

        enum CodingKeys: String, CodingKey { case report, tasks }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            report = try container.decodeIfPresent(Node.self, forKey: .report)
            bareReport = report == nil && container.contains(.tasks) ? try Node(from: decoder) : nil
        }
    }

    private struct Node: Decodable {
        var type: String?
        var id: String?
        var name: String?
        var runtime: Double?
        var result: ResultInfo?
        var data: ExtraData?
        var sections: [Node]?
        var tasks: [Node]?

        enum CodingKeys: String, CodingKey { case type, id, name, runtime, result, data, sections, tasks }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try? container.decodeIfPresent(String.self, forKey: .type)
            id = try? container.decodeIfPresent(String.self, forKey: .id)
            name = try? container.decodeIfPresent(String.self, forKey: .name)
            runtime = try? container.decodeIfPresent(Double.self, forKey: .runtime)
            result = try? container.decodeIfPresent(ResultInfo.self, forKey: .result)
            data = try? container.decodeIfPresent(ExtraData.self, forKey: .data)
            sections = try container.decodeIfPresent([Node].self, forKey: .sections)
            tasks = try container.decodeIfPresent([Node].self, forKey: .tasks)
        }

        var isStep: Bool { type == "Step" }
        var label: String { id ?? name ?? "" }
        /// A task's name is its testscript's; its id is the (often generated) task id.
        var scriptName: String { name ?? id ?? "" }
    }

    private struct ResultInfo: Decodable {
        var value: String?
        var reason: String?
        var data: ExtraData?

        enum CodingKeys: String, CodingKey { case value, reason, data }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            value = try? container.decodeIfPresent(String.self, forKey: .value)
            reason = try? container.decodeIfPresent(String.self, forKey: .reason)
            data = try? container.decodeIfPresent(ExtraData.self, forKey: .data)
        }
    }

    private struct ExtraData: Decodable {
        var traceback: String?
    }
}
