import Logging
import MedBusHL7
import MedBusKafka
import MedBusMLLP
import MedBusTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Delivers HL7 v2 records to an MLLP receiver (a hospital HIS, an ED system) over one TCP
/// connection, kept open between messages and reopened when dropped.
///
/// Each attempt sends the record's bytes unchanged in `0x0B … 0x1C 0x0D`, waits for the ACK and
/// checks that its MSA-2 is the sent MSH-10, so an answer can never be credited to the wrong
/// message. `AA`/`CA` mean delivered; `AE`/`CE` a refusal worth resending (HL7 says an application
/// error may clear); `AR`/`CR` a permanent refusal. No ACK within the timeout, or an ACK for
/// another control id, closes the connection — the ACK stream is no longer in step — and the
/// attempt is transient. The receiver deduplicates resends by MSH-10, which never changes.
///
/// With `tls`, the connection is MLLP over TLS: the record is sent only once the receiver's
/// certificate verified (a failed handshake is a transient failure in which nothing was sent).
///
/// MLLP carries one message at a time per connection, so lanes of several partitions take turns
/// on it, in arrival order; each lane still waits for its own ACK before its next record.
public final class MLLPDestination: OutboundTransport {
    public let host: String
    public let port: Int
    /// Longest one attempt may take: connecting, when needed, plus waiting for the ACK.
    public let timeout: Duration
    /// ACKs larger than this are treated as a broken stream.
    public let maxAckBytes: Int
    public let tls: TLSClientContext?

    private let group: EventLoopGroup
    private let logger: Logger
    private let gate = AsyncGate()
    private let connection = NIOLockedValueBox<Channel?>(nil)

    public init(
        host: String,
        port: Int,
        tls: TLSClientContext? = nil,
        timeout: Duration = .seconds(10),
        maxAckBytes: Int = 1 << 20,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "medbus.outbound.mllp")
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.timeout = timeout
        self.maxAckBytes = maxAckBytes
        self.group = group
        self.logger = logger
    }

    public var destination: String { "\(tls == nil ? "mllp" : "mllps")://\(host):\(port)" }

    public func deliver(_ record: KafkaConsumerMessage) async throws(DeliveryFailure) {
        let controlID = try Self.controlID(of: record)
        await gate.acquire()
        defer { gate.release() }
        let deadline = ContinuousClock.now + timeout
        let channel = try await connectedChannel(deadline: deadline)
        let answer = try await exchange(record.value ?? [], on: channel, deadline: deadline, controlID: controlID)
        try check(answer, controlID: controlID, channel: channel)
    }

    /// Closes the connection; the next delivery opens a new one.
    public func close() async {
        let channel = connection.withLockedValue { channel in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
    }

    deinit {
        connection.withLockedValue { $0?.close(promise: nil) }
    }

    // MARK: - Steps of one attempt

    /// MSH-10 of the record: what the ACK must name in MSA-2.
    static func controlID(of record: KafkaConsumerMessage) throws(DeliveryFailure) -> String {
        guard let value = record.value, !value.isEmpty else {
            throw .rejected(code: "INVALID", "record has no value to send", retriable: false)
        }
        let message: HL7Message
        do { message = try HL7Message(parsing: value) } catch {
            throw .rejected(code: "INVALID", "record is not an HL7 v2 message: \(error)", retriable: false)
        }
        guard message.segment(withID: "MSH") != nil, let controlID = message.msh.controlID, !controlID.isEmpty else {
            throw .rejected(code: "INVALID", "record has no MSH-10 control id", retriable: false)
        }
        return controlID
    }

    private func connectedChannel(deadline: ContinuousClock.Instant) async throws(DeliveryFailure) -> Channel {
        if let channel = connection.withLockedValue({ $0 }), channel.isActive { return channel }
        let remaining = deadline - .now
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(max(remaining.nanoseconds, 1_000_000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [maxAckBytes] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(MLLPFrameDecoder(maxMessageBytes: maxAckBytes)))
                    try sync.addHandler(MessageToByteHandler(MLLPFrameEncoder()))
                    try sync.addHandler(MLLPExchangeHandler())
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw .transient("cannot connect to \(destination): \(Self.describe(error))")
        }
        if let tls {
            do {
                _ = try await channel.startTLS(tls, host: host, deadline: deadline, logger: logger)
            } catch {
                channel.close(promise: nil)
                throw .transient("\(destination): \(error); nothing sent")
            }
        }
        connection.withLockedValue { $0 = channel }
        logger.debug("MLLP connection opened", metadata: ["destination": "\(destination)"])
        return channel
    }

    private func exchange(_ message: [UInt8], on channel: Channel, deadline: ContinuousClock.Instant, controlID: String) async throws(DeliveryFailure) -> [UInt8] {
        let remaining = max(deadline - .now, .milliseconds(1))
        let answer = channel.eventLoop.makePromise(of: [UInt8].self)
        // A write that never reaches the handler (channel already closed) fails the answer too.
        channel.writeAndFlush(MLLPExchange(message: message, answer: answer, timeout: .nanoseconds(remaining.nanoseconds)))
            .whenFailure { answer.fail($0) }
        do {
            return try await answer.futureResult.get()
        } catch {
            forget(channel)
            switch error {
            case MLLPExchangeError.timedOut:
                throw .transient("no ACK for \(controlID) within \(timeout); connection closed")
            case MLLPExchangeError.malformedAnswer:
                throw .transient("unexpected or malformed frame instead of the ACK for \(controlID); connection closed")
            case MLLPExchangeError.connectionClosed:
                throw .transient("connection closed before the ACK for \(controlID)")
            default:
                throw .transient("connection failed before the ACK for \(controlID): \(Self.describe(error))")
            }
        }
    }

    private func check(_ answer: [UInt8], controlID: String, channel: Channel) throws(DeliveryFailure) {
        guard let ack = try? HL7Message(parsing: answer), let msa = ack.segment(MSASegment.self) else {
            forget(channel, close: true)
            throw .transient("answer to \(controlID) is not an HL7 ACK with MSA; connection closed")
        }
        guard msa.controlID == controlID else {
            forget(channel, close: true)
            throw .transient("ACK names control id \(msa.controlID ?? "-"), expected \(controlID); connection closed")
        }
        let code = msa.acknowledgmentCode ?? ""
        let text = ack.segment(withID: "ERR") != nil ? " (ERR present)" : ""
        switch HL7AckCode(rawValue: code) {
        case .applicationAccept, .commitAccept:
            return
        case .applicationError, .commitError:
            throw .rejected(code: code, "receiver answered \(code) for \(controlID)\(text)", retriable: true)
        case .applicationReject, .commitReject:
            throw .rejected(code: code, "receiver answered \(code) for \(controlID)\(text)", retriable: false)
        case nil:
            forget(channel, close: true)
            throw .transient("ACK for \(controlID) has unknown MSA-1 '\(code.prefix(8))'; connection closed")
        }
    }

    /// Drops `channel` as the current connection (if it still is), closing it when asked.
    private func forget(_ channel: Channel, close: Bool = false) {
        connection.withLockedValue { if $0 === channel { $0 = nil } }
        if close || channel.isActive { channel.close(promise: nil) }
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? IOError { return "\(error.description)" }
        return String(describing: error)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
