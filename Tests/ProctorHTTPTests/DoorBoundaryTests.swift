import Foundation
import Testing

/// The architecture's first rule, checked on the sources: a door parses its dialect into core calls and renders
/// the answer; it never writes to the store itself (runs change through RunLifecycle, QueuedRuns and
/// ReportedRuns; catalog rows through CatalogEditor; agents through AgentRegistry). docs/architecture.md.
@Suite struct DoorBoundaryTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")
    static let doorTargets = [
        "ProctorHTTPKit", "ProctorNativeAPI", "ProctorDCI", "ProctorKernelCI", "ProctorCDRouter", "ProctorXPRESSO",
        "ProctorDashboard", "ProctorHTTP",
    ]

    static let writes = [
        "store.insert(", "store.insertMany(", "store.update(", "store.delete(", "store.deleteAll(",
        "store.transaction", "store.importRecords(", "store.claimRun(",
    ]

    @Test func noDoorWritesToTheStore() throws {
        var offenders: [String] = []
        var swiftFiles = 0
        for target in Self.doorTargets {
            let folder = Self.sources.appendingPathComponent(target)
            let files = try #require(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil))
            for case let url as URL in files where url.pathExtension == "swift" {
                swiftFiles += 1
                let lines = try String(contentsOf: url, encoding: .utf8).split(
                    separator: "\n",
                    omittingEmptySubsequences: false
                )
                for (number, line) in lines.enumerated() where Self.writes.contains(where: { line.contains($0) }) {
                    offenders.append(
                        "\(url.path.replacingOccurrences(of: Self.sources.path + "/", with: "")):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))"
                    )
                }
            }
        }
        #expect(swiftFiles > 50, "the door sources were not found under \(Self.sources.path)")
        #expect(offenders.isEmpty, "doors writing to the store:\n\(offenders.joined(separator: "\n"))")
    }
}
