import NIOCore

/// One unit read from a newline-delimited connection.
public enum LineInbound: Sendable, Equatable {
    /// A line's bytes, without its `\n` (and without a `\r` before it).
    case line([UInt8])
    /// A line longer than the limit: its bytes were discarded as they came, up to its `\n`.
    case oversize(size: Int)
}

/// Newline-delimited framing (`\n`, optionally `\r\n`), the way CAD systems push JSON events.
///
/// Empty lines (keep-alives) are skipped. A line longer than `maxLineBytes` is never buffered
/// whole: its bytes are dropped as they arrive and it is reported once as `.oversize` when its
/// newline comes, so the connection stays usable for the next line. A last line without a
/// newline before the connection closes is delivered as a line.
public struct LineFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = LineInbound

    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D

    let maxLineBytes: Int
    /// Bytes of the current oversize line dropped so far; nil when not discarding.
    private var discarded: Int?

    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let end = view.firstIndex(of: Self.newline) else {
            if let dropped = discarded {
                discarded = dropped + view.count
                buffer.moveReaderIndex(to: buffer.writerIndex)
            } else if view.count > maxLineBytes + 1 {  // + 1: a `\r` may still precede the newline
                discarded = view.count
                buffer.moveReaderIndex(to: buffer.writerIndex)
            }
            return .needMoreData
        }
        let length = end - view.startIndex
        buffer.moveReaderIndex(to: end + 1)
        if let dropped = discarded {
            discarded = nil
            context.fireChannelRead(wrapInboundOut(.oversize(size: dropped + length)))
            return .continue
        }
        var line = view[view.startIndex..<end]
        if line.last == Self.carriageReturn { line = line.dropLast() }
        if line.count > maxLineBytes {
            context.fireChannelRead(wrapInboundOut(.oversize(size: length)))
        } else if !line.isEmpty {
            context.fireChannelRead(wrapInboundOut(.line(Array(line))))
        }
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if let dropped = discarded {
            discarded = nil
            context.fireChannelRead(wrapInboundOut(.oversize(size: dropped + buffer.readableBytes)))
        } else if buffer.readableBytes > 0 {
            var rest = Array(buffer.readableBytesView)
            if rest.last == Self.carriageReturn { rest.removeLast() }
            if !rest.isEmpty { context.fireChannelRead(wrapInboundOut(.line(rest))) }
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}

/// Writes each answer followed by `\n`.
public struct LineFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = [UInt8]

    public init() {}

    public func encode(data: [UInt8], out: inout ByteBuffer) throws {
        out.reserveCapacity(data.count + 1)
        out.writeBytes(data)
        out.writeInteger(LineFrameDecoder.newline)
    }
}
