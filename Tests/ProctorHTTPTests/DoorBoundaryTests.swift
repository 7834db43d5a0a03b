import Foundation
import Testing

/// The architecture's first rule: a door parses its dialect into core calls and renders the answer; it never
/// writes to the store itself (runs change through RunLifecycle, QueuedRuns and ReportedRuns; catalog rows through
/// CatalogEditor; agents through AgentRegistry). docs/architecture.md.
///
/// The compiler keeps it: the store's writing protocol lives in ProctorStoreWriting, which the core does not
/// re-export, and scripts/test builds with `--explicit-target-dependency-import-check error`, so a door target can
/// reach it only by declaring the dependency in Package.swift. These tests keep the manifest honest.
@Suite struct DoorBoundaryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let doorTargets = [
        "ProctorHTTPKit", "ProctorNativeAPI", "ProctorDCI", "ProctorKernelCI", "ProctorCDRouter", "ProctorXPRESSO",
        "ProctorDashboard",
    ]
    /// What a door may not depend on: the store's writing API, the store itself, the executor.
    static let forbidden = ["ProctorStoreWriting", "ProctorStore", "ProctorExec", "ProctorHTTP"]

    /// The target names a target's `dependencies: [...]` in Package.swift lists (strings only, not products).
    static func dependencies(of target: String, in manifest: String) throws -> [String] {
        let declaration = try #require(manifest.range(of: "name: \"\(target)\","), "no target \(target)")
        let rest = manifest[declaration.upperBound...]
        let open = try #require(rest.range(of: "dependencies: ["))
        var depth = 0
        var end = open.upperBound
        for index in rest[open.upperBound...].indices {
            let character = rest[index]
            if character == "[" { depth += 1 }
            if character == "]" {
                if depth == 0 {
                    end = index
                    break
                }
                depth -= 1
            }
        }
        let list = rest[open.upperBound..<end]
        return list.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("\"") else { return nil }
            return String(trimmed.dropFirst().prefix { $0 != "\"" })
        }
    }

    @Test func noDoorTargetDependsOnTheStoresWritingAPI() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        for door in Self.doorTargets {
            let dependencies = try Self.dependencies(of: door, in: manifest)
            #expect(dependencies.contains("ProctorCore"), "\(door) depends on \(dependencies)")
            #expect(
                Set(dependencies).isDisjoint(with: Self.forbidden),
                "\(door) depends on \(dependencies.filter(Self.forbidden.contains))"
            )
        }
        // The core must not hand the writing API on: no re-export of ProctorStoreWriting.
        let exports = try String(
            contentsOf: Self.root.appendingPathComponent("Sources/ProctorCore/Exports.swift"),
            encoding: .utf8
        )
        #expect(exports.contains("@_exported import ProctorModel"))
        #expect(!exports.contains("@_exported import ProctorStoreWriting"))
        // The assembly is what may write: it depends on the writing API.
        #expect(try Self.dependencies(of: "ProctorHTTP", in: manifest).contains("ProctorStoreWriting"))
    }

    @Test func noDoorSourceImportsTheWritingAPI() throws {
        var offenders: [String] = []
        var swiftFiles = 0
        for target in Self.doorTargets {
            let folder = Self.root.appendingPathComponent("Sources/\(target)")
            let files = try #require(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil))
            for case let url as URL in files where url.pathExtension == "swift" {
                swiftFiles += 1
                let text = try String(contentsOf: url, encoding: .utf8)
                for module in Self.forbidden where text.contains("import \(module)\n") {
                    offenders.append("\(target)/\(url.lastPathComponent) imports \(module)")
                }
            }
        }
        #expect(swiftFiles > 50, "the door sources were not found under \(Self.root.path)/Sources")
        #expect(offenders.isEmpty, "\(offenders.joined(separator: "\n"))")
    }
}
