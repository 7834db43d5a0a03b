import ProctorHTTPKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `proctor serve` tunes glibc's allocator so that a large response's buffer is reused from request to request
/// instead of being mapped afresh, and page-faulted in again, every time.
@Suite struct AllocatorTuningTests {
    #if os(Linux)
        /// Minor page faults taken by this thread so far.
        private func threadPageFaults() -> Int {
            var usage = rusage()
            // RUSAGE_THREAD (1), which Swift's Glibc module leaves out (it needs _GNU_SOURCE).
            getrusage(__rusage_who_t(1), &usage)
            return usage.ru_minflt
        }

        @Test func aLargeBufferIsReusedWithoutPageFaults() {
            AllocatorTuning.apply()
            let size = 512 << 10  // as a page of DCI jobs with every embed (200 KB) and more
            func useOnce() {
                let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
                block.initializeMemory(as: UInt8.self, repeating: 1, count: size)
                block.deallocate()
            }
            useOnce()
            let before = threadPageFaults()
            for _ in 0..<20 { useOnce() }
            // Untuned, glibc hands the freed pages back and faults them in again: 119 faults in these 20 rounds
            // here; tuned, 1.
            #expect(threadPageFaults() - before < 16)
        }
    #endif
}
