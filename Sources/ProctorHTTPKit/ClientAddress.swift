import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Who a request comes from, as the limiter of failed logins (``LoginThrottle``) counts it: the peer's address,
/// or, when the peer is one of the configured trusted proxies, the address its `X-Forwarded-For` names.
///
/// The key of an IPv4 address is the address; of an IPv6 address its /64 network (one host usually holds a
/// whole /64, so counting single IPv6 addresses would give it billions of fresh keys); an IPv4-mapped IPv6
/// address counts as its IPv4 address. A forwarded header from any peer that is not a trusted proxy is ignored:
/// a client could otherwise name a new address on every attempt.
public struct ClientAddresses: Sendable {
    /// Trusted proxies, canonical addresses.
    package let trusted: Set<String>

    /// - Parameters:
    ///   - trustedProxies: exact IP addresses of reverse proxies whose `X-Forwarded-For` is believed.
    public init(trustedProxies: [String] = []) {
        self.trusted = Set(
            trustedProxies.compactMap { text in
                let address = try? SocketAddress(ipAddress: text.trimmingCharacters(in: .whitespaces), port: 0)
                return address.flatMap(Self.canonical)
            }
        )
    }

    public init(_ configuration: AppConfiguration) {
        self.init(trustedProxies: configuration.trustedProxies)
    }

    /// Whether no proxy is trusted (an address that does not parse is dropped).
    public var isEmpty: Bool { trusted.isEmpty }

    package static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// The key a request's client is counted under.
    public func key(_ request: Request, _ context: some RemoteAddressRequestContext) -> String {
        key(peer: context.remoteAddress, forwardedFor: request.headers[values: Self.forwardedFor])
    }

    /// The key for a peer and the `X-Forwarded-For` values it sent: the nearest forwarded hop that is not a trusted
    /// proxy, when the peer is a trusted proxy; the peer itself otherwise.
    public func key(peer: SocketAddress?, forwardedFor: [String]) -> String {
        guard let peer, let canonicalPeer = Self.canonical(peer) else { return peer.map(Self.key) ?? "unknown" }
        guard trusted.contains(canonicalPeer) else { return Self.key(peer) }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard let address = try? SocketAddress(ipAddress: hop, port: 0), let canonical = Self.canonical(address)
            else {
                break  // not an address: nothing further left is trustworthy
            }
            if trusted.contains(canonical) { continue }
            return Self.key(address)
        }
        return Self.key(peer)
    }

    /// An address as counted: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 as its /64, a Unix socket as `unix`.
    public static func key(_ address: SocketAddress) -> String {
        switch address {
        case .v4: return address.ipAddress ?? "unknown"
        case .v6:
            guard let bytes = ipv6Bytes(address) else { return address.ipAddress ?? "unknown" }
            if let mapped = mappedIPv4(bytes) { return mapped }
            let groups = stride(from: 0, to: 8, by: 2).map {
                String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
            }
            return groups.joined(separator: ":") + "::/64"
        case .unixDomainSocket: return "unix"
        }
    }

    /// The 16 bytes of an IPv6 address, read back from its text.
    private static func ipv6Bytes(_ address: SocketAddress) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard let text = address.ipAddress, inet_pton(AF_INET6, text, &bytes) == 1 else { return nil }
        return bytes
    }

    /// The full address as text (IPv4-mapped IPv6 as IPv4), to compare with the trusted proxies; nil for a Unix socket.
    package static func canonical(_ address: SocketAddress) -> String? {
        switch address {
        case .v4: return address.ipAddress
        case .v6:
            return ipv6Bytes(address).flatMap(mappedIPv4) ?? address.ipAddress
        case .unixDomainSocket: return nil
        }
    }

    private static func mappedIPv4(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else {
            return nil
        }
        return bytes[12...].map { String($0) }.joined(separator: ".")
    }
}
