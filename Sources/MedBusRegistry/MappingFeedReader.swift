import CRdKafka
import Foundation
import Logging
import MedBusKafka

/// The C-facing half of `MappingFeed`: one librdkafka consumer, assigned (not subscribed) to every partition of
/// the topic from the beginning, polled on a thread of its own so that its blocking calls never occupy Swift
/// concurrency's cooperative threads.
///
/// MedBusKafka's `KafkaTopicReader` reads to the end and stops; the feed must go on reading, and
/// MedBusKafka's client type is internal to it, so this reader owns its handle directly.
final class MappingFeedReader: @unchecked Sendable {
    enum Event {
        case active([String: MappingVersion])
        case failed(any Error)
    }

    private let kafka: KafkaConfig
    private let topic: String
    private let logger: Logger
    private let emit: @Sendable (Event) -> Void
    private let stopped = ClosedFlag()

    /// How often a missing topic or an unreachable cluster is asked again.
    private static let retryInterval: TimeInterval = 1
    private static let metadataTimeoutMilliseconds: Int32 = 5000

    init(kafka: KafkaConfig, topic: String, logger: Logger, emit: @escaping @Sendable (Event) -> Void) {
        self.kafka = kafka
        self.topic = topic
        self.logger = logger
        self.emit = emit
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "medbus.registry.feed"
        thread.start()
    }

    /// Asks the thread to finish; it closes the client within one poll interval. Does not wait.
    func stop() {
        _ = stopped.close()
    }

    // MARK: - The poll thread

    private func run() {
        let context = LogContext(logger: logger)
        let handle: OpaquePointer
        do {
            handle = try makeConsumer(context: context)
        } catch {
            emit(.failed(error))
            return
        }
        defer {
            _ = rd_kafka_consumer_close(handle)
            rd_kafka_destroy(handle)
            withExtendedLifetime(context) {}
        }
        do {
            try read(handle)
        } catch {
            emit(.failed(error))
        }
    }

