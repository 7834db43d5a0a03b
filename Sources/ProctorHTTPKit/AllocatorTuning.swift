#if canImport(Glibc)
    import Glibc
#endif

/// The C allocator's settings for a server process.
///
/// glibc serves every block over 128 KiB with a fresh `mmap` and, once such a block is freed, gives the pages back:
/// a 200 KB response (a DCI job page with embeds) then page-faults in every one of its pages, twice (the JSON
/// written, then copied into the response buffer), on every request. Measured with `proctor-bench --dci`: 59 page
/// faults per embedded page, about 3 with the settings below. Blocks up to ``mmapThreshold`` come from the heap,
/// and up to ``trimThreshold`` of free heap is kept for the next request.
package enum AllocatorTuning {
    package static let mmapThreshold: Int32 = 4 << 20
    package static let trimThreshold: Int32 = 16 << 20

    /// Applies the settings where the C library is glibc (elsewhere the allocator is left as it is). Called once,
    /// first thing, by `proctor serve` and the benchmarks that measure it.
    package static func apply() {
        #if canImport(Glibc)
            // `mallopt` is declared in <malloc.h>, which Swift's Glibc module leaves out: looked up by name. Its
            // option numbers are glibc's ABI (M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3).
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
            let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
            _ = mallopt(-3, mmapThreshold)
            _ = mallopt(-1, trimThreshold)
        #endif
    }
}
