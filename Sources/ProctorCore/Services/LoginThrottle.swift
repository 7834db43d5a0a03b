import Synchronization

/// The server's one limiter of failed password attempts, counted per user name and per client address, so that
/// guessing passwords through any door (the native login, the dashboard's form, CDRouter's `authenticate`, DCI's
/// HTTP Basic) gets a few guesses per window, not thousands.
///
/// Every password check runs through ``attempt(user:address:_:)``, which counts the attempt under two keys: the
/// user name it names and the client address it comes from. A key is **locked** while it has as many failures
/// as its limit within the last ``Limits/windowSeconds`` (a sliding window: each failure is remembered for one
/// window, then forgotten). While either key of an attempt is locked the attempt is refused with
/// ``ProctorError/Code/tooManyRequests`` before the password is even looked at, so even the right password is
/// refused; the error's ``ProctorError/retryAfter`` is the seconds until the oldest of those failures leaves
/// the window.
///
/// - Only a wrong password (an `unauthorized` answer) counts; a refused attempt does not (so an attacker cannot
///   keep a user locked out beyond the window by hammering it), nor does a store failure.
/// - A success resets nothing: the per-address count would otherwise be reset by the attacker's own account,
///   and the per-user one by a client that sends the right password on every request (DCI Basic) while
///   someone else guesses from elsewhere.
/// - An attempt in flight counts against the limits until it is decided, so that many concurrent guesses
///   cannot all pass the check before the first one fails. A refusal caused only by attempts in flight says
///   `Retry-After: 1`.
/// - Memory is bounded: each table (user names, addresses) tracks at most ``Limits/maxTrackedKeys`` keys and
///   keeps at most `limit` failure times per key; when a table is full, keys with no failure left in the window
///   go first, then unlocked keys, then locked ones, oldest first.
/// - The counts live in this process: each replica of a deployment counts its own, so behind a load balancer
///   spreading requests over `n` replicas an attacker gets up to `n` times the limits.
public final class LoginThrottle: Sendable {
    /// How many failures a key may have within a window.
    public struct Limits: Sendable, Equatable {
        /// Failed attempts per user name within a window (default 10).
        public var failuresPerUser: Int
        /// Failed attempts per client address within a window (default 50).
        public var failuresPerAddress: Int
        /// The sliding window, in seconds (default 900: 15 minutes).
        public var windowSeconds: Int
        /// The most keys each table tracks (default 100 000 user names and as many addresses).
        public var maxTrackedKeys: Int

        public init(
            failuresPerUser: Int = 10,
            failuresPerAddress: Int = 50,
            windowSeconds: Int = 900,
            maxTrackedKeys: Int = 100_000
        ) {
            self.failuresPerUser = max(1, failuresPerUser)
            self.failuresPerAddress = max(1, failuresPerAddress)
            self.windowSeconds = max(1, windowSeconds)
            self.maxTrackedKeys = max(1, maxTrackedKeys)
        }
    }

    /// One key's recent failures (seconds on the throttle's clock, ascending, at most `limit` of them) and its
    /// attempts in flight.
    struct Entry {
        var failures: [UInt32] = []
        var pending = 0
        var lastSeen: UInt32 = 0
    }

    /// The keys of one kind (user names or addresses) with their limit.
    struct Table {
        let limit: Int
        var entries: [String: Entry] = [:]

        init(limit: Int) { self.limit = limit }

        /// Seconds until the key may try again, or nil when it may now.
        mutating func refusal(_ key: String, now: UInt32, window: UInt32) -> Int? {
            guard var entry = entries[key] else { return nil }
            entry.failures.removeAll { $0 &+ window <= now }
            if entry.failures.isEmpty, entry.pending == 0 {
                entries[key] = nil
                return nil
            }
            entries[key] = entry
            guard entry.failures.count + entry.pending >= limit else { return nil }
            if entry.failures.count >= limit {
                let oldest = entry.failures[entry.failures.count - limit]
                return max(1, Int(oldest &+ window) - Int(now))
            }
            return 1
        }

        mutating func begin(_ key: String, now: UInt32, window: UInt32, capacity: Int) {
            if entries[key] == nil, entries.count >= capacity { evict(now: now, window: window, capacity: capacity) }
            entries[key, default: Entry()].pending += 1
            entries[key]?.lastSeen = now
        }

        /// Ends an attempt in flight; a failure is remembered.
        mutating func end(_ key: String, failed: Bool, now: UInt32) {
            guard var entry = entries[key] else { return }  // evicted meanwhile
            entry.pending = max(0, entry.pending - 1)
            if failed {
                entry.failures.append(now)
                if entry.failures.count > limit { entry.failures.removeFirst(entry.failures.count - limit) }
                entry.lastSeen = now
            }
            if entry.failures.isEmpty, entry.pending == 0 {
                entries[key] = nil
            } else {
                entries[key] = entry
            }
        }

