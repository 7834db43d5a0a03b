import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Random words for row ids and etags: the system's randomness, drawn 4 KiB at a time.
///
/// Why: `SystemRandomNumberGenerator` makes a `getrandom` system call per word, and a new row takes four (its id
/// and its etag), so a JUnit file of a few dozen cases cost a hundred system calls per upload. The words are the
/// same system randomness, only fetched in bulk. Secrets (tokens, salts) still draw from the system directly.
public struct BufferedRandom: RandomNumberGenerator {
    public init() {}

    public mutating func next() -> UInt64 {
        Self.pool.withLock { $0.next() }
    }

    private static let pool = Mutex(Pool())

    #if canImport(Glibc)
        /// glibc's `getrandom`, looked up by name: <sys/random.h> is not in Swift's Glibc module.
        typealias GetRandom = @convention(c) (UnsafeMutableRawPointer?, Int, UInt32) -> Int
        static let getrandom: GetRandom? = dlsym(
            UnsafeMutableRawPointer(bitPattern: 0),
            "getrandom"
        )
        .map { unsafeBitCast($0, to: GetRandom.self) }
    #endif

    private struct Pool: ~Copyable {
        static let size = 512
        var words = [UInt64](repeating: 0, count: size)
        var used = size

        mutating func next() -> UInt64 {
            if used == words.count { refill() }
            used += 1
            return words[used - 1]
        }

        private mutating func refill() {
            #if canImport(Glibc)
                let filled = words.withUnsafeMutableBytes { buffer -> Bool in
                    guard let getrandom = BufferedRandom.getrandom else { return false }
                    var offset = 0
                    while offset < buffer.count {
                        let count = getrandom(buffer.baseAddress! + offset, buffer.count - offset, 0)
                        if count > 0 {
                            offset += count
                        } else if count < 0, errno == EINTR {
                            continue
                        } else {
                            return false
                        }
                    }
                    return true
                }
                if filled {
                    used = 0
                    return
                }
            #endif
            var system = SystemRandomNumberGenerator()
            for index in words.indices { words[index] = system.next() }
            used = 0
        }
    }
}
