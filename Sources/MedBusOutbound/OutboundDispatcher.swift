import Logging
import MedBusKafka
import NIOConcurrencyHelpers

/// Delivers the records of one topic to one outside receiver, in order per partition (and so per
/// key), at least once.
///
/// A reader consumes the topic in a consumer group and hands each record to its partition's
/// lane; lanes run in parallel, and each delivers its records strictly one after another. A
/// record is attempted until the transport reports success, a permanent refusal, or
/// `policy.maxAttempts` failures, waiting an exponential backoff with jitter between attempts;
/// a record that is not delivered goes to the dead-letter topic and the lane moves on, so one
/// bad record never stops a partition. The offset of a record is committed only after it was
/// delivered or dead-lettered: a crash or restart redelivers at most the record in flight,
/// which the receiver recognises by MSH-10 / `X-MedBus-Message-Id` (never changed on retry).
///
/// Cancelling `run()` stops gracefully: backoff waits end at once, an attempt already on the wire
/// is allowed to finish (within the transport's timeout) and, if delivered, committed; records
/// not yet delivered stay uncommitted for the group's next member.
///
/// On a rebalance, records a lane already read ahead for a partition this member lost are still
/// delivered (their commits fail and are logged); the new owner starts from the committed offset,
/// so the receiver may see them twice — still in order per key — and deduplicates by id.
public final class OutboundDispatcher: Sendable {
    public let topic: String
    public let groupID: String
    public let policy: DeliveryPolicy
    public let deadLetterTopic: String
    /// Named in logs and in the `medbus-destination` header of dead letters.
    public let destinationName: String

    private let kafka: KafkaConfig
    private let transport: any OutboundTransport
    private let logger: Logger
    private let laneCapacity: Int
    private let counters = NIOLockedValueBox(OutboundStatistics())
    private let started = NIOLockedValueBox(false)

    /// - Parameters:
    ///   - destinationName: defaults to the transport's `destination` (e.g. `mllp://host:port`).
    ///   - laneCapacity: records read ahead per partition before the reader waits.
    public init(
        kafka: KafkaConfig,
        topic: String,
        groupID: String,
        transport: any OutboundTransport,
        policy: DeliveryPolicy = DeliveryPolicy(),
        deadLetterTopic: String = "dlq.outbound",
        destinationName: String? = nil,
        laneCapacity: Int = 1000,
        logger: Logger = Logger(label: "medbus.outbound")
    ) {
        self.kafka = kafka
        self.topic = topic
        self.groupID = groupID
        self.transport = transport
        self.policy = policy
        self.deadLetterTopic = deadLetterTopic
        self.destinationName = destinationName ?? transport.destination
        self.laneCapacity = laneCapacity
        var logger = logger
        logger[metadataKey: "destination"] = "\(self.destinationName)"
        logger[metadataKey: "topic"] = "\(topic)"
        self.logger = logger
    }

    public var statistics: OutboundStatistics { counters.withLockedValue { $0 } }

