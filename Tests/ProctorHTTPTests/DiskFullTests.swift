import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProctorCore
import ProctorHTTP
import ProctorHTTPKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A full disk is the server's condition, said plainly: 507 with a message, nothing half stored; never a 500.
@Suite(.serialized) struct DiskFullTests {
    @Test func outOfSpaceErrorsAreRecognisedWhateverReportsThem() {
        #expect(
            ProctorError.diskFull(from: NSError(domain: NSPOSIXErrorDomain, code: 28))?.code == .insufficientStorage
        )
        #expect(ProctorError.diskFull(from: CocoaError(.fileWriteOutOfSpace))?.code == .insufficientStorage)
        let wrapped = NSError(
            domain: NSCocoaErrorDomain,
            code: 512,
            userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: 28)]
        )
        #expect(ProctorError.diskFull(from: wrapped)?.code == .insufficientStorage)
        #expect(ProctorError.diskFull(from: NSError(domain: NSPOSIXErrorDomain, code: 13)) == nil)
        #expect(ProctorError.Code.insufficientStorage.status.code == 507)
    }

    /// An upload onto a full files directory (a 64 KiB tmpfs, when this process may mount one): 507 in the
    /// native shape and in DCI's, and no file recorded.
    @Test func anUploadOntoAFullDiskIs507() async throws {
        guard getuid() == 0 else { return }
        let app = try await TestApp.make()
        let files = app.configuration.filesDirectory
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        let mounted = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", files.path])
        #expect(mounted, "root could not mount a small tmpfs to fill")
        guard mounted else { return }
        defer { _ = Self.run("/bin/umount", ["-l", files.path]) }
        try await app.test { client in
            let run = try await client.execute(
                uri: "/api/v1/runs",
                method: .post,
                headers: bearer(TestApp.adminToken),
                body: ByteBuffer(json: #"{"name": "reported"}"#)
            ) { try json($0)["id"]?.stringValue ?? "" }
            let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: 512 << 10)
            try await client.execute(
                uri: "/api/v1/runs/\(run)/files?name=big.bin",
                method: .post,
                headers: [.authorization: "Bearer \(TestApp.adminToken)", .contentType: "application/octet-stream"],
                body: big
            ) { response in
                #expect(response.status.code == 507)
                let error = try json(response)["error"]
                #expect(error?["code"] == .string("insufficient_storage"))
                #expect(error?["message"]?.stringValue?.contains("disk is full") == true)
            }
            try await client.execute(
                uri: "/api/v1/runs/\(run)/files",
                method: .get,
                headers: bearer(TestApp.adminToken)
            ) { response in
                let items = try json(response)["items"]?.arrayValue
                #expect(items?.isEmpty == true)
            }
        }
    }

    static func run(_ tool: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
