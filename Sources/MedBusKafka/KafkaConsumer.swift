import CRdKafka
import Foundation
import Logging

/// A consumer-group member with manual, at-least-once offset management.
///
/// Records arrive through `messages` (an `AsyncSequence`) or `nextBatch`. Nothing is committed
/// automatically: after processing, call `commit(_:)` (synchronous with the group coordinator) or
/// `storeOffset(_:)` (cheap; committed by librdkafka's periodic auto-commit of *stored* offsets
/// when `autoCommitStoredOffsets` is on). A consumer that dies before committing makes its group
/// re-read from the last committed offset: nothing is lost, some records may be seen twice.
///
/// On a rebalance, buffered records of revoked partitions are dropped (their new owner re-reads
/// them); a commit for a partition this member no longer owns fails with the broker's error.
///
/// A dedicated thread polls librdkafka and fills a bounded buffer, so a slow processor applies
/// back-pressure instead of growing memory. `close()` leaves the group cleanly.
public final class KafkaConsumer: Sendable {
    public static let defaultProperties: [String: String] = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "allow.auto.create.topics": "false",
        "client.id": "medbus",
    ]

    let client: RDKafkaClient
    private let buffer: MessageBuffer<KafkaConsumerMessage>
    private let state = ShutdownState()
    private let seeks = SeekRequests()
    private let rebalances = RebalanceCounter()

    /// Joins `groupID` and subscribes to `topics`.
    /// - Parameters:
    ///   - autoCommitStoredOffsets: let librdkafka commit offsets passed to `storeOffset` every
    ///     `auto.commit.interval.ms` (still at-least-once: only processed records are stored).
    ///   - bufferCapacity: records held between the poll thread and the processor.
    /// - Throws: `KafkaError` for invalid configuration or subscription.
    public init(
        config: KafkaConfig,
        groupID: String,
        topics: [String],
        autoCommitStoredOffsets: Bool = false,
        bufferCapacity: Int = 10_000,
        logger: Logger = Logger(label: "medbus.kafka.consumer")
    ) throws {
        var properties = config.resolved(defaults: Self.defaultProperties)
        properties["group.id"] = groupID
        if autoCommitStoredOffsets { properties["enable.auto.commit"] = "true" }
        let client = try RDKafkaClient(kind: .consumer, properties: properties, logger: logger) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
        }
        self.client = client
        let buffer = MessageBuffer<KafkaConsumerMessage>(capacity: bufferCapacity)
        self.buffer = buffer
        let rk = client
        let rebalances = self.rebalances
        client.callbackContext.onRebalance = { [logger, unowned rk] err, partitions in
            rebalances.increment()
            let list = readPartitionList(partitions)
            let cooperative = String(cString: rd_kafka_rebalance_protocol(rk.handle)) == "COOPERATIVE"
            switch err {
            case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                logger.info("partitions assigned", metadata: ["partitions": "\(list.map { "\($0.topic)[\($0.partition)]" })"])
                if cooperative { rd_kafka_error_destroy(rd_kafka_incremental_assign(rk.handle, partitions)) } else { rd_kafka_assign(rk.handle, partitions) }
            default:
                logger.info("partitions revoked", metadata: ["partitions": "\(list.map { "\($0.topic)[\($0.partition)]" })"])
                buffer.drop(partitions: Set(list.map { PartitionKey(topic: $0.topic, partition: $0.partition) }))
                if cooperative { rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk.handle, partitions)) } else { rd_kafka_assign(rk.handle, nil) }
            }
        }
        rd_kafka_poll_set_consumer(client.handle)

        let subscription = makePartitionList(topics.map { TopicPartitionOffset(topic: $0, partition: RD_KAFKA_PARTITION_UA, offset: Int64(RD_KAFKA_OFFSET_INVALID)) })
        defer { rd_kafka_topic_partition_list_destroy(subscription) }
        let err = rd_kafka_subscribe(client.handle, subscription)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            client.destroy()
            throw KafkaError(err, "subscribe to \(topics)")
        }

        let seeks = self.seeks
        let lag = ConsumerLagGauges(group: groupID)
        client.startPolling {
            // Seeks run here, between two polls, so no record fetched before a seek is in flight
            // towards the buffer while that partition's buffered records are dropped.
            if let request = seeks.take() { request.apply(rk.handle, buffer) }
            guard let raw = rd_kafka_consumer_poll(rk.handle, 100) else { return }
            defer { rd_kafka_message_destroy(raw) }
            let err = raw.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                buffer.push(KafkaConsumerMessage(raw))
                lag.observe(rk.handle, raw)
            } else if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                return
            } else if let fatal = client.fatalError() {
                buffer.finish(throwing: fatal)
            } else if err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC {
                buffer.finish(throwing: KafkaError(err, "subscribed topic"))
            } else {
                // Transport and broker errors are retried by librdkafka itself.
                logger.warning("consumer error", metadata: ["error": "\(KafkaError(err, "poll"))"])
            }
        }
    }

    /// The records of this consumer, in partition order. Ends when the consumer is closed; throws
    /// on a fatal client error or when a subscribed topic does not exist.
    public var messages: Messages { Messages(buffer: buffer) }

    /// Waits for at least one record, then returns up to `maxCount` already buffered ones.
    /// Returns an empty array only once the consumer is closed.
    public func nextBatch(maxCount: Int) async throws -> [KafkaConsumerMessage] {
        try await buffer.popBatch(maxCount: maxCount)
    }

    /// `nextBatch`, but giving up after `within` with an empty array.
    ///
    /// Records a cancelled wait had already taken from the buffer are returned, never dropped:
    /// racing `nextBatch` against a timer and keeping only the winner loses the records the
    /// losing reader took in the instant before its cancellation.
    public func nextBatch(maxCount: Int, within: Duration) async throws -> [KafkaConsumerMessage] {
        let buffer = self.buffer
        return try await withThrowingTaskGroup(of: [KafkaConsumerMessage].self) { group in
            group.addTask { try await buffer.popBatch(maxCount: maxCount) }
            group.addTask {
                try? await Task.sleep(for: within)
                return []
            }
            var records: [KafkaConsumerMessage] = []
            var failure: Error?
            var first = true
            while let result = await group.nextResult() {
                if first { group.cancelAll(); first = false }
                switch result {
                case .success(let taken): records += taken
                case .failure(let error) where !(error is CancellationError): failure = error
                case .failure: break
                }
            }
            if records.isEmpty, let failure { throw failure }
            return records
        }
    }

    /// Commits "processed up to and including `message`" for its partition, synchronously with
    /// the group coordinator.
    /// - Throws: `KafkaError` when the commit fails (for example the partition was revoked).
    public func commit(_ message: KafkaConsumerMessage) async throws {
        try await commit([message.nextPosition])
    }

    /// Commits explicit positions (next offset to read per partition).
    public func commit(_ positions: [TopicPartitionOffset]) async throws {
        guard !positions.isEmpty else { return }
        guard !state.isShutDown else { throw KafkaError(code: .destroyed, message: "consumer is closed") }
        let rk = client
        try await Blocking.run {
            let list = makePartitionList(positions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_commit(rk.handle, list, 0)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, "commit offsets") }
            for entry in readPartitionList(list) where entry.offset < 0 {
                throw KafkaError(code: .state, message: "commit offsets: \(entry.topic)[\(entry.partition)] rejected")
            }
        }
    }

    /// Marks `message` processed; its offset is committed by the next auto-commit (only with
    /// `autoCommitStoredOffsets`) or by `commitStored()`.
    public func storeOffset(_ message: KafkaConsumerMessage) throws {
        let list = makePartitionList([message.nextPosition])
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_offsets_store(client.handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, "store offset") }
    }

    /// The committed positions of the given partitions, as the group coordinator knows them.
    public func committed(_ partitions: [TopicPartitionOffset], timeout: Duration = .seconds(10)) async throws -> [TopicPartitionOffset] {
        let rk = client
        let ms = timeout.milliseconds
        return try await Blocking.run {
            let list = makePartitionList(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_committed(rk.handle, list, ms)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, "read committed offsets") }
            return readPartitionList(list)
        }
    }

    /// The partitions currently assigned to this member.
    public func assignment() throws -> [TopicPartitionOffset] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let err = rd_kafka_assignment(client.handle, &list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(err, "read assignment") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return readPartitionList(list)
    }

    /// Moves the read position of assigned partitions (`offset` is the next offset to read, or a
    /// logical offset such as `RD_KAFKA_OFFSET_BEGINNING` = -2) and drops their records already
    /// buffered, so the next records of those partitions start exactly there. For reprocessing
    /// after an aborted transaction.
    ///
    /// The poll thread performs the seek between two polls, so no record fetched from the old
    /// position can reach the buffer afterwards. If that thread is waiting for room in a full
    /// buffer, the seek completes once room is made: seeking every partition with buffered
    /// records (or reading on from another task) guarantees it.
    /// - Throws: `KafkaError` if librdkafka rejects the seek or a partition is not assigned.
    public func seek(to positions: [TopicPartitionOffset]) async throws {
        guard !positions.isEmpty else { return }
        guard !state.isShutDown else { throw KafkaError(code: .destroyed, message: "consumer is closed") }
        let partitions = Set(positions.map { PartitionKey(topic: $0.topic, partition: $0.partition) })
        let buffer = self.buffer
        let seeks = self.seeks
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            seeks.add(SeekRequests.Request(positions: positions, continuation: continuation))
            // Frees room, so a poll thread blocked on a full buffer comes back to take the request.
            buffer.drop(partitions: partitions)
            // A close racing with this call may already have failed the pending requests.
            if state.isShutDown { seeks.failAll() }
        }
    }

    /// How many assignments and revocations this member has gone through. A change tells a
    /// processor that positions may have moved under it: a newly assigned partition starts from
    /// the group's committed offset, whatever this member had read or committed before.
    public var assignmentChanges: Int { rebalances.value }

    /// The group metadata a transactional producer needs for `sendOffsetsToTransaction`.
    /// The caller destroys it.
    func groupMetadata() -> OpaquePointer? {
        rd_kafka_consumer_group_metadata(client.handle)
    }

    /// Leaves the group (revoking partitions without committing anything further) and frees the
    /// client. Iteration ends. Idempotent.
    public func close() async {
        guard state.beginShutdown() else { return }
        buffer.finish(throwing: nil)
        client.stopPolling()
        seeks.failAll()
        let client = self.client
        _ = try? await Blocking.run {
            let err = rd_kafka_consumer_close(client.handle)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                client.logger.warning("consumer close", metadata: ["error": "\(KafkaError(err, "close"))"])
            }
            client.destroy()
        }
    }

    deinit {
        if state.beginShutdown() {
            buffer.finish(throwing: nil)
            client.stopPolling()
            seeks.failAll()
            _ = rd_kafka_consumer_close(client.handle)
            client.destroy()
        }
    }

    /// The records of a consumer as an `AsyncSequence`.
    public typealias Messages = KafkaBufferedSequence<KafkaConsumerMessage>
}