    private func makeConsumer(context: LogContext) throws -> OpaquePointer {
        var properties: [String: String] = [
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "enable.partition.eof": "true",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "allow.auto.create.topics": "false",
            "client.id": "medbus-mapping-feed",
        ]
        properties.merge(kafka.properties) { _, caller in caller }
        properties["bootstrap.servers"] = kafka.bootstrapServers
        // librdkafka 2.0's assign() needs a group id (it runs through the group machinery), but the group is
        // never joined: partitions are assigned, not subscribed, and no offset is committed or fetched.
        properties["group.id"] = "medbus-mapping-feed-\(UUID().uuidString.lowercased())"

        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) where rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .invalidArgument, message: "Kafka property '\(key)': \(errorText(errstr))")
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf, feedLogCallback)
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .invalidArgument, message: "cannot create Kafka consumer: \(errorText(errstr))")
        }
        rd_kafka_poll_set_consumer(handle)
        return handle
    }

    private func read(_ handle: OpaquePointer) throws {
        var set = ActiveMappingSet()
        var synced = false

        // Wait for the topic; until it exists the active set is empty, and a router may start with that.
        var partitions: Int32 = 0
        while !stopped.isClosed {
            switch partitionCount(handle) {
            case .success(let count?):
                partitions = count
            case .success(nil):
                if !synced {
                    synced = true
                    logger.info("mappings topic does not exist yet: no mappings active", metadata: ["topic": "\(topic)"])
                    emit(.active([:]))
                }
            case .failure(let error):
                logger.warning("mappings topic unreachable, retrying", metadata: ["topic": "\(topic)", "error": "\(error)"])
            }
            if partitions > 0 { break }
            Thread.sleep(forTimeInterval: Self.retryInterval)
        }
        guard partitions > 0 else { return }

        // Where each partition ends now: the first element is sent once all are read that far.
        var pending: [Int32: Int64] = [:]
        for partition in 0..<partitions {
            var low: Int64 = 0
            var high: Int64 = 0
            while !stopped.isClosed {
                let err = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, Self.metadataTimeoutMilliseconds)
                if err == RD_KAFKA_RESP_ERR_NO_ERROR { break }
                logger.warning("cannot read the end of the mappings topic, retrying", metadata: ["partition": "\(partition)", "error": "\(String(cString: rd_kafka_err2str(err)))"])
                Thread.sleep(forTimeInterval: Self.retryInterval)
            }
            if high > low { pending[partition] = high }
        }

        let list = rd_kafka_topic_partition_list_new(partitions)!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in 0..<partitions {
            rd_kafka_topic_partition_list_add(list, topic, partition)!.pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
        let assigned = rd_kafka_assign(handle, list)
        guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code: KafkaError.Code(rawValue: assigned.rawValue), message: "assign partitions of '\(topic)': \(String(cString: rd_kafka_err2str(assigned)))")
        }

        func syncIfDone() {
            guard !synced, pending.isEmpty else { return }
            synced = true
            logger.info("mappings loaded", metadata: ["topic": "\(topic)", "mappings": "\(set.snapshot.count)"])
            emit(.active(set.snapshot))
        }
        syncIfDone()

        while !stopped.isClosed {
            guard let message = rd_kafka_consumer_poll(handle, 200) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let record = message.pointee
            switch record.err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                let key = record.key.map { Array(UnsafeRawBufferPointer(start: $0, count: record.key_len)) }
                let value = record.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: record.len)) }
                switch set.apply(key: key, value: value) {
                case .changed:
                    let name = key.map { String(decoding: $0, as: UTF8.self) } ?? "?"
                    let active = set.snapshot[name]
                    logger.info("mapping activated", metadata: [
                        "mapping": "\(name)", "version": "\(active.map { String($0.version) } ?? "retired")",
                        "digest": "\(active.map { String($0.digest.prefix(12)) } ?? "-")",
                    ])
                    if synced { emit(.active(set.snapshot)) }
                case .unchanged:
                    break
                case .rejected(let reason):
                    logger.error("ignoring mappings record", metadata: ["partition": "\(record.partition)", "offset": "\(record.offset)", "reason": "\(reason)"])
                }
                if let end = pending[record.partition], record.offset + 1 >= end { pending[record.partition] = nil }
                syncIfDone()
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                pending[record.partition] = nil
                syncIfDone()
            case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
                throw KafkaError(code: KafkaError.Code(rawValue: record.err.rawValue), message: "mappings topic '\(topic)' disappeared")
            default:
                var errstr = [CChar](repeating: 0, count: 512)
                let fatal = rd_kafka_fatal_error(handle, &errstr, errstr.count)
                if fatal != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaError(code: KafkaError.Code(rawValue: fatal.rawValue), message: errorText(errstr), isFatal: true)
                }
                // Transport and broker errors are retried by librdkafka itself.
                logger.warning("mappings feed error", metadata: ["error": "\(String(cString: rd_kafka_err2str(record.err)))"])
            }
        }
    }

    /// The topic's partition count, nil if it does not exist, or the error that prevented asking.
    private func partitionCount(_ handle: OpaquePointer) -> Result<Int32?, KafkaError> {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = topic.withCString { name -> rd_kafka_resp_err_t in
            guard let rkt = rd_kafka_topic_new(handle, name, nil) else { return RD_KAFKA_RESP_ERR__INVALID_ARG }
            defer { rd_kafka_topic_destroy(rkt) }
            return rd_kafka_metadata(handle, 0, rkt, &metadata, Self.metadataTimeoutMilliseconds)
        }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            return .failure(KafkaError(code: KafkaError.Code(rawValue: err.rawValue), message: "read metadata of '\(topic)': \(String(cString: rd_kafka_err2str(err)))"))
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        for i in 0..<Int(metadata.pointee.topic_cnt) where String(cString: metadata.pointee.topics[i].topic) == topic {
            let entry = metadata.pointee.topics[i]
            if entry.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || entry.partition_cnt == 0 { return .success(nil) }
            guard entry.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                return .failure(KafkaError(code: KafkaError.Code(rawValue: entry.err.rawValue), message: "metadata of '\(topic)': \(String(cString: rd_kafka_err2str(entry.err)))"))
            }
            return .success(entry.partition_cnt)
        }
        return .success(nil)
    }
}

/// The NUL-terminated message librdkafka wrote into an error buffer.
private func errorText(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// The logger reachable from librdkafka's log callback through `rd_kafka_opaque`.
private final class LogContext: @unchecked Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
}

/// librdkafka's log lines (brokers, topics; never payloads) go to swift-log.
private let feedLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { rk, level, facility, buf in
    guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
    let context = Unmanaged<LogContext>.fromOpaque(opaque).takeUnretainedValue()
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
