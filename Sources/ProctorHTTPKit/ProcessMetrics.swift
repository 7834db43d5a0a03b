import Foundation

/// The process's own figures for the `process_*` metrics, read from `/proc/self` as Prometheus's client libraries
/// do (CPU time, resident memory, open and allowed file descriptors, start time). Nil where `/proc` is not
/// there (macOS): the metrics are then left out.
package struct ProcessSample: Sendable, Equatable {
    /// User and system CPU time, in seconds.
    package var cpuSeconds: Double
    /// Resident set size, in bytes.
    package var residentBytes: Double
    /// Open file descriptors.
    package var openFDs: Double
    /// The soft limit on open file descriptors.
    package var maxFDs: Double
    /// When the process started, in seconds since the Unix epoch.
    package var startTimeSeconds: Double

    package static func read() -> ProcessSample? {
        #if os(Linux)
            guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
                let fields = statFields(stat), fields.count > 21,
                let utime = Double(fields[11]), let stime = Double(fields[12]),
                let startTicks = Double(fields[19]), let rssPages = Double(fields[21])
            else { return nil }
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
            guard ticks > 0, pageSize > 0 else { return nil }
            let boot = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap(bootTime) ?? 0
            let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
            let limits = (try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8)).flatMap(maxOpenFiles) ?? 0
            return ProcessSample(
                cpuSeconds: (utime + stime) / ticks,
                residentBytes: rssPages * pageSize,
                openFDs: Double(open),
                maxFDs: limits,
                startTimeSeconds: boot + startTicks / ticks
            )
        #else
            return nil
        #endif
    }

    /// The fields of `/proc/self/stat` after the command name (which may hold spaces and parentheses): the first
    /// is field 3 (the state), so field n of proc(5) is at index n - 3.
    package static func statFields(_ text: String) -> [Substring]? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
    }

    /// `btime` of `/proc/stat`: when the machine booted, in seconds since the epoch.
    package static func bootTime(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// The soft limit of "Max open files" in `/proc/self/limits` ("unlimited" is left out).
    package static func maxOpenFiles(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            let columns = line.dropFirst("Max open files".count).split(separator: " ", omittingEmptySubsequences: true)
            return columns.first.flatMap { Double($0) }
        }
        return nil
    }
}
