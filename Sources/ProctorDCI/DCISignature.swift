import Crypto
import Foundation
import ProctorCore
import ProctorHTTPKit
import Synchronization

/// DCI's HMAC request signatures: `DCI2-HMAC-SHA256` (what `dciclient`/`dciauth` v2 send) and its twin
/// `AWS4-HMAC-SHA256` (the same algorithm under AWS names, as Postman sends it).
///
/// This is AWS SigV4 with DCI's constants. The canonical request is built the way the *client* builds it
/// (`dciauth.v2.headers`), because that is what was signed: the path is percent-decoded once, the query is
/// decoded as a form (`+` is a space), blank values are dropped and the last duplicate wins, then every key and
/// value is re-encoded with RFC 3986 unreserved characters kept and the pairs are sorted. The body is hashed as
/// the raw bytes received. Verification recomputes the signature with the *claimed* algorithm, scope and signed
/// headers, checks the clock skew (±15 minutes) and compares in constant time.
///
/// It lives in the core, not the DCI front door, because any dialect or agent that wants request signing can
/// use it, and because it is pure: no HTTP types, no store, an injectable clock.
public enum DCISignature {
    /// How far the signed time may be from the server's clock, either way (dciauth's `is_expired`).
    public static let maxClockSkew: TimeInterval = 15 * 60

    /// The algorithms accepted in `Authorization`; the signing key prefix is the name minus `-HMAC-SHA256`.
    public static let algorithms: Set<String> = ["DCI2-HMAC-SHA256", "AWS4-HMAC-SHA256"]

    /// What the `Authorization` and date headers claim.
    public struct Credential: Sendable, Equatable {
        /// `DCI2-HMAC-SHA256` or `AWS4-HMAC-SHA256`.
        public var algorithm: String
        /// `remoteci` or `feeder` for the clients DCI knows; any text here, the caller decides.
        public var clientType: String
        public var clientID: String
        /// `YYYYMMDD` from the credential scope (used for the signing key, as the client did).
        public var datestamp: String
        public var region: String
        public var service: String
        /// `dci2_request` (date in `X-DCI-Date`) or `aws4_request` (date in `X-Amz-Date`).
        public var requestType: String
        /// Lower-case header names, in the order the client listed them.
        public var signedHeaders: [String]
        /// Lower-case hex HMAC the client sent.
        public var signature: String
        /// `YYYYMMDDTHHMMSSZ` from `X-Amz-Date` or else `X-DCI-Date`.
        public var timestamp: String

        public init(
            algorithm: String = "DCI2-HMAC-SHA256",
            clientType: String,
            clientID: String,
            datestamp: String,
            region: String = "BHS3",
            service: String = "api",
            requestType: String = "dci2_request",
            signedHeaders: [String] = ["host", "x-dci-date"],
            signature: String = "",
            timestamp: String
        ) {
            self.algorithm = algorithm
            self.clientType = clientType
            self.clientID = clientID
            self.datestamp = datestamp
            self.region = region
            self.service = service
            self.requestType = requestType
            self.signedHeaders = signedHeaders
            self.signature = signature
            self.timestamp = timestamp
        }

        /// `<datestamp>/<region>/<service>/<request type>`.
        public var scope: String { "\(datestamp)/\(region)/\(service)/\(requestType)" }
    }

    /// The parts of a received request that the signature covers.
    public struct Request: Sendable {
        public var method: String
        /// The path exactly as received (still percent-encoded), prefix included.
        public var path: String
        /// The raw query string after `?`, or nil.
        public var query: String?
        /// Header values by lower-case name (`host` is the received Host/authority).
        public var headers: [String: String]
        public var body: [UInt8]

        public init(method: String, path: String, query: String?, headers: [String: String], body: [UInt8]) {
            self.init(
                method: method,
                path: path,
                query: query,
                lowercasedHeaders: Dictionary(
                    headers.map { ($0.key.lowercased(), $0.value) },
                    uniquingKeysWith: { first, _ in first }
                ),
                body: body
            )
        }

