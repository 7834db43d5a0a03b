/// A string that stops growing at a byte limit, so one huge `system-out` cannot blow up memory.
///
/// What does not fit is counted, and ``value`` ends with a marker naming how much was dropped.
struct CappedText {
    let limit: Int
    private(set) var text = ""
    private var bytes = 0
    private(set) var dropped = 0

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    var isEmpty: Bool { bytes == 0 && dropped == 0 }

    /// Appends `piece`, or as many of its leading characters as fit.
    ///
    /// Once something was cut, every later piece is dropped as well, so the kept text is always a prefix
    /// and the result does not depend on how the text was split into pieces.
    mutating func append(_ piece: String) {
        let count = piece.utf8.count
        if dropped > 0 {
            dropped += count
            return
        }
        if bytes + count <= limit {
            text += piece
            bytes += count
            return
        }
        // Keep whole scalars only, so the cut never splits a UTF-8 sequence.
        var room = limit - bytes
        var kept = String.UnicodeScalarView()
        for scalar in piece.unicodeScalars {
            let width = UTF8.width(scalar)
            if width > room { break }
            kept.append(scalar)
            room -= width
        }
        let keptBytes = (limit - bytes) - room
        text += String(kept)
        bytes += keptBytes
        dropped += count - keptBytes
    }

    /// ``append(_:)`` for valid UTF-8 bytes, without building a `String` for what is dropped.
    mutating func append(utf8 piece: UnsafeBufferPointer<UInt8>) {
        let count = piece.count
        if dropped > 0 {
            dropped += count
            return
        }
        var kept = min(count, limit - bytes)
        // Cut before a whole character: back up while the cut would land on a continuation byte.
        while kept > 0, kept < count, piece[kept] & 0xC0 == 0x80 { kept -= 1 }
        text += String(decoding: UnsafeBufferPointer(rebasing: piece[..<kept]), as: UTF8.self)
        bytes += kept
        dropped += count - kept
    }

    /// The text, with a truncation marker when anything was dropped.
    var value: String {
        dropped == 0 ? text : text + "\n[… truncated \(dropped) bytes]"
    }
}
