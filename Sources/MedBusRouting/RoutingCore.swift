import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// The routing core: consumes the raw topics, routes every record with a `MessageRouter`, and
/// produces the results in one Kafka transaction per batch together with the input offsets, so a
/// crash never drops or duplicates a routed message.
///
/// One iteration: take a batch (up to `maxBatch` records, or what arrived within ~5 ms of the
/// first) → route it on up to `parallelism` tasks (decisions kept in input order) → begin a
/// transaction → produce every output in input order (so per input partition, and hence per key,
/// outputs keep the inputs' order) → add the batch's next positions → commit.
///
/// The next batch is taken and routed while the current one's transaction is produced and
/// committed (routing is CPU work, a commit mostly waits for the brokers). Nothing of it reaches
/// Kafka before its turn: when the current batch fails, the routed next one is dropped and read
/// again after the rewind.
///
/// Failure handling:
/// - a produce failure or any other non-fatal error: abort the transaction, rewind the consumer
///   to the committed positions, rescan for in-doubt outputs (`InDoubtOutputs`), back off, retry;
/// - a retriable error of `sendOffsetsToTransaction` or `commitTransaction`: call it again;
/// - a fatal error (e.g. fenced by a newer instance with the same transactional id): `run()`
///   ends with it, after closing the clients.
///
/// - a rebalance: reassigned partitions restart at the group's committed offsets, which the
///   embedded cluster never advances for transactions; the core seeks them to the later of the
///   group's and its own committed positions and rescans before going on.
///
/// `update(router:)` takes effect from the next batch whose records are taken after it, never
/// within a transaction: a batch is routed, produced and committed by one router.
///
/// `run()` returns when its task is cancelled or `stop()` is called; an open transaction is
/// finished first (or aborted if it fails), then the consumer leaves its group and the producer
/// shuts down. Records taken but not committed are read again by the partitions' next owner.
///
/// Logs carry counts, topics, offsets and versions, never payloads.
public actor RoutingCore {
    /// How long a batch waits to fill up after its first record.
    static let batchWindow: Duration = .milliseconds(5)
    static let minimumWait: Duration = .milliseconds(1)
    /// Attempts for a retriable `sendOffsetsToTransaction`, commit or abort before giving up on it.
    static let callAttempts = 5
    /// librdkafka's "no offset" (`RD_KAFKA_OFFSET_INVALID`).
    static let invalidOffset: Int64 = -1001

    private let configuration: RoutingConfiguration
    private let logger: Logger
    /// The router of the batch in progress (or the last one).
    private var router: any MessageRouter
    /// The router for the next batch; `update` sets it.
    private var nextRouter: any MessageRouter
    /// Every target topic of every router used so far: all may hold in-doubt outputs.
    private var targetTopics: Set<String> = []
    private var stats: RoutingStatistics
    private var positions = CommittedPositions()
    private var inDoubt = InDoubtOutputs()
    private var transactionOpen = false
    private var loop: Task<Void, Error>?
    private var stopRequested = false
    /// The batch after the one in its transaction, being taken and routed meanwhile.
    private var ahead: Task<RoutedBatch?, Error>?

    /// A batch taken from the consumer and routed, waiting for its transaction.
    struct RoutedBatch: Sendable {
        var records: [KafkaConsumerMessage]
        var router: any MessageRouter
        /// Per input record, in input order.
        var outputs: [[PlannedOutput]]
        var skipped: Int
    }

    public init(configuration: RoutingConfiguration, router: any MessageRouter, logger: Logger = Logger(label: "medbus.routing")) {
        self.configuration = configuration
        self.logger = logger
        self.router = router
        self.nextRouter = router
        self.stats = RoutingStatistics(version: router.version)
    }

    /// Hot reload: `router` handles every batch whose records are taken after this call; the
    /// batches in progress (the one committing, one routed ahead) finish with the previous one.
    public func update(router: any MessageRouter) {
        nextRouter = router
        logger.info("router update scheduled for the next transaction", metadata: ["version": "\(router.version)"])
    }

    public var statistics: RoutingStatistics { stats }

    /// Routes until cancelled or `stop()`ped. Call once.
    /// - Throws: a fatal `KafkaError` (for example when fenced by a newer instance), or the
    ///   consumer's error when its subscription fails; the clients are closed first.
    public func run() async throws {
        precondition(loop == nil, "RoutingCore.run() called twice")
        let task = Task { try await self.consumeTransformProduce() }
        loop = task
        if stopRequested { task.cancel() }
        try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }

    /// Ends `run()` gracefully, as cancelling its task does.
    public func stop() {
        stopRequested = true
        loop?.cancel()
    }

    // MARK: - The loop

    private func consumeTransformProduce() async throws {
        logger.info("routing core starting", metadata: [
            "group": "\(configuration.groupID)", "inputs": "\(configuration.inputTopics)",
            "transactional.id": "\(configuration.transactionalID)", "version": "\(router.version)",
        ])
        // The producer first: registering the transactional id fences a previous instance, whose
        // open transaction the coordinator aborts before this one reads its inputs.
        let producer = try await KafkaTransactionalProducer(config: configuration.kafka, transactionalID: configuration.transactionalID, logger: logger)
        // A pattern subscription (`^raw\\..*`) sees a topic created later — a new hospital's — only
        // at a metadata refresh, every 5 minutes by default: its first records would wait that long.
        var consumerConfig = configuration.kafka
        if configuration.inputTopics.contains(where: { $0.hasPrefix("^") }), consumerConfig.properties["topic.metadata.refresh.interval.ms"] == nil {
            consumerConfig.properties["topic.metadata.refresh.interval.ms"] = "10000"
        }
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(
                config: consumerConfig, groupID: configuration.groupID, topics: configuration.inputTopics,
                bufferCapacity: max(10_000, 4 * configuration.maxBatch), logger: logger
            )
        } catch {
            await producer.shutdown(timeout: .seconds(5))
            throw error
        }
        do {
            try await routeBatches(consumer, producer)
        } catch {
            await close(consumer, producer)
            throw error
        }
        await close(consumer, producer)
        logger.info("routing core stopped", metadata: ["transactions": "\(stats.transactions)", "consumed": "\(stats.consumed)"])
    }

    private func routeBatches(_ consumer: KafkaConsumer, _ producer: KafkaTransactionalProducer) async throws {
        var failures = 0
        var assignmentChanges = 0
        while !Task.isCancelled {
            let batch: RoutedBatch?
            let taking = ahead ?? takeAndRoute(consumer)
            ahead = nil
            do {
                // The task is detached (it runs on while a transaction commits): pass cancellation on.
                batch = try await withTaskCancellationHandler { try await taking.value } onCancel: { taking.cancel() }
            } catch is CancellationError { return }
            // A batch taken while stopping is left uncommitted: the partitions' next owner reads it.
            guard let batch, !Task.isCancelled else { return }
            do {
                // After a rebalance the consumer restarts reassigned partitions at the group's
                // committed offsets, which the embedded cluster never advances for transactions:
                // resume where this core knows processing got to instead, and scan again (another
                // instance may have owned them meanwhile). The batch in hand is read again.
                let changes = consumer.assignmentChanges
                if changes != assignmentChanges {
                    assignmentChanges = changes
                    if !positions.isEmpty {
                        inDoubt.invalidate()
                        try await rewind(consumer)
                        continue
                    }
                }
                ahead = takeAndRoute(consumer)
                // Once begun, a batch runs to its commit (or abort) even if the core is stopped meanwhile.
                try await Task { try await self.process(batch, consumer, producer) }.value
                failures = 0
            } catch let error as KafkaError where error.isFatal {
                logger.error("routing stopped by a fatal Kafka error", metadata: ["error": "\(error)"])
                throw error
            } catch {
                failures += 1
                // The batch routed meanwhile comes after the failed one: it is read again after the rewind.
                await dropAhead()
                do { try await recover(from: error, failures: failures, consumer, producer) } catch is CancellationError { return }
            }
        }
    }

    /// Starts taking the next batch and routing it with the router in force once its records are
    /// in hand (an update made while waiting for them applies to them); nil once the consumer is closed.
    private func takeAndRoute(_ consumer: KafkaConsumer) -> Task<RoutedBatch?, Error> {
        let (maxBatch, parallelism, deadLetterTopic) = (configuration.maxBatch, configuration.parallelism, configuration.deadLetterTopic)
        return Task.detached { [self] in
            let records = try await Self.takeBatch(from: consumer, maxCount: maxBatch)
            guard !records.isEmpty else { return nil }
            let router = await nextRouter
            let decisions = await ParallelRouting.route(records, with: router, parallelism: parallelism)
            let now = MessageEnvelope.formatTimestamp(Date())
            var skipped = 0
            var outputs: [[PlannedOutput]] = []
            outputs.reserveCapacity(records.count)
            for (input, decision) in zip(records, decisions) {
                if case .skip = decision { skipped += 1 }
                outputs.append(OutputRecords.plan(for: input, decision: decision, version: router.version, deadLetterTopic: deadLetterTopic, now: now))
            }
            return RoutedBatch(records: records, router: router, outputs: outputs, skipped: skipped)
        }
    }

    /// Cancels the batch being taken ahead and waits until it no longer reads the consumer.
    private func dropAhead() async {
        guard let task = ahead else { return }
        ahead = nil
        task.cancel()
        _ = try? await task.value
    }

    /// One batch, one transaction.
    private func process(_ batch: RoutedBatch, _ consumer: KafkaConsumer, _ producer: KafkaTransactionalProducer) async throws {
        let started = ContinuousClock.now
        let router = batch.router
        if router.version != self.router.version {
            logger.info("router switched", metadata: ["from": "\(self.router.version)", "to": "\(router.version)"])
        }
        self.router = router
        stats.version = router.version
        targetTopics.formUnion(router.targetTopics)

        try await scanForInDoubtOutputs(of: batch.records, consumer)

        var messages: [KafkaProducerMessage] = []
        messages.reserveCapacity(batch.records.count)
        var counts = RoutingStatistics(version: router.version)
        counts.skipped = batch.skipped
        for output in batch.outputs.joined() {
            if inDoubt.takeIfPresent(output.id) {
                counts.alreadyPresent += 1
                continue
            }
            messages.append(output.message)
            switch output.kind {
            case .routed: counts.routed += 1
            case .deadLetter: counts.deadLettered += 1
            }
        }
        let next = batch.records.nextPositions

        try producer.beginTransaction()
        transactionOpen = true
        let reports = try await producer.sendBatch(messages)
        if let failure = reports.lazy.compactMap(\.error).first {
            let failed = reports.lazy.filter { $0.error != nil }.count
            throw KafkaError(code: failure.code, message: "\(failed) of \(reports.count) outputs not delivered: \(failure.message)", requiresAbort: true)
        }
        try await retrying("send offsets to transaction") { try await producer.sendOffsetsToTransaction(next, consumer: consumer) }
        try await retrying("commit transaction") { try await producer.commitTransaction() }
        transactionOpen = false

        positions.committed(next)
        stats.consumed += batch.records.count
        stats.routed += counts.routed
        stats.deadLettered += counts.deadLettered
        stats.skipped += counts.skipped
        stats.alreadyPresent += counts.alreadyPresent
        stats.transactions += 1
        RoutingMetrics.committed(batch.records, outputs: messages, deadLetterTopic: configuration.deadLetterTopic, since: started)
        logger.trace("batch committed", metadata: [
            "records": "\(batch.records.count)", "outputs": "\(messages.count)", "positions": "\(next)", "version": "\(router.version)",
        ])
    }

    /// Scans before routing a partition for the first time since the start or the last abort.
    private func scanForInDoubtOutputs(of batch: [KafkaConsumerMessage], _ consumer: KafkaConsumer) async throws {
        // A partition that was revoked may come back after another instance wrote to it: forget
        // it, so it is scanned again then. (`assignment()` is a local call, cheap per batch.)
        let assigned = Set(((try? consumer.assignment()) ?? []).map { InputPartition(topic: $0.topic, partition: $0.partition) })
        if !assigned.isEmpty { inDoubt.forget(inDoubt.scanned.subtracting(assigned)) }
        var scope = Set(batch.map(InputPartition.init))
        guard !scope.isSubset(of: inDoubt.scanned) else { return }
        // The whole assignment at once: one scan after a rebalance, not one per partition.
        scope.formUnion(assigned)
        scope.subtract(inDoubt.scanned)
        let group = try await consumer.committed(scope.map { TopicPartitionOffset(topic: $0.topic, partition: $0.partition, offset: Self.invalidOffset) })
        var thresholds: [InputPartition: Int64] = [:]
        for position in positions.resumePositions(group: group) {
            thresholds[InputPartition(topic: position.topic, partition: position.partition)] = max(0, position.offset)
        }
        let topics = targetTopics.union([configuration.deadLetterTopic])
        let window = configuration.recoveryWindow.components
        let since = Date().addingTimeInterval(-(Double(window.seconds) + Double(window.attoseconds) / 1e18))
        let found = try await InDoubtOutputs.scan(config: configuration.kafka, topics: topics, thresholds: thresholds, since: since, logger: logger)
        inDoubt.record(found, scanned: scope)
        logger.info("in-doubt scan", metadata: [
            "partitions": "\(scope.count)", "topics": "\(topics.sorted())", "outputs.in.doubt": "\(found.count)",
        ])
    }

    // MARK: - Failures

    /// Aborts, backs off and rewinds to the committed positions, so the batch is processed again.
    /// - Throws: a fatal `KafkaError`, or `CancellationError` when stopped meanwhile.
    private func recover(from error: Error, failures: Int, _ consumer: KafkaConsumer, _ producer: KafkaTransactionalProducer) async throws {
        logger.warning("routing batch failed; reprocessing from the committed positions", metadata: [
            "error": "\(error)", "consecutive.failures": "\(failures)", "transaction.open": "\(transactionOpen)",
        ])
        if transactionOpen {
            try await abort(producer)
            stats.aborts += 1
            RoutingMetrics.aborted(error)
        }
        // Whatever the failed attempt wrote is now in the log: the next batch rescans.
        inDoubt.invalidate()
        try await Task.sleep(for: Self.backoff(failures))
        var attempt = 0
        while true {
            do {
                try await rewind(consumer)
                return
            } catch let error as KafkaError where error.isFatal {
                throw error
            } catch {
                attempt += 1
                logger.warning("rewind failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: Self.backoff(attempt))
            }
        }
    }

    private func abort(_ producer: KafkaTransactionalProducer) async throws {
        var attempt = 0
        while true {
            do {
                try await producer.abortTransaction()
                transactionOpen = false
                return
            } catch let error as KafkaError where error.isFatal || attempt + 1 >= Self.callAttempts {
                // A fatal producer cannot abort either; the coordinator does, on its timeout.
                if error.isFatal { transactionOpen = false }
                throw error
            } catch {
                attempt += 1
                logger.warning("abort transaction failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: Self.backoff(attempt))
            }
        }
    }

    /// Seeks every assigned partition (so none of the buffered records survive) to where its
    /// processing resumes.
    private func rewind(_ consumer: KafkaConsumer) async throws {
        let assigned = try consumer.assignment()
        guard !assigned.isEmpty else { return }
        let group = try await consumer.committed(assigned)
        let targets = positions.resumePositions(group: group)
        try await consumer.seek(to: targets)
        logger.info("consumer rewound to the committed positions", metadata: ["positions": "\(targets)"])
    }

    /// Calls `body` again while it fails with a retriable error that does not require an abort.
    private func retrying(_ what: String, _ body: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            do {
                try await body()
                return
            } catch let error as KafkaError where error.isRetriable && !error.requiresAbort && !error.isFatal && attempt + 1 < Self.callAttempts {
                attempt += 1
                logger.warning("\(what) failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: Self.backoff(attempt))
            }
        }
    }

    private func close(_ consumer: KafkaConsumer, _ producer: KafkaTransactionalProducer) async {
        await dropAhead()
        if transactionOpen {
            do {
                try await producer.abortTransaction(timeout: .seconds(10))
                stats.aborts += 1
            } catch {
                logger.warning("abort on shutdown failed; the coordinator aborts it on timeout", metadata: ["error": "\(error)"])
            }
            transactionOpen = false
        }
        await consumer.close()
        await producer.shutdown(timeout: .seconds(10))
    }

    /// 100 ms, doubling, at most 5 s.
    static func backoff(_ failures: Int) -> Duration {
        .milliseconds(min(5_000, 100 << min(max(failures - 1, 0), 6)))
    }

    // MARK: - Batches

    /// Waits for a first record, then gathers more for up to `batchWindow` or until `maxCount`.
    /// Returns `[]` only once the consumer is closed.
    ///
    /// A wait shorter than `minimumWait` is not started: it would cost more than it gathers.
    static func takeBatch(from consumer: KafkaConsumer, maxCount: Int) async throws -> [KafkaConsumerMessage] {
        var batch = try await consumer.nextBatch(maxCount: maxCount)
        let deadline = ContinuousClock.now + batchWindow
        while !batch.isEmpty, batch.count < maxCount {
            let remaining = deadline - .now
            guard remaining >= minimumWait else { break }
            let more = try await consumer.nextBatch(maxCount: maxCount - batch.count, within: remaining)
            if more.isEmpty { break }
            batch += more
        }
        return batch
    }
}