/// Counts rebalance callbacks (on the poll thread) for readers on other threads.
private final class RebalanceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// Seeks waiting for the poll thread, which alone may perform them (see `KafkaConsumer.seek`).
private final class SeekRequests: @unchecked Sendable {
    struct Request {
        var positions: [TopicPartitionOffset]
        var continuation: CheckedContinuation<Void, Error>

        /// Seeks (waiting for the fetcher to move), then drops what was buffered before.
        func apply(_ handle: OpaquePointer, _ buffer: MessageBuffer<KafkaConsumerMessage>) {
            let list = makePartitionList(positions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            var failure: KafkaError?
            if let error = rd_kafka_seek_partitions(handle, list, 10_000) {
                failure = KafkaError(consuming: error, "seek")
            } else {
                let rejected = (0..<Int(list.pointee.cnt)).filter { list.pointee.elems[$0].err != RD_KAFKA_RESP_ERR_NO_ERROR }
                if let first = rejected.first {
                    let elem = list.pointee.elems[first]
                    failure = KafkaError(elem.err, "seek \(String(cString: elem.topic))[\(elem.partition)] (\(rejected.count) partitions rejected)")
                }
            }
            buffer.drop(partitions: Set(positions.map { PartitionKey(topic: $0.topic, partition: $0.partition) }))
            if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
        }
    }

