import Foundation
import Testing

@testable import ProctorCore

@Suite("Principal cache")
struct PrincipalCacheTests {
    let alice = Principal(kind: .user, id: "u1", name: "alice", isSiteAdmin: false, memberships: [])

    @Test("answers for the same generation until its lifetime ends")
    func hitsWithinLifetime() {
        let cache = PrincipalCache(lifetime: .seconds(60))
        cache.remember(alice, tokenHash: "h", generation: 3)
        #expect(cache.principal(tokenHash: "h", generation: 3) == alice)
        #expect(cache.principal(tokenHash: "other", generation: 3) == nil)
    }

    @Test("forgets an entry when the access generation moved (a token revoked, a membership changed)")
    func generationInvalidates() {
        let cache = PrincipalCache(lifetime: .seconds(60))
        cache.remember(alice, tokenHash: "h", generation: 3)
        #expect(cache.principal(tokenHash: "h", generation: 4) == nil)
        #expect(cache.principal(tokenHash: "h", generation: 3) == nil)
    }

    @Test("forgets an entry after its lifetime and when its token expires")
    func expiry() {
        let shortLived = PrincipalCache(lifetime: .zero)
        shortLived.remember(alice, tokenHash: "h", generation: 1)
        #expect(shortLived.principal(tokenHash: "h", generation: 1) == nil)

        var expiring = alice
        expiring.tokenExpiresAt = Timestamp.now() - 1
        let cache = PrincipalCache(lifetime: .seconds(60))
        cache.remember(expiring, tokenHash: "h", generation: 1)
        #expect(cache.principal(tokenHash: "h", generation: 1) == nil)
    }

    @Test("stays bounded: a full cache starts over")
    func bounded() {
        let cache = PrincipalCache(lifetime: .seconds(60), capacity: 2)
        cache.remember(alice, tokenHash: "a", generation: 1)
        cache.remember(alice, tokenHash: "b", generation: 1)
        cache.remember(alice, tokenHash: "c", generation: 1)
        #expect(cache.principal(tokenHash: "a", generation: 1) == nil)
        #expect(cache.principal(tokenHash: "c", generation: 1) == alice)
    }
}
