import Foundation
import ProctorCore

/// `proctor-bench --junit-mb 50`: writes a JUnit file of that size, streams it through ``JUnitParser``
/// and prints throughput and the process's peak memory, to show that parsing stays flat in memory.
enum JUnitBench {
    static func run(megabytes: Int) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "proctor-junit-bench-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("junit.xml")

        let generated = try generate(file, bytes: megabytes * 1024 * 1024)
        let size = Double(generated.bytes) / (1024 * 1024)
        print(
            String(
                format: "generated %.1f MB, %d cases (%d failed, %d skipped)",
                size,
                generated.cases,
                generated.failed,
                generated.skipped
            )
        )
        print("peak memory before parsing: \(peakMemory())")

        var best = Double.infinity
        for round in 1...3 {
            var failures = 0
            let start = ContinuousClock.now
            let summary = try JUnitParser.parse(fileAt: file) { testCase in
                if testCase.status == .failed { failures += 1 }
            }
            let seconds = ProctorBench.milliseconds(ContinuousClock.now - start) / 1000
            best = min(best, seconds)
            guard summary.total == generated.cases, summary.failed == generated.failed, failures == generated.failed,
                summary.skipped == generated.skipped
            else {
                throw ProctorError(.internal, "parsed counts \(summary) do not match the generated file")
            }
            print(
                String(
                    format: "round %d: %.2f s, %.1f MB/s, %.0f cases/s",
                    round,
                    seconds,
                    size / seconds,
                    Double(summary.total) / seconds
                )
            )
        }
        print(String(format: "best: %.1f MB/s", size / best))
        print("peak memory (VmHWM) after parsing: \(peakMemory())")
    }

    struct Generated {
        var bytes = 0
        var cases = 0
        var failed = 0
        var skipped = 0
    }

    /// Writes suites of 100 cases until `bytes`; every 10th case fails with a trace and output, every 25th skips.
    static func generate(_ file: URL, bytes: Int) throws -> Generated {
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
            throw ProctorError(.internal, "cannot create \(file.path)")
        }
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        var result = Generated()
        var buffer = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"bench\">\n"
        func flush() throws {
            let data = Data(buffer.utf8)
            try handle.write(contentsOf: data)
            result.bytes += data.count
            buffer = ""
        }
        var index = 0
        while result.bytes + buffer.utf8.count < bytes || index % 100 != 0 {
            if index % 100 == 0 {
                if index > 0 { buffer += "</testsuite>\n" }
                buffer += "<testsuite name=\"suite-\(index / 100)\" tests=\"100\">\n"
            }
            buffer +=
                "<testcase classname=\"lab.module\(index % 13).Checks\" name=\"test_case_\(index)\" time=\"0.\(index % 997)\">"
            if index % 10 == 0 {
                result.failed += 1
                buffer += "<failure message=\"expected 17.3, found 16.\(index % 9)\" type=\"AssertionError\">"
                buffer +=
                    "Traceback (most recent call last):\n  File \"checks.py\", line \(index % 400), in test_case_\(index)\n"
                buffer += "    assert version == &quot;17.3&quot;\nAssertionError</failure>"
                buffer += "<system-out>connecting to device-\(index % 50)\nrunning show version\n</system-out>"
            } else if index % 25 == 0 {
                result.skipped += 1
                buffer += "<skipped message=\"no wireless interface on this testbed\"/>"
            }
            buffer += "</testcase>\n"
            index += 1
            if buffer.utf8.count >= 1 << 20 { try flush() }
        }
        buffer += "</testsuite>\n</testsuites>\n"
        try flush()
        result.cases = index
        return result
    }

    /// VmHWM (peak resident set) from /proc/self/status; "n/a" where that file does not exist.
    static func peakMemory() -> String {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return "n/a" }
        let kilobytes = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first.map(String.init) ?? "") ?? 0
        return String(format: "%.1f MB", kilobytes / 1024)
    }
}