        /// Makes room for at least a tenth of the capacity: keys without failures in the window first, then
        /// the least recently seen unlocked keys, then the least recently seen locked ones. Keys with attempts
        /// in flight stay.
        mutating func evict(now: UInt32, window: UInt32, capacity: Int) {
            entries = entries.filter { _, entry in entry.pending > 0 || entry.failures.contains { $0 &+ window > now } }
            let target = capacity - max(1, capacity / 10)
            guard entries.count > target else { return }
            let limit = self.limit
            let candidates = entries.filter { $0.value.pending == 0 }
                .map { (key: $0.key, locked: $0.value.failures.count >= limit, lastSeen: $0.value.lastSeen) }
                .sorted { ($0.locked ? 1 : 0, $0.lastSeen) < ($1.locked ? 1 : 0, $1.lastSeen) }
            for candidate in candidates.prefix(entries.count - target) { entries[candidate.key] = nil }
        }
    }

    struct State {
        var users: Table
        var addresses: Table
    }

    public let limits: Limits
    private let state: Mutex<State>
    private let origin: ContinuousClock.Instant
    /// The time since the throttle was made; tests move it by hand.
    private let elapsed: @Sendable (ContinuousClock.Instant) -> Duration

    /// - Parameters:
    ///   - elapsed: the time since `origin` (a test clock; by default the continuous clock).
    public init(limits: Limits = Limits(), elapsed: (@Sendable (ContinuousClock.Instant) -> Duration)? = nil) {
        self.limits = limits
        self.state = Mutex(
            State(users: Table(limit: limits.failuresPerUser), addresses: Table(limit: limits.failuresPerAddress))
        )
        self.origin = ContinuousClock.now
        self.elapsed = elapsed ?? { origin in ContinuousClock.now - origin }
    }

    /// The throttle's clock in whole seconds.
    private var now: UInt32 {
        UInt32(clamping: elapsed(origin).components.seconds)
    }

    /// The key a user name is counted under (long names are hashed, so that a key stays small).
    static func userKey(_ name: String) -> String {
        name.utf8.count <= 128 ? name : "sha256:" + Credentials.tokenHash(name)
    }

    /// Runs one password check under the limits: refused with `tooManyRequests` while the user name or the
    /// address is locked; otherwise `check` runs, and counts as a failure when it throws `unauthorized`.
    ///
    /// - Parameters:
    ///   - user: the user name the attempt names.
    ///   - address: the client address it comes from (the door's view: the peer, or what a trusted proxy says).
    public func attempt<T>(user: String, address: String, _ check: () async throws -> T) async throws -> T {
        try begin(user: user, address: address)
        do {
            let value = try await check()
            end(user: user, address: address, failed: false)
            return value
        } catch {
            end(user: user, address: address, failed: (error as? ProctorError)?.code == .unauthorized)
            throw error
        }
    }

    /// Refuses while the user name or the address is locked, without counting anything: for a check that
    /// needs no password work (a remembered correct password).
    public func checkNotLocked(user: String, address: String) throws {
        let now = self.now
        let window = UInt32(clamping: limits.windowSeconds)
        let userKey = Self.userKey(user)
        let wait = state.withLock { state in
            max(
                state.users.refusal(userKey, now: now, window: window) ?? 0,
                state.addresses.refusal(address, now: now, window: window) ?? 0
            )
        }
        if wait > 0 { throw Self.refusal(wait) }
    }

    private func begin(user: String, address: String) throws {
        let now = self.now
        let window = UInt32(clamping: limits.windowSeconds)
        let capacity = limits.maxTrackedKeys
        let userKey = Self.userKey(user)
        let wait: Int = state.withLock { state in
            let wait = max(
                state.users.refusal(userKey, now: now, window: window) ?? 0,
                state.addresses.refusal(address, now: now, window: window) ?? 0
            )
            if wait > 0 { return wait }
            state.users.begin(userKey, now: now, window: window, capacity: capacity)
            state.addresses.begin(address, now: now, window: window, capacity: capacity)
            return 0
        }
        if wait > 0 { throw Self.refusal(wait) }
    }

    private func end(user: String, address: String, failed: Bool) {
        let now = self.now
        let userKey = Self.userKey(user)
        state.withLock { state in
            state.users.end(userKey, failed: failed, now: now)
            state.addresses.end(address, failed: failed, now: now)
        }
    }

    static func refusal(_ seconds: Int) -> ProctorError {
        ProctorError.tooManyRequests(
            "too many failed login attempts; try again in \(seconds) second\(seconds == 1 ? "" : "s")",
            retryAfter: seconds
        )
    }

    /// How many keys each table tracks now (for tests and metrics).
    public var trackedKeys: (users: Int, addresses: Int) {
        state.withLock { ($0.users.entries.count, $0.addresses.entries.count) }
    }
}