    private let lock = NSLock()
    private var pending: [Request] = []

    func add(_ request: Request) { lock.withLock { pending.append(request) } }

    func take() -> Request? {
        lock.withLock { pending.isEmpty ? nil : pending.removeFirst() }
    }

    /// Once polling has stopped nobody will perform them.
    func failAll() {
        let requests = lock.withLock { defer { pending.removeAll() }; return pending }
        for request in requests {
            request.continuation.resume(throwing: KafkaError(code: .destroyed, message: "consumer is closed"))
        }
    }
}

extension KafkaConsumerMessage {
    /// Copies a librdkafka message out of its buffers.
    init(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let raw = message.pointee
        var headers: [KafkaHeader] = []
        var hdrs: OpaquePointer?
        if rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(hdrs, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(key: String(cString: name!), value: bytes(value, size)))
                index += 1
            }
        }
        var tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(message, &tstype)
        self.init(
            topic: String(cString: rd_kafka_topic_name(raw.rkt)),
            partition: raw.partition,
            offset: raw.offset,
            key: bytes(raw.key, raw.key_len),
            value: bytes(raw.payload, raw.len),
            headers: headers,
            timestampMilliseconds: tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts
        )
    }
}

private let rebalanceCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = { _, err, partitions, opaque in
    guard let opaque, let partitions else { return }
    Unmanaged<RDKafkaClient.CallbackContext>.fromOpaque(opaque).takeUnretainedValue().onRebalance?(err, partitions)
}
