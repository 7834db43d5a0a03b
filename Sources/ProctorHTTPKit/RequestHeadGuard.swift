import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// How long a request's head may be. Beyond, the server answers at once, before the HTTP parser buffers the
/// rest: `414 URI Too Long` for the request line, `431 Request Header Fields Too Large` for the header fields.
/// Both stay under the HTTP parser's own limit (80 KiB), which would otherwise answer a bare 400 or, while the
/// client is still sending, nothing it could read.
public struct RequestHeadLimits: Sendable, Equatable {
    /// The longest request line (method, target and version), in bytes.
    public var maxRequestLine: Int
    /// The most bytes of header fields (every line after the request line).
    public var maxHeaderBytes: Int

    public init(maxRequestLine: Int = 64 << 10, maxHeaderBytes: Int = 64 << 10) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
    }
}

/// Follows the bytes of an HTTP/1.1 connection far enough to measure each request's head: it reads the head's
/// `Content-Length` to step over the body and measure the next head (keep-alive and pipelined requests alike).
/// A chunked or otherwise unmeasurable body ends the watch for the connection; the parser's limit still holds.
package struct RequestHeadScanner {
    package enum Verdict: Equatable {
        case fine
        case requestLineTooLong
        case headersTooLarge
    }

    private enum State: Equatable {
        case requestLine
        case headers
        case body(remaining: Int)
        case unwatched
    }

    package let limits: RequestHeadLimits
    private var state = State.requestLine
    private var lineLength = 0
    private var headerBytes = 0
    /// The start of the current header line, enough to recognise the fields that size the body.
    private var line: [UInt8] = []
    private var contentLength = 0
    private var measurable = true

    package init(limits: RequestHeadLimits) {
        self.limits = limits
        line.reserveCapacity(Self.keptPerLine)
    }

    /// `content-length: ` or `transfer-encoding: ` and a value fit in this.
    private static let keptPerLine = 96

    /// Reads the next bytes of the connection; the first verdict other than ``Verdict/fine`` is final.
    package mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        var index = 0
        while index < bytes.count {
            switch state {
            case .unwatched:
                return .fine
            case .body(let remaining):
                let skipped = min(remaining, bytes.count - index)
                index += skipped
                state = remaining == skipped ? .requestLine : .body(remaining: remaining - skipped)
                continue
            case .requestLine:
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    // Blank lines before a request are tolerated, as the parser does.
                    if lineLength > 0 { state = .headers }
                    lineLength = 0
                    continue
                }
                if byte != UInt8(ascii: "\r") { lineLength += 1 }
                if lineLength > limits.maxRequestLine { return .requestLineTooLong }
            case .headers:
                let byte = bytes[index]
                index += 1
                headerBytes += 1
                if headerBytes > limits.maxHeaderBytes { return .headersTooLarge }
                if byte == UInt8(ascii: "\n") {
                    if line.isEmpty {
                        endOfHead()
                    } else {
                        readField()
                    }
                    line.removeAll(keepingCapacity: true)
                } else if byte != UInt8(ascii: "\r"), line.count < Self.keptPerLine {
                    line.append(byte)
                }
            }
        }
        return .fine
    }

    /// Reads the fields that size the body; any other line is passed over without building a string (every
    /// request's `Host` and `Authorization` lines come through here, and Foundation's trimming of each was 5% of
    /// a GET's CPU).
    private mutating func readField() {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = line[..<colon]
        if Self.name(name, is: Self.contentLengthName) {
            var value = line[(colon + 1)...]
            while let first = value.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                value.removeFirst()
            }
            while let last = value.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
                value.removeLast()
            }
            if let length = Int(String(decoding: value, as: UTF8.self)), length >= 0,
                contentLength == 0 || contentLength == length
            {
                contentLength = length
            } else {
                measurable = false
            }
        } else if Self.name(name, is: Self.transferEncodingName) || Self.name(name, is: Self.upgradeName) {
            measurable = false
        }
    }

    private static let contentLengthName = Array("content-length".utf8)
    private static let transferEncodingName = Array("transfer-encoding".utf8)
    private static let upgradeName = Array("upgrade".utf8)

    /// Whether a field's name is `lowercased`, in any case (field names are ASCII tokens).
    private static func name(_ name: ArraySlice<UInt8>, is lowercased: [UInt8]) -> Bool {
        guard name.count == lowercased.count else { return false }
        for (byte, expected) in zip(name, lowercased) {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            if folded != expected { return false }
        }
        return true
    }

    private mutating func endOfHead() {
        state = !measurable ? .unwatched : contentLength > 0 ? .body(remaining: contentLength) : .requestLine
        headerBytes = 0
        contentLength = 0
    }
}

/// The first handler of every connection: measures request heads (``RequestHeadScanner``) and refuses an
/// oversized one at once with 414 or 431 in the native error shape, then closes its side of the connection and
/// reads (and drops) what the client still sends for a while, so that a client busy sending an 8 MiB line
/// reads the answer instead of a reset.
package final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias InboundOut = ByteBuffer

    private var scanner: RequestHeadScanner
    private var refused = false
    private var dropped = 0
    /// How long, and how much, a refused client may go on sending before the connection closes.
    package static let lingering = TimeAmount.seconds(10)
    package static let maxDropped = 64 << 20

    package init(limits: RequestHeadLimits) {
        self.scanner = RequestHeadScanner(limits: limits)
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if refused {
            dropped += buffer.readableBytes
            if dropped > Self.maxDropped { context.close(promise: nil) }
            return
        }
        let verdict = buffer.withUnsafeReadableBytes { scanner.scan($0) }
        switch verdict {
        case .fine:
            context.fireChannelRead(data)
        case .requestLineTooLong:
            refuse(
                context,
                status: "414 URI Too Long",
                code: "uri_too_long",
                message: "the request line is longer than \(scanner.limits.maxRequestLine) bytes"
            )
        case .headersTooLarge:
            refuse(
                context,
                status: "431 Request Header Fields Too Large",
                code: "header_fields_too_large",
                message: "the request's header fields are larger than \(scanner.limits.maxHeaderBytes) bytes"
            )
        }
    }

    private func refuse(_ context: ChannelHandlerContext, status: String, code: String, message: String) {
        refused = true
        let body = #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#
        let head =
            "HTTP/1.1 \(status)\r\nContent-Type: application/json; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        let response = context.channel.allocator.buffer(string: head + body)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapInboundOut(response)).whenComplete { _ in
            loopBound.value.close(mode: .output, promise: nil)
        }
        context.eventLoop.scheduleTask(in: Self.lingering) { loopBound.value.close(promise: nil) }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 whose request heads are measured before they are parsed (``RequestHeadGuard``).
    package static func http1(limits: RequestHeadLimits) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedHTTP1Channel(inner: HTTP1Channel(responder: responder), limits: limits)
        }
    }
}

/// Hummingbird's HTTP/1.1 channel with a ``RequestHeadGuard`` in front of its parser.
package struct GuardedHTTP1Channel: ServerChildChannel {
    package typealias Value = HTTP1Channel.Value
    package let inner: HTTP1Channel
    package let limits: RequestHeadLimits

    package func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestHeadGuard(limits: limits))
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    package func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