    /// Consumes and delivers until the task is cancelled (then returns normally, see the type's
    /// documentation). Call once per dispatcher.
    /// - Throws: `KafkaError` when the consumer or producer cannot be created, the topic does not
    ///   exist, or the Kafka client fails fatally; `OutboundError.alreadyRunning` on a second call.
    public func run() async throws {
        guard started.withLockedValue({ started in defer { started = true }; return !started }) else {
            throw OutboundError.alreadyRunning
        }
        let consumer = try KafkaConsumer(config: kafka, groupID: groupID, topics: [topic], logger: logger)
        let producer: KafkaProducer
        do { producer = try KafkaProducer(config: kafka, logger: logger) } catch {
            await consumer.close()
            throw error
        }
        logger.info("outbound dispatcher started", metadata: ["group": "\(groupID)", "maxAttempts": "\(policy.maxAttempts)"])
        let lanes = NIOLockedValueBox<[Int32: LaneQueue]>([:])
        let finishLanes: @Sendable () -> Void = {
            lanes.withLockedValue { $0.values.forEach { $0.finish() } }
        }
        var failure: Error?
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                do {
                    while true {
                        let batch = try await consumer.nextBatch(maxCount: 500)
                        if batch.isEmpty { break }
                        for record in batch {
                            let (lane, isNew) = lanes.withLockedValue { lanes -> (LaneQueue, Bool) in
                                if let lane = lanes[record.partition] { return (lane, false) }
                                let lane = LaneQueue(capacity: laneCapacity)
                                lanes[record.partition] = lane
                                return (lane, true)
                            }
                            if isNew {
                                // A lane created after cancellation must not wait for records.
                                if Task.isCancelled { lane.finish() }
                                group.addTask { await self.runLane(lane, partition: record.partition, consumer: consumer, producer: producer) }
                            }
                            await lane.push(record)
                        }
                    }
                } catch is CancellationError {
                } catch {
                    failure = error
                }
                finishLanes()
                await group.waitForAll()
            }
        } onCancel: {
            finishLanes()
        }
        await consumer.close()
        await producer.shutdown(timeout: .seconds(5))
        let totals = statistics
        logger.info("outbound dispatcher stopped", metadata: [
            "delivered": "\(totals.delivered)", "retried": "\(totals.retried)", "deadLettered": "\(totals.deadLettered)",
        ])
        if let failure { throw failure }
    }

    // MARK: - One partition

    private func runLane(_ lane: LaneQueue, partition: Int32, consumer: KafkaConsumer, producer: KafkaProducer) async {
        // Offsets below this were delivered or dead-lettered here already: after a rebalance
        // hands the partition back, the consumer may fetch them again from the committed offset.
        var nextOffset: Int64 = -1
        while let record = await lane.pop() {
            if record.offset < nextOffset { continue }
            guard await process(record, producer: producer) else { return }
            nextOffset = record.offset + 1
            do {
                try await consumer.commit([record.nextPosition])
            } catch {
                // Positions are cumulative: the next commit covers this one. If the partition
                // was revoked, its new owner redelivers from the last committed offset.
                logger.warning("commit failed", metadata: meta(record, ["error": "\(error)"]))
            }
            if Task.isCancelled { return }
        }
    }

    /// Delivers or dead-letters one record. Returns false when cancelled before either happened
    /// (the record stays uncommitted).
    private func process(_ record: KafkaConsumerMessage, producer: KafkaProducer) async -> Bool {
        var attempt = 1
        while true {
            let transport = self.transport
            // The attempt runs in its own task so that cancelling the dispatcher never cuts a
            // message off mid-exchange; the transport's timeout bounds the wait.
            let result = await Task { () async -> Result<Void, DeliveryFailure> in
                do throws(DeliveryFailure) {
                    try await transport.deliver(record)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }.value
            switch result {
            case .success:
                counters.withLockedValue { $0.delivered += 1 }
                OutboundMetrics.count(destinationName, "delivered")
                if attempt > 1 { logger.info("delivered after retries", metadata: meta(record, ["attempt": "\(attempt)"])) }
                return true
            case .failure(let failure):
                if !failure.retriable || attempt >= policy.maxAttempts {
                    return await deadLetter(record, failure: failure, attempts: attempt, producer: producer)
                }
                let wait = policy.backoff(afterAttempt: attempt, atLeast: failure.retryAfter)
                logger.warning("delivery attempt failed; retrying", metadata: meta(record, [
                    "attempt": "\(attempt)", "reason": "\(failure.reason)", "error": "\(failure.message)", "backoff": "\(wait)",
                ]))
                counters.withLockedValue { $0.retried += 1 }
                OutboundMetrics.count(destinationName, "retried")
                do { try await Task.sleep(for: wait) } catch { return false }
                attempt += 1
            }
        }
    }

    /// Produces the dead letter, retrying while Kafka is unavailable: the record's offset must
    /// not be committed before its dead letter is durable.
    private func deadLetter(_ record: KafkaConsumerMessage, failure: DeliveryFailure, attempts: Int, producer: KafkaProducer) async -> Bool {
        let letter = DeadLetter.record(
            for: record, failure: failure, attempts: attempts, maxAttempts: policy.maxAttempts,
            destination: destinationName, topic: deadLetterTopic)
        var retry = 1
        while true {
            do {
                try await producer.send(letter)
                counters.withLockedValue { $0.deadLettered += 1 }
                OutboundMetrics.count(destinationName, "dead_lettered")
                logger.error("record dead-lettered", metadata: meta(record, [
                    "attempts": "\(attempts)", "reason": "\(DeadLetter.reason(for: failure, attempts: attempts, maxAttempts: policy.maxAttempts))",
                    "error": "\(failure.message)", "deadLetterTopic": "\(deadLetterTopic)",
                ]))
                return true
            } catch {
                logger.error("cannot write dead letter; retrying", metadata: meta(record, ["error": "\(error)", "deadLetterTopic": "\(deadLetterTopic)"]))
                do { try await Task.sleep(for: policy.backoff(afterAttempt: retry)) } catch { return false }
                retry += 1
            }
        }
    }

    private func meta(_ record: KafkaConsumerMessage, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["partition": "\(record.partition)", "offset": "\(record.offset)"]
        metadata.merge(extra) { _, new in new }
        return metadata
    }
}

/// Misuse of the outbound API.
public enum OutboundError: Error, Sendable, Equatable {
    /// `run()` was called a second time on the same dispatcher.
    case alreadyRunning
}
