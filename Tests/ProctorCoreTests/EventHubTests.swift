import Foundation
import ProctorCore
import Testing

/// Claimers and running jobs wait for changes to runs; log followers for any change. A log line must not wake
/// every agent long-polling for a run (each would query the queue for nothing), and a run change must wake both.
@Suite struct EventHubTests {
    /// Whether a waiter has returned.
    private actor Flag {
        var isSet = false
        func set() { isSet = true }
    }

    @Test func aLogLineWakesFollowersButNotClaimers() async throws {
        let hub = EventHub()
        let seen = await hub.generation
        let runsSeen = await hub.runGeneration
        let claimerReturned = Flag()
        let claimer = Task {
            let start = ContinuousClock.now
            await hub.waitForRuns(after: runsSeen, timeout: .seconds(60))
            await claimerReturned.set()
            return ContinuousClock.now - start
        }
        let follower = Task { await hub.wait(after: seen, timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(100))
        await hub.publish(.logs)
        await follower.value
        #expect(await hub.generation == seen + 1)
        #expect(await hub.runGeneration == runsSeen)
        try await Task.sleep(for: .milliseconds(200))
        #expect(await claimerReturned.isSet == false, "a log line woke a claimer")
        await hub.publish(.runs)
        let waited = await claimer.value
        #expect(await hub.runGeneration == runsSeen + 1)
        // Woken by the change, well before its 60 s timeout.
        #expect(waited < .seconds(50))
    }

    @Test func aRunChangeWakesEveryone() async throws {
        let hub = EventHub()
        let seen = await hub.generation
        let runsSeen = await hub.runGeneration
        let claimer = Task { await hub.waitForRuns(after: runsSeen, timeout: .seconds(60)) }
        let follower = Task { await hub.wait(after: seen, timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(100))
        await hub.publish()
        await claimer.value
        await follower.value
        #expect(await hub.generation == seen + 1)
        #expect(await hub.runGeneration == runsSeen + 1)
    }
}
