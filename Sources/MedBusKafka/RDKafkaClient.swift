import CRdKafka
import Dispatch
import Foundation
import Logging

/// The one place that owns an `rd_kafka_t`: configuration, creation, a dedicated poll thread and
/// teardown. The Swift-facing types (`KafkaProducer`, `KafkaConsumer`, `KafkaAdmin`) are built on it.
///
/// librdkafka delivers callbacks (delivery reports, rebalances, logs) only from inside its poll
/// calls. Those calls block, so they run on a thread of their own and never on Swift
/// concurrency's cooperative pool.
final class RDKafkaClient: @unchecked Sendable {
    let handle: OpaquePointer
    let logger: Logger
    /// Strong reference to the object whose unretained pointer is librdkafka's opaque.
    private let callbacks: CallbackContext
    private let pollThread: PollThread

    /// Objects reachable from C callbacks through `rd_kafka_opaque`.
    final class CallbackContext: @unchecked Sendable {
        let logger: Logger
        /// Set by consumers: called from the poll thread on every rebalance.
        var onRebalance: ((rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?
        init(logger: Logger) { self.logger = logger }
    }

    enum Kind { case producer, consumer }

    /// Creates the client. `configure` may install further callbacks on the raw conf object.
    init(
        kind: Kind,
        properties: [String: String],
        logger: Logger,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError.invalidArgument("Kafka property '\(key)': \(errstr.cString)")
            }
        }
        let callbacks = CallbackContext(logger: logger)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdLogCallback)
        configure(conf)

        // rd_kafka_new takes ownership of conf on success only.
        guard let rk = rd_kafka_new(kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.invalidArgument("cannot create Kafka client: \(errstr.cString)")
        }
        self.handle = rk
        self.logger = logger
        self.callbacks = callbacks
        self.pollThread = PollThread(name: "medbus.kafka.poll")
    }

    var callbackContext: CallbackContext { callbacks }

    /// Starts the poll thread with the given body, called repeatedly until `stopPolling`.
    func startPolling(_ body: @escaping @Sendable () -> Void) {
        pollThread.start(body)
    }

    func stopPolling() {
        pollThread.stop()
    }

    /// Stops polling (if still running) and frees the handle. Call once, after flush/close.
    func destroy() {
        pollThread.stop()
        rd_kafka_destroy(handle)
    }

    /// The client's fatal error, if librdkafka raised one.
    func fatalError() -> KafkaError? {
        var errstr = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle, &errstr, errstr.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(code: KafkaError.Code(err), message: errstr.cString, isFatal: true)
    }
}

/// A thread that repeats one body until stopped. Stopping joins it.
final class PollThread: @unchecked Sendable {
    private let name: String
    private let lock = NSCondition()
    private var running = false
    private var finished = false
    private var thread: Thread?

    init(name: String) { self.name = name }

    func start(_ body: @escaping @Sendable () -> Void) {
        lock.withLock {
            precondition(thread == nil, "poll thread started twice")
            running = true
            let thread = Thread { [self] in
                while lock.withLock({ running }) { body() }
                lock.withLock { finished = true; lock.broadcast() }
            }
            thread.name = name
            self.thread = thread
            thread.start()
        }
    }

    func stop() {
        lock.withLock {
            guard thread != nil else { return }
            running = false
            while !finished { lock.wait() }
            thread = nil
        }
    }
}

/// librdkafka's log lines go to swift-log (they name brokers and topics, never payloads).
private let rdLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { rk, level, facility, buf in
    guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
    let context = Unmanaged<RDKafkaClient.CallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    let swiftLevel: Logger.Level = switch level {
    case ...3: .error
    case 4: .warning
    case 5, 6: .info
    default: .debug
    }
    context.logger.log(level: swiftLevel, "\(buf.map { String(cString: $0) } ?? "")", metadata: [
        "rdkafka.facility": "\(facility.map { String(cString: $0) } ?? "")",
    ])
}

// MARK: - Blocking calls off the cooperative pool

/// librdkafka calls that wait on the network (commit, transactions, admin, metadata) run here,
/// so a slow broker never parks one of Swift concurrency's few cooperative threads.
enum Blocking {
    private static let queue = DispatchQueue(label: "medbus.kafka.blocking", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

// MARK: - Metadata and assignment for readers outside a group

/// These wait on the network: call them on a poll thread or through `Blocking.run`.
extension RDKafkaClient {
    /// The number of partitions of `topic` (0 while it is being created), or nil if it does not exist.
    ///
    /// Asks for the metadata of all topics: a request naming a missing topic makes brokers that auto-create
    /// topics (the embedded mock cluster among them, whatever `allow.auto.create.topics` says) create it.
    /// - Throws: `KafkaError` if the cluster does not answer in time.
    func partitionCount(of topic: String, timeoutMilliseconds: Int32) throws -> Int32? {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(err, "read metadata of '\(topic)'") }
        defer { rd_kafka_metadata_destroy(metadata) }
        return (0..<Int(metadata.pointee.topic_cnt)).first { String(cString: metadata.pointee.topics[$0].topic) == topic }
            .map { metadata.pointee.topics[$0].partition_cnt }
    }

    /// The partition's low and high watermarks: its first offset and the offset the next record will get.
    func watermarks(topic: String, partition: Int32, timeoutMilliseconds: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "query watermarks of \(topic)[\(partition)]") }
        return (low, high)
    }

    /// Reads these partitions from these offsets, outside any consumer group (nothing is committed).
    func assign(_ positions: [TopicPartitionOffset]) throws {
        let list = makePartitionList(positions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_assign(handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, "assign partitions of '\(Set(positions.map(\.topic)).sorted().joined(separator: "', '"))'")
        }
    }
}

// MARK: - Conversions shared by the client types

/// Builds an owned `rd_kafka_topic_partition_list_t`; the caller destroys it.
func makePartitionList(_ offsets: [TopicPartitionOffset]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
    for tpo in offsets {
        rd_kafka_topic_partition_list_add(list, tpo.topic, tpo.partition)!.pointee.offset = tpo.offset
    }
    return list
}

func readPartitionList(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartitionOffset] {
    (0..<Int(list.pointee.cnt)).map { i in
        let elem = list.pointee.elems[i]
        return TopicPartitionOffset(topic: String(cString: elem.topic), partition: elem.partition, offset: elem.offset)
    }
}

func bytes(_ pointer: UnsafeRawPointer?, _ count: Int) -> [UInt8]? {
    guard let pointer else { return nil }
    return Array(UnsafeRawBufferPointer(start: pointer, count: count))
}

extension Array where Element == CChar {
    /// The NUL-terminated string in an error buffer filled by librdkafka.
    var cString: String { withUnsafeBufferPointer { String(cString: $0.baseAddress!) } }
}
