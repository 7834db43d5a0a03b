import Crypto
import Foundation
import _CryptoExtras

/// Secrets handling: API tokens (random, stored as SHA-256) and passwords (PBKDF2-HMAC-SHA256).
public enum Credentials {
    /// PBKDF2 rounds for new password hashes (OWASP's figure for PBKDF2-HMAC-SHA256).
    public static let passwordRounds = 210_000

    /// A new API token: `pt_` and 40 random base32 characters (200 bits).
    public static func newToken() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        return "pt_" + String((0..<40).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] })
    }

    /// A random secret of the given byte length, as hex (HMAC secrets for remote CIs).
    public static func newSecret(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// What a token is stored as. Tokens are long and random, so a fast hash is enough.
    public static func tokenHash(_ token: String) -> String {
        var token = token
        let digest = token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return digest.withUnsafeBytes { hex($0) }
    }

    /// The first characters of a token, shown in listings so a user can tell tokens apart.
    public static func tokenPrefix(_ token: String) -> String {
        String(token.prefix(7))
    }

    /// `pbkdf2-sha256$<rounds>$<salt hex>$<hash hex>`.
    public static func hashPassword(_ password: String, rounds: Int = passwordRounds) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: 0...255, using: &generator) }
        let key = try derive(password, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(hex(salt))$\(key)"
    }

    /// Checks a password against a stored hash in constant time.
    public static func verifyPassword(_ password: String, hash: String) -> Bool {
        let parts = hash.split(separator: "$").map(String.init)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds >= 1000,
            rounds <= 10_000_000, let salt = bytes(fromHex: parts[2]),
            let derived = try? derive(password, salt: salt, rounds: rounds)
        else { return false }
        return constantTimeEqual(derived, parts[3])
    }

    private static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> String {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Data(password.utf8),
            salt: salt,
            using: .sha256,
            outputByteCount: 32,
            unsafeUncheckedRounds: rounds
        )
        return key.withUnsafeBytes { hex(Array($0)) }
    }

    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// Percent-encodes every byte of `text`'s UTF-8 but RFC 3986's unreserved `A-Z a-z 0-9 - . _ ~`, in upper-case
    /// hex: what request signatures canonicalise paths and queries with (DCI's HMAC, S3's SigV4; Python's
    /// `quote(s, safe="_.-~")`).
    public static func percentEncodedUnreserved(_ text: String) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A date as `YYYYMMDDTHHMMSSZ` (UTC, whole seconds), the stamp request signatures carry (`X-DCI-Date`,
    /// `x-amz-date`).
    public static func basicUTCStamp(_ date: Date) -> String {
        // The whole second's RFC 3339 text (`2019-08-13T19:08:54.000000Z`) without its separators and fraction.
        let text = Timestamp.rfc3339(micros: Int64(date.timeIntervalSince1970.rounded(.down)) * 1_000_000)
        return String(text.prefix(19).filter { $0 != "-" && $0 != ":" }) + "Z"
    }

    /// Lower-case hex. Written digit by digit into storage reserved once: every request with a token hashes it
    /// and writes the digest so (a table made per call and a growing array were 4,000 instructions a request).
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(hexDigit(byte >> 4))
            out.append(hexDigit(byte & 0x0F))
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") - 10 + value
    }

    static func bytes(fromHex text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let byte = UInt8(String(decoding: chars[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            out.append(byte)
            index += 2
        }
        return out
    }
}
