import Foundation
import Testing

@testable import ProctorExec

/// pyATS leaves its results only in its zip archive: the executor reads results.json out of it, as Python's
/// `zipfile` writes it (stored or deflated), and refuses anything else with a reason instead of crashing.
@Suite struct PyATSArchiveTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pyats-archive-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Writes a zip with Python's zipfile (as pyATS does): `entries` maps names to contents.
    func zip(_ name: String, _ entries: [String: String], deflated: Bool = true) throws -> URL {
        let url = folder.appendingPathComponent(name)
        let python = ProcessInfo.processInfo.environment["PROCTOR_TEST_PYTHON"] ?? "python3"
        let script = """
            import json, sys, zipfile
            entries = json.loads(sys.argv[2])
            method = zipfile.ZIP_DEFLATED if sys.argv[3] == "1" else zipfile.ZIP_STORED
            with zipfile.ZipFile(sys.argv[1], "w", method) as archive:
                for name, text in entries.items():
                    archive.writestr(name, text)
            """
        let entriesJSON = String(decoding: try JSONSerialization.data(withJSONObject: entries), as: UTF8.self)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script, url.path, entriesJSON, deflated ? "1" : "0"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return url
    }

    @Test(arguments: [true, false]) func readsTheArchivesOwnResults(deflated: Bool) throws {
        let results = String(repeating: #"{"report": {"tasks": []}} "#, count: 200)
        let archive = try zip(
            "job.zip",
            ["env.txt": "PATH=/usr/bin", "nested/results.json": "{}", "results.json": results],
            deflated: deflated
        )
        #expect(PyATSArchive.isArchive(archive))
        let out = folder.appendingPathComponent("results.json")
        try PyATSArchive.extractResults(from: archive, to: out, maxBytes: 1 << 20)
        #expect(try String(contentsOf: out, encoding: .utf8) == results)
    }

    @Test func refusesWhatItCannotRead() throws {
        let out = folder.appendingPathComponent("out.json")
        let empty = try zip("empty.zip", ["TaskLog.Task-1": "nothing ran"])
        #expect(throws: PyATSArchive.Unreadable.self) {
            try PyATSArchive.extractResults(from: empty, to: out, maxBytes: 1 << 20)
        }
        do {
            try PyATSArchive.extractResults(from: empty, to: out, maxBytes: 1 << 20)
        } catch {
            #expect("\(error)" == "the pyATS archive holds no results.json")
        }

        let big = try zip("big.zip", ["results.json": String(repeating: "x", count: 4096)])
        #expect(throws: PyATSArchive.Unreadable.self) {
            try PyATSArchive.extractResults(from: big, to: out, maxBytes: 1024)
        }

        // Cut in the middle: the directory at its end is gone.
        let whole = try Data(contentsOf: big)
        let cut = folder.appendingPathComponent("cut.zip")
        try whole.prefix(whole.count / 2).write(to: cut)
        #expect(PyATSArchive.isArchive(cut))
        #expect(throws: PyATSArchive.Unreadable.self) {
            try PyATSArchive.extractResults(from: cut, to: out, maxBytes: 1 << 20)
        }

        let json = folder.appendingPathComponent("results.json")
        try Data(#"{"report": {}}"#.utf8).write(to: json)
        #expect(!PyATSArchive.isArchive(json))
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
