import Foundation
import Logging
import MedBusKafka

/// Outputs already in the target topics for inputs the core is about to process (again), so that
/// reprocessing does not write them twice.
///
/// **Why this exists.** On Apache Kafka, a transaction's records become visible to
/// `read_committed` consumers only when it commits, together with the input offsets; an aborted
/// or abandoned transaction's records are never seen. Reprocessing from the committed offsets is
/// then exactly-once by itself, and the scan below finds nothing.
///
/// The embedded cluster (librdkafka's mock) has **no transaction isolation**: its Fetch answers
/// LastStableOffset = end offset and no aborted transactions, so `read_committed` consumers also
/// see records of aborted and still-open transactions. (It also does not apply TxnOffsetCommit to
/// the group's committed offsets, so a restarted router re-reads its inputs from the beginning.)
/// Without help, every abort or crash would duplicate outputs there.
///
/// **What the core does.** After the first assignment of a partition, after every rebalance and
/// after every abort, it
/// reads each target topic (router targets and the dead-letter topic) with `KafkaTopicReader`
/// since now − `recoveryWindow` (`read_committed`, so on Kafka only committed records), and keeps
/// the outputs whose `medbus-source-topic/partition/offset` is at or after the committed position
/// of that input partition: they were written by a transaction whose offsets did not commit.
/// While reprocessing, an output with the same source position, output topic and
/// `medbus-output-index` is not produced again. On Kafka the set is empty, so this is harmless;
/// on the embedded cluster it turns "each output at least once" into "exactly once".
///
/// Limits: the match is by position, not content, so a router changed between the attempts keeps
/// the first attempt's output; outputs older than the window (on Kafka, where the window applies)
/// are not found, so the window must cover the transaction timeout.
struct InDoubtOutputs {
    /// Input partitions whose outputs have been scanned since the last abort.
    private(set) var scanned: Set<InputPartition> = []
    private var outputs: [InputPartition: Set<OutputID>] = [:]

    var count: Int { outputs.values.reduce(0) { $0 + $1.count } }

    /// Forgets everything: after an abort, the log has changed under the last scan.
    mutating func invalidate() {
        scanned.removeAll()
        outputs.removeAll()
    }

    /// Forgets partitions this core no longer owns.
    mutating func forget(_ partitions: Set<InputPartition>) {
        guard !partitions.isEmpty else { return }
        scanned.subtract(partitions)
        for partition in partitions { outputs[partition] = nil }
    }

    /// Records the result of a scan of `partitions` (replacing what was known about them).
    mutating func record(_ found: [OutputID], scanned partitions: Set<InputPartition>) {
        for partition in partitions { outputs[partition] = nil }
        for id in found where partitions.contains(id.source) { outputs[id.source, default: []].insert(id) }
        scanned.formUnion(partitions)
    }

    /// Whether `id` is already written; each one is reported once (a later abort rescans anyway).
    mutating func takeIfPresent(_ id: OutputID) -> Bool {
        guard !outputs.isEmpty, outputs[id.source]?.remove(id) != nil else { return false }
        if outputs[id.source]?.isEmpty == true { outputs[id.source] = nil }
        return true
    }

    /// Reads `topics` and returns the outputs of `thresholds`' partitions at or after the given
    /// source offsets. A topic that does not exist holds no outputs.
    /// - Throws: `KafkaError` if a topic cannot be read to its end in time.
    static func scan(
        config: KafkaConfig,
        topics: Set<String>,
        thresholds: [InputPartition: Int64],
        since: Date,
        logger: Logger
    ) async throws -> [OutputID] {
        try await withThrowingTaskGroup(of: [OutputID].self) { group in
            for topic in topics {
                group.addTask {
                    let records: [KafkaConsumerMessage]
                    do {
                        records = try await KafkaTopicReader.read(config: config, topic: topic, since: since, logger: logger)
                    } catch let error as KafkaError where error.code == .unknownTopicOrPartition || error.code == .unknownTopic {
                        return []
                    }
                    return records.compactMap { record in
                        guard let id = OutputID(headers: record.headers, topic: record.topic),
                              let threshold = thresholds[id.source], id.sourceOffset >= threshold
                        else { return nil }
                        return id
                    }
                }
            }
            var found: [OutputID] = []
            for try await part in group { found += part }
            return found
        }
    }
}