        /// For headers whose names are lower case already (HTTP field names as `canonicalName` gives them).
        init(method: String, path: String, query: String?, lowercasedHeaders: [String: String], body: [UInt8]) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = lowercasedHeaders
            self.body = body
        }
    }

    /// Why a signature was refused; the messages follow dciauth's (`signature is expired`, ...).
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Reason: String, Sendable, Equatable {
            /// The headers cannot be parsed (DCI answers 400 "bad or incomplete headers").
            case malformed
            /// The signed time is more than ``maxClockSkew`` away from now.
            case expired
            /// The recomputed signature differs.
            case invalid
        }

        public var reason: Reason
        public var message: String

        public init(_ reason: Reason, _ message: String) {
            self.reason = reason
            self.message = message
        }

        public var description: String { message }

        static let malformed = Failure(.malformed, "bad or incomplete headers")
    }

    /// Whether an `Authorization` value uses one of the HMAC schemes (the first space-separated token).
    public static func isSignatureScheme(_ authorization: String) -> Bool {
        let scheme = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return algorithms.contains(String(scheme))
    }

    /// Parses `Authorization` and the date header the way `dciauth.v2.headers.parse_headers` does: exactly four
    /// space-separated tokens, a six-part credential, a known request type, and every signed header present.
    ///
    /// - Parameter headers: header values by name (any case).
    /// - Throws: ``Failure`` `.malformed`.
    public static func parse(headers: [String: String]) throws(Failure) -> Credential {
        try parse(
            lowercased: Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        )
    }

    /// ``parse(headers:)`` of headers whose names are lower case already (a ``Request``'s).
    static func parse(lowercased lower: [String: String]) throws(Failure) -> Credential {
        guard let timestamp = lower["x-amz-date"] ?? lower["x-dci-date"], let authorization = lower["authorization"]
        else {
            throw .malformed
        }
        let tokens = authorization.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard tokens.count == 4, algorithms.contains(tokens[0]) else { throw .malformed }
        let scope = between(tokens[1], "Credential=", ",").split(separator: "/", omittingEmptySubsequences: false)
            .map(String.init)
        guard scope.count == 6, ["dci2_request", "aws4_request"].contains(scope[5]) else { throw .malformed }
        let signedHeaders = between(tokens[2], "SignedHeaders=", ",").split(
            separator: ";",
            omittingEmptySubsequences: false
        )
        .map { String($0).lowercased() }
        guard !signedHeaders.isEmpty, signedHeaders.allSatisfy({ lower[$0] != nil }) else { throw .malformed }
        guard parseTimestamp(timestamp) != nil else { throw .malformed }
        return Credential(
            algorithm: tokens[0],
            clientType: scope[0],
            clientID: scope[1],
            datestamp: scope[2],
            region: scope[3],
            service: scope[4],
            requestType: scope[5],
            signedHeaders: signedHeaders,
            signature: tokens[3].hasPrefix("Signature=") ? String(tokens[3].dropFirst(10)) : tokens[3],
            timestamp: timestamp
        )
    }

    /// Checks a parsed credential against the request and the client's secret.
    ///
    /// - Parameters:
    ///   - now: the server's clock (injectable for tests).
    /// - Throws: ``Failure`` `.expired` or `.invalid`.
    public static func verify(_ request: Request, credential: Credential, secret: String, now: Date = Date())
        throws(Failure)
    {
        guard let signedAt = parseTimestamp(credential.timestamp) else { throw .malformed }
        guard abs(now.timeIntervalSince(signedAt)) <= maxClockSkew else {
            throw Failure(.expired, "signature is expired")
        }
        let expected = signature(for: request, credential: credential, secret: secret)
        guard Credentials.constantTimeEqual(expected, credential.signature) else {
            throw Failure(.invalid, "signature is invalid")
        }
    }

    /// Parses the headers and verifies in one step; returns the credential so the caller knows who signed.
    ///
    /// - Parameter secret: looks up the client's secret from its type and id; nil means an unknown client.
    public static func authenticate(
        _ request: Request,
        now: Date = Date(),
        secret: (Credential) async throws -> String?
    ) async throws -> Credential {
        let credential = try parse(lowercased: request.headers)
        guard let key = try await secret(credential) else {
            throw Failure(.invalid, "identity does not exists.")
        }
        try verify(request, credential: credential, secret: key, now: now)
        return credential
    }

    /// The lower-case hex signature of a request for a credential (its `signature` is ignored).
    public static func signature(for request: Request, credential: Credential, secret: String) -> String {
        let canonical = canonicalRequest(request, credential: credential)
        let toSign = stringToSign(canonicalRequest: canonical, credential: credential)
        let key = SymmetricKey(data: signingKeys.key(secret: secret, credential: credential))
        return Credentials.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
    }

    /// The signing keys derived lately: a key is the same for every request of a client on the same day, and
    /// deriving it is four HMACs.
    static let signingKeys = SigningKeys()

    /// Signs a request the way dciclient does and returns the headers to add (`X-DCI-Date`, `Authorization`).
    /// Used by tests and benchmarks; the request's `host` header must be set.
    public static func sign(
        _ request: Request,
        clientType: String = "remoteci",
        clientID: String,
        secret: String,
        at date: Date = Date()
    ) -> [String: String] {
        let timestamp = format(date)
        var request = request
        request.headers["x-dci-date"] = timestamp
        var credential = Credential(
            clientType: clientType,
            clientID: clientID,
            datestamp: String(timestamp.prefix(8)),
            timestamp: timestamp
        )
        credential.signature = signature(for: request, credential: credential, secret: secret)
        let authorization =
            "\(credential.algorithm) Credential=\(clientType)/\(clientID)/\(credential.scope), "
            + "SignedHeaders=\(credential.signedHeaders.joined(separator: ";")), Signature=\(credential.signature)"
        return ["X-DCI-Date": timestamp, "Authorization": authorization]
    }

    // MARK: The algorithm

    /// `METHOD \n path \n query \n headers \n signed headers \n sha256(body)`; the headers block ends in `\n`,
    /// so there is an empty line before the signed-header list.
    public static func canonicalRequest(_ request: Request, credential: Credential) -> String {
        var headerBlock = ""
        for name in credential.signedHeaders {
            headerBlock += "\(name):\(request.headers[name] ?? "")\n"
        }
        return [
            request.method.uppercased(),
            FormDecoding.percentDecode(pathOnly(request.path)),
            canonicalQuery(request.query),
            headerBlock,
            credential.signedHeaders.joined(separator: ";"),
            Credentials.hex(SHA256.hash(data: request.body)),
        ].joined(separator: "\n")
    }

    public static func stringToSign(canonicalRequest: String, credential: Credential) -> String {
        [
            credential.algorithm, credential.timestamp, credential.scope,
            Credentials.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
    }

    /// `HMAC("DCI2" + secret, date) → region → service → request type` (raw digests chained).
    public static func signingKey(secret: String, credential: Credential) -> [UInt8] {
        // The algorithm is one of ``algorithms``: its name less the suffix ("DCI", "AWS4").
        let prefix =
            credential.algorithm.hasSuffix("-HMAC-SHA256")
            ? String(credential.algorithm.dropLast("-HMAC-SHA256".count)) : credential.algorithm
        var key = Array((prefix + secret).utf8)
        for part in [credential.datestamp, credential.region, credential.service, credential.requestType] {
            key = Array(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }

    /// The canonical query string from a raw query, with Python's `dict(parse_qsl(q))` then
    /// `quote(s, safe="_.-~")` semantics (what the client signed).
    public static func canonicalQuery(_ raw: String?) -> String {
        var values: [String: String] = [:]
        var order: [String] = []
        for (key, value) in FormDecoding.pairs(raw, keepBlank: false) {
            if values[key] == nil { order.append(key) }
            values[key] = value
        }
        return order.map { (encode($0), encode(values[$0] ?? "")) }
            .sorted { $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    // MARK: Helpers

    /// Python's `quote(s, safe="_.-~")`: letters, digits and `_.-~` stay, every other UTF-8 byte is `%XX`.
    static func encode(_ text: String) -> String { Credentials.percentEncodedUnreserved(text) }

    /// The path without any query (a caller may pass the full request target).
    private static func pathOnly(_ path: String) -> String {
        guard let mark = path.firstIndex(of: "?") else { return path }
        return String(path[..<mark])
    }

    /// The text between `first` and the next `last`, or "" (dciauth's `_find_in_str_between`).
    private static func between(_ text: String, _ first: String, _ last: String) -> String {
        // Byte searches: Foundation's `range(of:)` goes through CFString, on every signed request.
        let bytes = Array(text.utf8)
        guard let start = firstOffset(of: Array(first.utf8), in: bytes, from: 0) else { return "" }
        let valueStart = start + first.utf8.count
        guard let end = firstOffset(of: Array(last.utf8), in: bytes, from: valueStart) else { return "" }
        return String(decoding: bytes[valueStart..<end], as: UTF8.self)
    }

    /// Where `needle` first occurs in `bytes` at or after `from`.
    private static func firstOffset(of needle: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count else { return needle.isEmpty ? from : nil }
        var offset = from
        while offset + needle.count <= bytes.count {
            if bytes[offset] == needle[0], bytes[offset..<offset + needle.count].elementsEqual(needle) { return offset }
            offset += 1
        }
        return nil
    }

    /// `YYYYMMDDTHHMMSSZ` as a date (UTC), or nil when it is not exactly that.
    public static func parseTimestamp(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        guard chars.count == 16, chars[8] == UInt8(ascii: "T"), chars[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in chars[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15),
            let seconds = Timestamp.civil(
                year: year,
                month: month,
                day: day,
                hour: hour,
                minute: minute,
                second: second
            )
        else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// A date as `YYYYMMDDTHHMMSSZ` (UTC).
    public static func format(_ date: Date) -> String { Credentials.basicUTCStamp(date) }
}

/// Signing keys by what they are derived from, kept until a few thousand are known (then forgotten at once: a
/// key is derived again in microseconds).
final class SigningKeys: Sendable {
    private static let capacity = 4096
    private let keys = Mutex<[String: [UInt8]]>([:])

    func key(secret: String, credential: DCISignature.Credential) -> [UInt8] {
        let name = [
            credential.algorithm, credential.datestamp, credential.region, credential.service,
            credential.requestType, secret,
        ].joined(separator: "\u{0}")
        if let key = keys.withLock({ $0[name] }) { return key }
        let key = DCISignature.signingKey(secret: secret, credential: credential)
        keys.withLock { keys in
            if keys.count >= Self.capacity { keys.removeAll(keepingCapacity: true) }
            keys[name] = key
        }
        return key
    }
}
