import Foundation
import MedBusKafka

/// Every record of `topic` as a read_committed consumer sees it: waits until at least
/// `expecting` arrived and nothing more came for 3 s (so duplicates show up), or `timeout`.
func readCommitted(_ topic: String, bootstrap: String, expecting: Int, timeout: Duration = .seconds(240)) async throws -> [KafkaConsumerMessage] {
    let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: bootstrap, properties: ["isolation.level": "read_committed"]),
                                     groupID: "verify-\(UUID().uuidString.prefix(8))", topics: [topic])
    let collected = CollectedRecords()
    let reader = Task {
        while true {
            let batch = try await consumer.nextBatch(maxCount: 5_000)
            if batch.isEmpty { return }
            await collected.append(batch)
        }
    }
    let deadline = ContinuousClock.now + timeout
    var last = -1
    var quietSince = ContinuousClock.now
    while ContinuousClock.now < deadline {
        let count = await collected.records.count
        if count != last { last = count; quietSince = ContinuousClock.now }
        if count >= expecting && ContinuousClock.now - quietSince > .seconds(3) { break }
        try await Task.sleep(for: .milliseconds(100))
    }
    await consumer.close()
    _ = try? await reader.value
    return await collected.records
}

private actor CollectedRecords {
    var records: [KafkaConsumerMessage] = []
    func append(_ batch: [KafkaConsumerMessage]) { records += batch }
}

/// Raw HL7 records as an adapter writes them (envelope headers, keyed by patient).
func rawRecord(topic: String, key: String, id: String, hl7: String, type: String = "ADT^A08") -> KafkaProducerMessage {
    KafkaProducerMessage(topic: topic, key: key, value: hl7, headers: [
        KafkaHeader(key: "medbus-message-id", string: id),
        KafkaHeader(key: "medbus-source", string: "his.H37010200001"),
        KafkaHeader(key: "medbus-message-type", string: type),
        KafkaHeader(key: "content-type", string: "x-application/hl7-v2+er7"),
        KafkaHeader(key: "medbus-received-at", string: "2025-01-15T10:30:45.000+08:00"),
    ])
}

/// Counts a topic's committed records in the background (one read_committed consumer for the
/// whole test), so a test can wait until a process has made progress before it acts on it.
final class CommittedProgress: Sendable {
    private let consumer: KafkaConsumer
    private let counted = CommittedCount()
    private let reader: Task<Void, Error>

    init(topic: String, bootstrap: String) throws {
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: bootstrap, properties: ["isolation.level": "read_committed"]),
                                         groupID: "progress-\(UUID().uuidString.prefix(8))", topics: [topic])
        let counted = counted
        self.consumer = consumer
        reader = Task {
            while true {
                let batch = try await consumer.nextBatch(maxCount: 5_000)
                if batch.isEmpty { return }
                await counted.add(batch.count)
            }
        }
    }

    var count: Int { get async { await counted.value } }

    /// Waits until more than `seen` records are committed; false after `timeout`.
    func wait(beyond seen: Int, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await counted.value > seen { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func close() async {
        await consumer.close()
        _ = try? await reader.value
    }
}

private actor CommittedCount {
    var value = 0
    func add(_ n: Int) { value += n }
}
