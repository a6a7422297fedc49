import CRdKafka
import Logging

/// A transactional producer for consume-transform-produce: the records produced and the input
/// offsets consumed become visible together (`commitTransaction`) or not at all
/// (`abortTransaction`). Consumers with `isolation.level=read_committed` (MedBus's default) never
/// see aborted records.
///
/// Usage: `begin` → `sendBatch` → `sendOffsetsToTransaction` → `commit`; on a `KafkaError` whose
/// `requiresAbort` is set, call `abort` and reprocess from the last committed offsets; on
/// `isFatal`, shut down and create a new producer (the transactional id fences the old one).
public final class KafkaTransactionalProducer: Sendable {
    private let producer: KafkaProducer

    /// Creates the producer and registers `transactionalID` with the coordinator, fencing any
    /// older producer with the same id.
    /// - Throws: `KafkaError` if the coordinator cannot be reached within `timeout`.
    public init(
        config: KafkaConfig,
        transactionalID: String,
        timeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "medbus.kafka.transactions")
    ) async throws {
        var properties = config.resolved(defaults: KafkaProducer.defaultProperties)
        properties["transactional.id"] = transactionalID
        producer = try KafkaProducer(properties: properties, logger: logger)
        let rk = producer.client
        let ms = timeout.milliseconds
        do {
            try await Blocking.run {
                if let error = rd_kafka_init_transactions(rk.handle, ms) { throw KafkaError(consuming: error, "init transactions") }
            }
        } catch {
            await producer.shutdown(timeout: .zero)
            throw error
        }
    }

    public func beginTransaction() throws {
        if let error = rd_kafka_begin_transaction(producer.client.handle) { throw KafkaError(consuming: error, "begin transaction") }
    }

    /// Produces within the current transaction and waits for the delivery reports.
    public func sendBatch(_ messages: [KafkaProducerMessage]) async throws -> [KafkaDeliveryReport] {
        try await producer.sendBatch(messages)
    }

    @discardableResult
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        try await producer.send(message)
    }

    /// Adds the consumer's processed positions to the transaction; they are committed for the
    /// consumer's group when (and only when) the transaction commits.
    public func sendOffsetsToTransaction(_ positions: [TopicPartitionOffset], consumer: KafkaConsumer, timeout: Duration = .seconds(30)) async throws {
        guard let metadata = consumer.groupMetadata() else {
            throw KafkaError(code: .state, message: "consumer has no group metadata")
        }
        let rk = producer.client
        let ms = timeout.milliseconds
        nonisolated(unsafe) let groupMetadata = metadata
        try await Blocking.run {
            defer { rd_kafka_consumer_group_metadata_destroy(groupMetadata) }
            let list = makePartitionList(positions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            if let error = rd_kafka_send_offsets_to_transaction(rk.handle, list, groupMetadata, ms) {
                throw KafkaError(consuming: error, "send offsets to transaction")
            }
        }
    }

    public func commitTransaction(timeout: Duration = .seconds(30)) async throws {
        let rk = producer.client
        let ms = timeout.milliseconds
        try await Blocking.run {
            if let error = rd_kafka_commit_transaction(rk.handle, ms) { throw KafkaError(consuming: error, "commit transaction") }
        }
    }

    public func abortTransaction(timeout: Duration = .seconds(30)) async throws {
        let rk = producer.client
        let ms = timeout.milliseconds
        try await Blocking.run {
            if let error = rd_kafka_abort_transaction(rk.handle, ms) { throw KafkaError(consuming: error, "abort transaction") }
        }
    }

    public func shutdown(timeout: Duration = .seconds(30)) async {
        await producer.shutdown(timeout: timeout)
    }
}

extension Duration {
    /// Whole milliseconds, as librdkafka's timeouts take them.
    var milliseconds: Int32 {
        Int32(clamping: components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
