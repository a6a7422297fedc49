import NIOCore

/// One unit read from an MLLP connection.
public enum MLLPInbound: Sendable, Equatable {
    /// A complete frame's content (between `0x0B` and `0x1C 0x0D`).
    case message([UInt8])
    /// A frame larger than the limit. Its content is discarded; `prefix` keeps its first bytes
    /// so the acknowledgement can still name the message (MSH-10).
    case oversize(prefix: [UInt8], size: Int)
    /// The connection ended inside a frame.
    case truncated(prefix: [UInt8])
}

/// MLLP framing (HL7 v2 MLLP release 1/2): `<VT> message <FS><CR>`.
///
/// Lenient where senders are sloppy and strict where it matters: bytes between frames (stray
/// CR/LF, keep-alive noise) are skipped; a frame larger than `maxMessageBytes` is reported as
/// `.oversize` and discarded up to its end block, so the connection stays usable.
public struct MLLPFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = MLLPInbound

    static let startBlock: UInt8 = 0x0B
    static let endBlock: UInt8 = 0x1C
    static let carriageReturn: UInt8 = 0x0D
    /// How much of an oversize frame is kept to build its acknowledgement.
    static let prefixBytes = 4096

    let maxMessageBytes: Int
    /// Bytes of the current oversize frame already discarded; `nil` when not discarding.
    private var discarding: (prefix: [UInt8], size: Int)?

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if discarding != nil { return discardOversize(context: context, buffer: &buffer) }

        // Skip anything before the start block.
        guard let start = buffer.readableBytesView.firstIndex(of: Self.startBlock) else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        buffer.moveReaderIndex(to: start)
        let body = buffer.readableBytesView.dropFirst()
        if let end = endOfFrame(in: body) {
            let length = end - body.startIndex
            guard length <= maxMessageBytes else {
                let prefix = Array(body.prefix(Self.prefixBytes))
                buffer.moveReaderIndex(to: end + 2)
                context.fireChannelRead(wrapInboundOut(.oversize(prefix: prefix, size: length)))
                return .continue
            }
            let message = Array(body[body.startIndex..<end])
            buffer.moveReaderIndex(to: end + 2)
            context.fireChannelRead(wrapInboundOut(.message(message)))
            return .continue
        }
        if body.count > maxMessageBytes {
            // Too large already: stop buffering it, keep only a prefix, drop the rest as it comes.
            discarding = (Array(body.prefix(Self.prefixBytes)), body.count)
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        return .needMoreData
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        let state = try decode(context: context, buffer: &buffer)
        guard state == .needMoreData else { return state }
        if let (prefix, _) = discarding {
            discarding = nil
            context.fireChannelRead(wrapInboundOut(.truncated(prefix: prefix)))
        } else if let start = buffer.readableBytesView.firstIndex(of: Self.startBlock) {
            let prefix = Array(buffer.readableBytesView[(start + 1)...].prefix(Self.prefixBytes))
            context.fireChannelRead(wrapInboundOut(.truncated(prefix: prefix)))
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    /// Drops the rest of an oversize frame; reports it once its end block arrives.
    private mutating func discardOversize(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        guard var (prefix, size) = discarding else { return .continue }
        let view = buffer.readableBytesView
        // The end block may straddle reads: a lone FS at the end waits for its CR.
        if let end = endOfFrame(in: view) {
            size += end - view.startIndex
            buffer.moveReaderIndex(to: end + 2)
            discarding = nil
            context.fireChannelRead(wrapInboundOut(.oversize(prefix: prefix, size: size)))
            return .continue
        }
        let keep = view.last == Self.endBlock ? 1 : 0
        size += view.count - keep
        if prefix.count < Self.prefixBytes { prefix += view.prefix(Self.prefixBytes - prefix.count) }
        discarding = (prefix, size)
        buffer.moveReaderIndex(to: buffer.writerIndex - keep)
        return .needMoreData
    }

    /// Index of the `FS` of the first `FS CR` pair.
    private func endOfFrame(in bytes: ByteBufferView) -> Int? {
        var index = bytes.startIndex
        while let fs = bytes[index...].firstIndex(of: Self.endBlock) {
            let next = fs + 1
            guard next < bytes.endIndex else { return nil }
            if bytes[next] == Self.carriageReturn { return fs }
            index = next
        }
        return nil
    }
}

/// Wraps an outgoing acknowledgement in MLLP's start and end blocks.
public struct MLLPFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = [UInt8]

    public init() {}

    public func encode(data: [UInt8], out: inout ByteBuffer) throws {
        out.reserveCapacity(data.count + 3)
        out.writeInteger(MLLPFrameDecoder.startBlock)
        out.writeBytes(data)
        out.writeInteger(MLLPFrameDecoder.endBlock)
        out.writeInteger(MLLPFrameDecoder.carriageReturn)
    }
}
