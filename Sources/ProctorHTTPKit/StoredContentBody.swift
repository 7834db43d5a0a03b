import Hummingbird
import NIOCore
import ProctorCore

extension ResponseBody {
    /// A stored file's bytes as a response body, read from the file store as the client takes them (never the
    /// whole file in memory), for every door that serves files.
    package static func streaming(_ content: StoredContent) -> ResponseBody {
        ResponseBody(contentLength: content.size) { writer in
            for try await chunk in content { try await writer.write(ByteBuffer(bytes: chunk)) }
            try await writer.finish(nil)
        }
    }
}
