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

    mutating func append(_ piece: String) {
        let count = piece.utf8.count
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

    /// The text, with a truncation marker when anything was dropped.
    var value: String {
        dropped == 0 ? text : text + "\n[… truncated \(dropped) bytes]"
    }
}
