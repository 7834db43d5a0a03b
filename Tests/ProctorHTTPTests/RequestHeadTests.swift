import Foundation
import Glibc
import HummingbirdTesting
import Testing

@testable import ProctorHTTP
@testable import ProctorHTTPKit

/// An oversized request line or header block is refused at once, with 414 or 431, on a real connection: the
/// client reads the answer while it is still sending.
@Suite struct RequestHeadTests {
    @Test func anOversizedRequestLineIsA414BeforeTheLineEnds() async throws {
        let app = try await TestApp.make()
        try await app.testLive { client in
            let port = try #require(client.port)
            // 80 KiB of target and no end of line: the answer must not wait for one.
            let answer = try RawConnection(port: port).exchange([
                "GET /api/v1/runs?q=" + String(repeating: "a", count: 80 << 10)
            ])
            #expect(answer.hasPrefix("HTTP/1.1 414 URI Too Long\r\n"), "\(answer.prefix(80))")
            #expect(
                answer.contains(
                    #"{"error":{"code":"uri_too_long","message":"the request line is longer than 65536 bytes"}}"#
                )
            )
        }
    }

    @Test func aClientSendingAnEightMiBLineReadsThe414() async throws {
        let app = try await TestApp.make()
        try await app.testLive { client in
            let port = try #require(client.port)
            let chunk = String(repeating: "b", count: 64 << 10)
            let answer = try RawConnection(port: port).exchange(
                ["GET /dci/api/v1/jobs?where=" + chunk] + Array(repeating: chunk, count: 127) + [" HTTP/1.1\r\n\r\n"]
            )
            #expect(answer.hasPrefix("HTTP/1.1 414 URI Too Long\r\n"), "\(answer.prefix(80))")
        }
    }

    @Test func oversizedHeaderFieldsAreA431AndNormalRequestsPass() async throws {
        let app = try await TestApp.make()
        try await app.testLive { client in
            let port = try #require(client.port)
            let big = "X-Big: " + String(repeating: "c", count: 70 << 10)
            let answer = try RawConnection(port: port).exchange(["GET /healthz HTTP/1.1\r\nHost: x\r\n" + big])
            #expect(answer.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "\(answer.prefix(80))")
            #expect(answer.contains(#""code":"header_fields_too_large""#))
            // Two requests on one connection, the first with a body: both are answered.
            let body = String(repeating: "d", count: 20_000)
            let both = try RawConnection(port: port).exchange([
                "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ])
            #expect(!both.contains(" 414 ") && !both.contains(" 431 "))
            #expect(both.components(separatedBy: "HTTP/1.1 ").count == 3, "two answers")
            #expect(both.contains("HTTP/1.1 200 OK"))
        }
    }

    /// The scanner steps over bodies by their Content-Length, so a body is never measured as a head.
    @Test func theScannerMeasuresEachHeadAndStepsOverBodies() {
        func verdict(
            _ parts: [String],
            limits: RequestHeadLimits = RequestHeadLimits(maxRequestLine: 100, maxHeaderBytes: 200)
        )
            -> RequestHeadScanner.Verdict
        {
            var scanner = RequestHeadScanner(limits: limits)
            for part in parts {
                let verdict = Array(part.utf8).withUnsafeBytes { scanner.scan($0) }
                if verdict != .fine { return verdict }
            }
            return .fine
        }
        let body = String(repeating: "x", count: 5_000)
        let post = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n"
        #expect(verdict([post + body + "GET /b HTTP/1.1\r\n\r\n"]) == .fine)
        // Split anywhere, the same.
        let whole = post + body + "GET /b HTTP/1.1\r\n\r\n"
        let bytes = Array(whole)
        #expect(
            verdict(stride(from: 0, to: bytes.count, by: 7).map { String(bytes[$0..<min($0 + 7, bytes.count)]) })
                == .fine
        )
        // Field names in any case, values with blanks around them.
        let shouted = "POST /a HTTP/1.1\r\nhost: h\r\nCONTENT-length:\t 5000 \r\n\r\n"
        #expect(verdict([shouted + body + "GET /b HTTP/1.1\r\n\r\n"]) == .fine)
        #expect(verdict([shouted + body + "GET /" + String(repeating: "y", count: 200)]) == .requestLineTooLong)
        // A length that is not a number cannot be stepped over: the scanner stops watching.
        #expect(
            verdict(["POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n" + String(repeating: "z", count: 500)]) == .fine
        )
        // The next head after a body is measured again.
        #expect(verdict([post + body + "GET /" + String(repeating: "y", count: 200)]) == .requestLineTooLong)
        #expect(verdict(["GET / HTTP/1.1\r\n" + String(repeating: "H: v\r\n", count: 40)]) == .headersTooLarge)
        // Without a Content-Length there is no body: what follows is a head.
        #expect(verdict(["GET / HTTP/1.1\r\n\r\n" + String(repeating: "z", count: 101)]) == .requestLineTooLong)
        // A chunked body cannot be stepped over: the scanner stops watching (the parser's limit holds).
        #expect(
            verdict(["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "z", count: 500)])
                == .fine
        )
        #expect(
            verdict(["POST / HTTP/1.1\r\ntransfer-ENCODING: chunked\r\n\r\n" + String(repeating: "z", count: 500)])
                == .fine
        )
        // Exactly at the limits is fine.
        #expect(verdict(["GET /" + String(repeating: "a", count: 95) + "\r\n\r\n"]) == .fine)
        #expect(verdict(["GET /" + String(repeating: "a", count: 96) + "\r\n\r\n"]) == .requestLineTooLong)
    }
}

/// A plain TCP connection that sends its parts in order (stopping when the server stops reading) and then
/// reads everything the server answers until it closes, or for at most ten seconds.
struct RawConnection {
    let port: Int

    func exchange(_ parts: [String]) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        sending: for part in parts {
            let bytes = Array(part.utf8)
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes {
                    send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent <= 0 { break sending }  // the server closed its side: read what it said
                offset += sent
            }
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer += buffer[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
