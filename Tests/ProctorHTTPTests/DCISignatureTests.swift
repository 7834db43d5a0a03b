import Foundation
import Testing

@testable import ProctorCore
@testable import ProctorDCI
@testable import ProctorHTTP

/// Vectors made by the real `dciclient` 4.2 / `dciauth` 4.0.1 with the clock frozen at 2024-05-01 12:00:00 UTC
/// (`Tests/compat/dci_vectors.py`, which also checks each one with dciauth's own server-side `is_valid`).
private struct Vector: Sendable, CustomTestStringConvertible {
    var method: String
    var path: String
    var query: String?
    var host: String
    var bodyHex: String
    var authorization: String
    var amz = false

    var testDescription: String { "\(method) \(path)" }

    var body: [UInt8] {
        let chars = Array(bodyHex.utf8)
        return stride(from: 0, to: chars.count, by: 2).map {
            UInt8(String(decoding: chars[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
    }

    var headers: [String: String] {
        ["Host": host, "Authorization": authorization, amz ? "X-Amz-Date" : "X-DCI-Date": "20240501T120000Z"]
    }

    func request(body: [UInt8]? = nil, headers extra: [String: String] = [:]) -> DCISignature.Request {
        DCISignature.Request(
            method: method,
            path: path,
            query: query,
            headers: headers.merging(extra) { $1 },
            body: body ?? self.body
        )
    }
}

private let secret = "Xy7SecretKeyForTesting0123456789abcdefABCDEF"
private let clientID = "8e4b1a2c-0000-4000-8000-000000000001"
private let frozen = Date(timeIntervalSince1970: 1_714_564_800)  // 2024-05-01T12:00:00Z

private func auth(_ signature: String) -> String {
    "DCI2-HMAC-SHA256 Credential=remoteci/\(clientID)/20240501/BHS3/api/dci2_request, SignedHeaders=host;x-dci-date, "
        + "Signature=\(signature)"
}

private let vectors: [Vector] = [
    // clients.md B2, example 1: GET with a query string.
    Vector(
        method: "GET",
        path: "/api/v1/topics",
        query: "where=name%3AOCP-4.12&limit=50&offset=0&sort=-created_at",
        host: "127.0.0.1:8080",
        bodyHex: "",
        authorization: auth("edbbc1f05e2c3f90a48ee3ffc671146871036fc371e7ba7504c1bd49924b8ec1")
    ),
    // clients.md B2, example 2: POST of a JSON body as dciclient's job.create sends it.
    Vector(
        method: "POST",
        path: "/api/v1/jobs",
        query: nil,
        host: "127.0.0.1:8080",
        bodyHex:
            "7b22746f7069635f6964223a2022742d31222c2022636f6d706f6e656e7473223a205b22632d31225d2c20226e616d65223a20226d79206a6f62227d",
        authorization: auth("d7c923927a97d3d770028b9c0439a8de152c675225dea888042d382f96b4dd68")
    ),
    // A path prefix, `+` for space, a blank value (dropped), a duplicate key (last wins), UTF-8 and `/`.
    Vector(
        method: "GET",
        path: "/dci/api/v1/topics",
        query: "where=name%3ARHEL+9.4%2Cstate%3Aactive&b=&a=1&a=2&u=%C3%A9t%C3%A9+x/y",
        host: "localhost:5000",
        bodyHex: "",
        authorization: auth("6caf1c83d976deeb193305261c4eb25aa684e28aec74f351f768a4391cce59db")
    ),
    Vector(
        method: "PUT",
        path: "/dci/api/v1/jobs/0d5b-1",
        query: nil,
        host: "localhost:5000",
        bodyHex: "7b22737461747573223a202273756363657373227d",
        authorization: auth("e883e3be17c100654a80a2edb0f114a16704d9c00528b87c3028d4581275a159")
    ),
    // The path is signed percent-decoded.
    Vector(
        method: "DELETE",
        path: "/dci/api/v1/jobs/x%20y",
        query: nil,
        host: "h.example:443",
        bodyHex: "",
        authorization: auth("b572bd1453a4b7d6427d773cbeb2bf35fa01a387c78b3110afd2f8dda885fd9e")
    ),
    // A raw, non-UTF-8 file body.
    Vector(
        method: "POST",
        path: "/dci/api/v1/files",
        query: nil,
        host: "127.0.0.1:18080",
        bodyHex: "3c7465737473756974652074657374733d2231223eff003c2f7465737473756974653e",
        authorization: auth("bb2e4eb562c1a3f589439898b85fc1c3c14778b3c59cf3836789d6a2b2c7c531")
    ),
    // AWS4 names (Postman): region us-east-1, date in X-Amz-Date.
    Vector(
        method: "GET",
        path: "/dci/api/v1/identity",
        query: nil,
        host: "127.0.0.1:8080",
        bodyHex: "",
        authorization:
            "AWS4-HMAC-SHA256 Credential=remoteci/\(clientID)/20240501/us-east-1/api/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature=c3a977563e3390da45c1820ec51d30862786180c3fd8b18cba91f5303b80de99",
        amz: true
    ),
]

private func verifies(_ request: DCISignature.Request, now: Date = frozen, secret key: String = secret) -> DCISignature
    .Failure?
{
    do {
        let credential = try DCISignature.parse(headers: request.headers)
        try DCISignature.verify(request, credential: credential, secret: key, now: now)
        return nil
    } catch {
        return error
    }
}

@Suite struct DCISignatureTests {
    @Test(arguments: vectors) fileprivate func realClientSignaturesVerify(_ vector: Vector) {
        #expect(verifies(vector.request()) == nil)
    }

    @Test func workedExampleIntermediateValues() throws {
        let vector = vectors[0]
        let credential = try DCISignature.parse(headers: vector.headers)
        #expect(credential.clientType == "remoteci")
        #expect(credential.clientID == clientID)
        #expect(credential.signedHeaders == ["host", "x-dci-date"])
        let canonical = DCISignature.canonicalRequest(vector.request(), credential: credential)
        #expect(
            canonical
                == "GET\n/api/v1/topics\nlimit=50&offset=0&sort=-created_at&where=name%3AOCP-4.12\nhost:127.0.0.1:8080\n"
                + "x-dci-date:20240501T120000Z\n\nhost;x-dci-date\n"
                + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        let toSign = DCISignature.stringToSign(canonicalRequest: canonical, credential: credential)
        #expect(
            toSign
                == "DCI2-HMAC-SHA256\n20240501T120000Z\n20240501/BHS3/api/dci2_request\n"
                + "5b88b71b133bf3353078c1f321896ed2b71689ea658452ff6f02e211028edf91"
        )
        let key = Credentials.hex(DCISignature.signingKey(secret: secret, credential: credential))
        #expect(key == "5afd1a954a4aacc3a13ccad3068e04c71d3f17b04f3a16be87d04015fa6ac9b7")
    }

    @Test func canonicalQueryFollowsParseQsl() {
        #expect(DCISignature.canonicalQuery(nil) == "")
        #expect(DCISignature.canonicalQuery("") == "")
        #expect(
            DCISignature.canonicalQuery("where=name%3ARHEL+9.4%2Cstate%3Aactive&b=&a=1&a=2&c&u=%C3%A9t%C3%A9+x/y")
                == "a=2&u=%C3%A9t%C3%A9%20x%2Fy&where=name%3ARHEL%209.4%2Cstate%3Aactive"
        )
        #expect(DCISignature.canonicalQuery("k=%zz&j=%4") == "j=%254&k=%25zz")
    }

    /// Changing any byte of the signed input (or the secret, or the signature) makes the worked example fail.
    @Test func everyInputByteMatters() {
        for vector in vectors.prefix(2) {
            let request = vector.request()
            #expect(verifies(request) == nil)

            var body = request
            if body.body.isEmpty { body.body = [0x20] } else { body.body[body.body.count / 2] ^= 0x01 }
            #expect(verifies(body)?.reason == .invalid)
            var method = request
            method.method = vector.method == "GET" ? "HEAD" : "PUT"
            #expect(verifies(method)?.reason == .invalid)
            for index in request.path.utf8.indices {
                var path = request
                var bytes = Array(request.path.utf8)
                bytes[request.path.utf8.distance(from: request.path.utf8.startIndex, to: index)] ^= 0x02
                path.path = String(decoding: bytes, as: UTF8.self)
                #expect(verifies(path)?.reason == .invalid, "path \(path.path)")
            }
            if let query = request.query {
                for offset in 0..<query.utf8.count {
                    var bytes = Array(query.utf8)
                    bytes[offset] ^= 0x01
                    var changed = request
                    changed.query = String(decoding: bytes, as: UTF8.self)
                    if DCISignature.canonicalQuery(changed.query) == DCISignature.canonicalQuery(query) { continue }
                    #expect(verifies(changed)?.reason == .invalid, "query \(changed.query ?? "")")
                }
            } else {
                var query = request
                query.query = "a=1"
                #expect(verifies(query)?.reason == .invalid)
            }
            var host = request
            host.headers["host"] = "127.0.0.1:8081"
            #expect(verifies(host)?.reason == .invalid)
            #expect(verifies(request, secret: secret + "x")?.reason == .invalid)
            #expect(verifies(request, secret: String(secret.dropLast()))?.reason == .invalid)

            var signature = request
            let auth = request.headers["authorization"]!
            let flipped = String(auth.dropLast()) + (auth.hasSuffix("1") ? "2" : "1")
            signature.headers["authorization"] = flipped
            #expect(verifies(signature)?.reason == .invalid)
            // The scope is signed (the client id is not: it only selects the secret).
            var claimed = request
            claimed.headers["authorization"] = auth.replacingOccurrences(of: "/BHS3/", with: "/BHS4/")
            #expect(verifies(claimed)?.reason == .invalid)
            claimed.headers["authorization"] = auth.replacingOccurrences(of: "/20240501/", with: "/20240502/")
            #expect(verifies(claimed)?.reason == .invalid)
            var date = request
            date.headers["x-dci-date"] = "20240501T120001Z"
            #expect(verifies(date)?.reason == .invalid)
        }
    }

    @Test func clockSkewIsFifteenMinutesEitherWay() {
        let request = vectors[1].request()
        #expect(verifies(request, now: frozen.addingTimeInterval(15 * 60)) == nil)
        #expect(verifies(request, now: frozen.addingTimeInterval(-15 * 60)) == nil)
        #expect(verifies(request, now: frozen.addingTimeInterval(15 * 60 + 1))?.reason == .expired)
        #expect(verifies(request, now: frozen.addingTimeInterval(-15 * 60 - 1))?.reason == .expired)
        #expect(verifies(request, now: frozen.addingTimeInterval(-15 * 60 - 1))?.message == "signature is expired")
    }

    @Test func malformedHeadersAreRefused() {
        let base = vectors[0].request()
        func malformed(_ change: (inout [String: String]) -> Void) -> Bool {
            var request = base
            change(&request.headers)
            return verifies(request)?.reason == .malformed
        }
        #expect(malformed { $0["x-dci-date"] = nil })
        #expect(malformed { $0["authorization"] = nil })
        #expect(malformed { $0["x-dci-date"] = "2024-05-01T12:00:00Z" })
        #expect(
            malformed {
                $0["authorization"] = "DCI2-HMAC-SHA256 Credential=a/b, SignedHeaders=host;x-dci-date, Signature=00"
            }
        )
        #expect(malformed { $0["authorization"] = $0["authorization"]!.replacingOccurrences(of: ", ", with: ",") })
        #expect(
            malformed {
                $0["authorization"] = $0["authorization"]!.replacingOccurrences(of: "dci2_request", with: "x_request")
            }
        )
        #expect(
            malformed { $0["authorization"] = $0["authorization"]!.replacingOccurrences(of: "DCI2-", with: "DCI3-") }
        )
        #expect(
            malformed {
                $0["authorization"] = $0["authorization"]!.replacingOccurrences(of: "host;", with: "host;x-other;")
            }
        )
        #expect(malformed { $0["authorization"] = "" })
    }

    /// The stamp DCI and S3 signatures carry: UTC, whole seconds (a fraction is dropped, never rounded up).
    @Test func theBasicStampIsUTCToTheWholeSecond() {
        #expect(Credentials.basicUTCStamp(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(Credentials.basicUTCStamp(Date(timeIntervalSince1970: 1_709_251_199.999)) == "20240229T235959Z")
        #expect(Credentials.basicUTCStamp(Date(timeIntervalSince1970: 1_565_723_334.5)) == "20190813T190854Z")
    }

    @Test func signProducesWhatTheClientSends() throws {
        let vector = vectors[1]
        let headers = DCISignature.sign(
            DCISignature.Request(
                method: "POST",
                path: vector.path,
                query: nil,
                headers: ["Host": vector.host],
                body: vector.body
            ),
            clientID: clientID,
            secret: secret,
            at: frozen
        )
        #expect(headers["X-DCI-Date"] == "20240501T120000Z")
        #expect(headers["Authorization"] == vector.authorization)
    }

    @Test func timestampsRoundTrip() {
        #expect(DCISignature.format(frozen) == "20240501T120000Z")
        #expect(DCISignature.parseTimestamp("20240501T120000Z") == frozen)
        #expect(DCISignature.parseTimestamp("20241301T120000Z") == nil)
        #expect(DCISignature.parseTimestamp("20240501T120000") == nil)
        #expect(DCISignature.isSignatureScheme("DCI2-HMAC-SHA256 Credential=x"))
        #expect(DCISignature.isSignatureScheme("AWS4-HMAC-SHA256 Credential=x"))
        #expect(!DCISignature.isSignatureScheme("Basic abc"))
    }
}

/// DCI's signed timestamps (`YYYYMMDDTHHMMSSZ`) are checked as strictly as every door's dates.
@Suite struct DCISignatureTimestampTests {
    @Test func dciSignatureTimestamps() {
        #expect(DCISignature.parseTimestamp("20240229T120000Z") != nil)
        for bad in ["20230229T120000Z", "20260431T120000Z", "20260101T240000Z", "20260101T126000Z", "20260101T120060Z"]
        {
            #expect(DCISignature.parseTimestamp(bad) == nil, "\(bad)")
        }
    }
}
