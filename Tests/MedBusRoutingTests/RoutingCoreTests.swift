import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusRouting
import XCTest

/// The routing core against the embedded cluster: one test per semantic of the loop.
final class RoutingCoreTests: XCTestCase {
    struct Topics {
        let input = unique("raw.his")
        let output = unique("canonical.encounter")
        let dlq = unique("dlq.routing")
    }

    func makeTopics(_ cluster: EmbeddedKafkaCluster, inputPartitions: Int = 4, outputPartitions: Int = 4) throws -> Topics {
        let topics = Topics()
        try cluster.createTopic(topics.input, partitions: inputPartitions)
        try cluster.createTopic(topics.output, partitions: outputPartitions)
        try cluster.createTopic(topics.dlq, partitions: 2)
        return topics
    }

    func configuration(_ cluster: EmbeddedKafkaCluster, _ topics: Topics, transactionalID: String = unique("medbus-router"), maxBatch: Int = 1000, parallelism: Int = 2) -> RoutingConfiguration {
        RoutingConfiguration(kafka: testConfig(cluster), groupID: unique("router"), inputTopics: [topics.input], transactionalID: transactionalID,
                             deadLetterTopic: topics.dlq, maxBatch: maxBatch, parallelism: parallelism, recoveryWindow: .seconds(600))
    }

    /// Semantics 1–3: every record is routed, dead-lettered or skipped in one transaction per batch;
    /// outputs carry the envelope, the mapping version and their source; dead letters carry the
    /// original record and the reason; tombstones are dead-lettered as `empty-record`.
    func testRoutesDeadLettersAndSkipsWithHeaders() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        let values: (Int) -> String = { i in i % 10 == 3 ? "bad-\(i)" : i % 10 == 5 ? "skip-\(i)" : i % 10 == 7 ? "two-\(i)" : "ok-\(i)" }
        var inputs = rawRecords(topic: topics.input, range: 0..<200, value: values)
        inputs.append(KafkaProducerMessage(topic: topics.input, key: Array("key-8".utf8), value: nil, headers: envelope(200)))
        try await seed(config, inputs)

        let core = RoutingCore(configuration: configuration(cluster, topics), router: CopyRouter(version: "adt@3", target: topics.output))
        let running = Task { try await core.run() }
        let stats = try await waitFor(core, "all inputs committed") { $0.consumed == 201 }
        let runError = await stop(core, running)
        XCTAssertNil(runError)
        XCTAssertEqual(stats.routed, 140 + 2 * 20, "ok ×140, two ×20 (each giving two)")
        XCTAssertEqual(stats.deadLettered, 21)
        XCTAssertEqual(stats.skipped, 20)
        XCTAssertEqual(stats.aborts, 0)
        XCTAssertGreaterThanOrEqual(stats.transactions, 1)
        XCTAssertEqual(stats.version, "adt@3")

        let outputs = try await readAll(config, topics: [topics.output], count: 180)
        XCTAssertEqual(outputs.count, 180)
        for record in outputs {
            let index = Int(record.headers.string("medbus-message-id")!.dropFirst(4))!
            XCTAssertEqual(record.headers.string("medbus-mapping-version"), "adt@3")
            XCTAssertEqual(record.headers.string("medbus-source-topic"), topics.input)
            XCTAssertNotNil(record.headers.string("medbus-source-partition"))
            XCTAssertNotNil(record.headers.string("medbus-source-offset"))
            XCTAssertEqual(record.headers.string("medbus-correlation-id"), "corr-\(index)")
            XCTAssertEqual(record.headers.string("medbus-source"), "his.h1")
            XCTAssertNotNil(record.headers.string("traceparent"))
            XCTAssertNotNil(record.headers.string("medbus-received-at"))
            XCTAssertEqual(record.keyString, "key-\(index % 16)")
            let outputIndex = record.headers.string("medbus-output-index")
            if outputIndex == "1" {
                XCTAssertEqual(record.valueString, "second-two-\(index)")
                XCTAssertEqual(record.headers.string("medbus-message-type"), "derived")
            } else {
                XCTAssertEqual(record.valueString, values(index))
                XCTAssertEqual(record.headers.string("medbus-message-type"), "ADT^A01")
            }
        }
        XCTAssertEqual(Set(outputs.compactMap(outputID)).count, 180, "each output once")

        let letters = try await readAll(config, topics: [topics.dlq], count: 21)
        XCTAssertEqual(letters.count, 21)
        for letter in letters {
            let index = Int(letter.headers.string("medbus-message-id")!.dropFirst(4))!
            XCTAssertEqual(Array(letter.headers.prefix(inputs[index].headers.count)), inputs[index].headers, "original headers kept")
            XCTAssertEqual(letter.keyString, "key-\(index % 16)")
            XCTAssertEqual(letter.headers.string("medbus-source-topic"), topics.input)
            XCTAssertNotNil(letter.headers.string("medbus-dead-lettered-at"))
            if index == 200 {
                XCTAssertNil(letter.value, "the tombstone stays a tombstone")
                XCTAssertEqual(letter.headers.string("medbus-error-reason"), "empty-record")
            } else {
                XCTAssertEqual(letter.valueString, "bad-\(index)")
                XCTAssertEqual(letter.headers.string("medbus-error-reason"), "missing-code")
                XCTAssertEqual(letter.headers.string("medbus-error-mapping"), "adt-patient-encounter")
                XCTAssertEqual(letter.headers.string("medbus-error-mapping-version"), "adt@3")
                XCTAssertEqual(letter.headers.string("medbus-error-rule"), "PV1-3")
                XCTAssertEqual(letter.headers.string("medbus-error-message"), "location code missing")
            }
        }
    }

    /// Semantics 7: with parallel routing and many keys, each key's outputs come in input order.
    func testPerKeyOrderWithParallelRouting() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster, inputPartitions: 6, outputPartitions: 5)
        let config = testConfig(cluster)
        let keys = 50, perKey = 60
        try await seed(config, (0..<perKey).flatMap { sequence in
            (0..<keys).map { key in KafkaProducerMessage(topic: topics.input, key: "patient-\(key)", value: "\(key):\(sequence)", headers: envelope(sequence)) }
        })

        let core = RoutingCore(configuration: configuration(cluster, topics, maxBatch: 700, parallelism: 4), router: CopyRouter(version: "v1", target: topics.output))
        let running = Task { try await core.run() }
        try await waitFor(core, "all inputs committed") { $0.consumed == keys * perKey }
        _ = await stop(core, running)

        let outputs = try await readAll(config, topics: [topics.output], count: keys * perKey)
        XCTAssertEqual(outputs.count, keys * perKey)
        var sequences: [String: [Int]] = [:]
        for record in outputs {
            let parts = record.valueString!.split(separator: ":")
            XCTAssertEqual(record.keyString, "patient-\(parts[0])")
            sequences[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        XCTAssertEqual(sequences.count, keys)
        for (key, sequence) in sequences {
            XCTAssertEqual(sequence, Array(0..<perKey), "key \(key)")
        }
    }

    /// Semantics 5: a router swapped while records flow takes over at a batch boundary; no record
    /// is lost or duplicated, versions never go back, and records sent after the swap all carry the
    /// new version.
    func testHotReloadSwitchesVersionAtTransactionBoundary() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        let core = RoutingCore(configuration: configuration(cluster, topics, maxBatch: 100), router: CopyRouter(version: "map@1", target: topics.output))
        let running = Task { try await core.run() }

        let total = 3000
        let producer = try KafkaProducer(config: config)
        var switchedAt = 0
        for chunk in 0..<30 {
            let reports = try await producer.sendBatch(rawRecords(topic: topics.input, range: chunk * 100..<(chunk + 1) * 100))
            XCTAssertEqual(reports.compactMap(\.error).count, 0)
            if chunk == 12 {
                try await waitFor(core, "first records routed") { $0.consumed >= 600 }
                await core.update(router: CopyRouter(version: "map@2", target: topics.output))
                switchedAt = (chunk + 1) * 100
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await producer.shutdown()
        let stats = try await waitFor(core, "all inputs committed") { $0.consumed == total }
        _ = await stop(core, running)
        XCTAssertEqual(stats.version, "map@2")
        XCTAssertEqual(stats.routed, total)

        let outputs = try await readAll(config, topics: [topics.output], count: total)
        XCTAssertEqual(outputs.count, total)
        XCTAssertEqual(Set(outputs.compactMap(outputID)).count, total, "no duplicates")
        var byPartition: [InputPartition: [(Int64, String)]] = [:]
        for record in outputs {
            let id = outputID(record)!
            byPartition[id.source, default: []].append((id.sourceOffset, record.headers.string("medbus-mapping-version")!))
            let index = Int(record.headers.string("medbus-message-id")!.dropFirst(4))!
            if index >= switchedAt { XCTAssertEqual(record.headers.string("medbus-mapping-version"), "map@2", "record \(index) sent after the swap") }
        }
        var counts: [String: Int] = [:]
        for (partition, entries) in byPartition {
            let versions = entries.sorted { $0.0 < $1.0 }.map(\.1)
            versions.forEach { counts[$0, default: 0] += 1 }
            let firstNew = versions.firstIndex(of: "map@2") ?? versions.count
            XCTAssertTrue(versions[firstNew...].allSatisfy { $0 == "map@2" }, "\(partition) went back to the old version")
        }
        XCTAssertGreaterThan(counts["map@1", default: 0], 0)
        XCTAssertGreaterThan(counts["map@2", default: 0], 0)
    }

    /// The core takes the next batch while the current one commits: a router update made while it
    /// waits idle for records must still apply to the records that arrive after the update.
    func testUpdateWhileIdleAppliesToTheNextRecords() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        let core = RoutingCore(configuration: configuration(cluster, topics, maxBatch: 100), router: CopyRouter(version: "map@1", target: topics.output))
        let running = Task { try await core.run() }
        let producer = try KafkaProducer(config: config)
        let first = try await producer.sendBatch(rawRecords(topic: topics.input, range: 0..<100))
        XCTAssertEqual(first.compactMap(\.error).count, 0)
        try await waitFor(core, "first records routed") { $0.consumed == 100 }
        try await Task.sleep(for: .milliseconds(200))  // idle: the next batch is being waited for
        await core.update(router: CopyRouter(version: "map@2", target: topics.output))
        let second = try await producer.sendBatch(rawRecords(topic: topics.input, range: 100..<200))
        XCTAssertEqual(second.compactMap(\.error).count, 0)
        await producer.shutdown()
        try await waitFor(core, "all inputs committed") { $0.consumed == 200 }
        _ = await stop(core, running)

        let outputs = try await readAll(config, topics: [topics.output], count: 200)
        XCTAssertEqual(outputs.count, 200)
        for record in outputs {
            let index = Int(record.headers.string("medbus-message-id")!.dropFirst(4))!
            XCTAssertEqual(record.headers.string("medbus-mapping-version"), index < 100 ? "map@1" : "map@2", "record \(index)")
        }
    }

    /// Semantics 4 and 6: produce requests fail (the transaction must abort); the core aborts,
    /// rewinds, rescans (the mock shows aborted records to read_committed consumers) and retries:
    /// every output is seen exactly once.
    func testProduceFailureAbortsAndRetriesWithoutLossOrDuplicates() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        try await seed(config, rawRecords(topic: topics.input, range: 0..<1500))

        let core = RoutingCore(configuration: configuration(cluster, topics, maxBatch: 50), router: CopyRouter(version: "v1", target: topics.output))
        let running = Task { try await core.run() }
        try await waitFor(core, "first batch") { $0.transactions >= 1 }
        // The next produce requests fail permanently (MESSAGE_TOO_LARGE): those records are lost
        // to the transaction, which can only abort.
        cluster.pushRequestErrors(.produce, Array(repeating: KafkaError.Code(rawValue: 10), count: 3))
        let stats = try await waitFor(core, "all inputs committed") { $0.consumed >= 1500 }
        let runError = await stop(core, running)
        XCTAssertNil(runError)
        XCTAssertGreaterThanOrEqual(stats.aborts, 1, "\(stats)")
        XCTAssertEqual(stats.consumed, 1500, "\(stats)")

        let outputs = try await readAll(config, topics: [topics.output], count: 1500)
        let ids = outputs.compactMap(outputID)
        XCTAssertEqual(ids.count, 1500, "exactly once (\(stats))")
        XCTAssertEqual(Set(ids.map { "\($0.source)@\($0.sourceOffset)" }).count, 1500)
    }

    /// Semantics 6: a router died with its transaction open (outputs written, offsets not
    /// committed). A new core with the same transactional id finds those outputs and does not
    /// write them again: the target holds each output exactly once.
    func testRestartAfterAbandonedTransactionWritesEachOutputOnce() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        try await seed(config, rawRecords(topic: topics.input, range: 0..<400, value: { $0 % 50 == 0 ? "bad-\($0)" : "ok-\($0)" }))
        let transactionalID = unique("medbus-router")
        let router = CopyRouter(version: "v1", target: topics.output)

        // The predecessor: routed the first 250 records, produced them, and died before committing.
        let inputs = try await KafkaTopicReader.read(config: config, topic: topics.input, since: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(inputs.count, 400)
        let crashed = Array(inputs.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }.prefix(250))
        let outputs = crashed.flatMap { OutputRecords.plan(for: $0, decision: router.route($0), version: "v1", deadLetterTopic: topics.dlq, now: "t") }
        let predecessor = try await KafkaTransactionalProducer(config: config, transactionalID: transactionalID)
        try predecessor.beginTransaction()
        let reports = try await predecessor.sendBatch(outputs.map(\.message))
        XCTAssertEqual(reports.compactMap(\.error).count, 0)
        await predecessor.shutdown(timeout: .zero)

        let core = RoutingCore(configuration: configuration(cluster, topics, transactionalID: transactionalID), router: router)
        let running = Task { try await core.run() }
        let stats = try await waitFor(core, "all inputs committed") { $0.consumed == 400 }
        _ = await stop(core, running)
        XCTAssertEqual(stats.alreadyPresent, outputs.count, "\(stats)")
        XCTAssertEqual(stats.routed + stats.deadLettered + stats.alreadyPresent, 400)

        let routed = try await readAll(config, topics: [topics.output, topics.dlq], count: 400)
        let ids = routed.compactMap(outputID)
        XCTAssertEqual(ids.count, 400, "each output exactly once")
        XCTAssertEqual(Set(ids).count, 400)
        XCTAssertEqual(routed.filter { $0.topic == topics.dlq }.count, 8)
    }

    /// Semantics 4: a newer instance with the same transactional id fences this one: `run()`
    /// ends with the fatal error instead of retrying. librdkafka 2.0.2's mock cluster does not
    /// fence an older producer epoch itself (a second producer's InitProducerId leaves the first
    /// one committing happily), so the coordinator's answer to a fenced producer is injected.
    func testFencedByNewerInstanceStopsWithFatalError() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        try await seed(config, rawRecords(topic: topics.input, range: 0..<100))
        let core = RoutingCore(configuration: configuration(cluster, topics), router: CopyRouter(version: "v1", target: topics.output))
        let running = Task { try await core.run() }
        try await waitFor(core, "first records") { $0.consumed == 100 }

        let fenced = KafkaError.Code(rawValue: 90) // PRODUCER_FENCED
        cluster.pushRequestErrors(.addPartitionsToTxn, Array(repeating: fenced, count: 5))
        cluster.pushRequestErrors(.addOffsetsToTxn, Array(repeating: fenced, count: 5))
        cluster.pushRequestErrors(.endTxn, Array(repeating: fenced, count: 5))
        try await seed(config, rawRecords(topic: topics.input, range: 100..<200))
        let watchdog = Task {
            try await Task.sleep(for: .seconds(90))
            await core.stop()
        }
        do {
            try await running.value
            XCTFail("a fenced core went on")
        } catch let error as KafkaError {
            XCTAssertTrue(error.isFatal, "\(error)")
        }
        watchdog.cancel()
        let stats = await core.statistics
        XCTAssertEqual(stats.consumed, 100, "nothing committed once fenced")
    }

    /// Semantics 4: all brokers go down for a while during a steady stream; the core retries and
    /// every output arrives exactly once.
    func testBrokersBrieflyDownNoLossNoDuplicates() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        let core = RoutingCore(configuration: configuration(cluster, topics, maxBatch: 200), router: CopyRouter(version: "v1", target: topics.output))
        let running = Task { try await core.run() }
        try await seed(config, rawRecords(topic: topics.input, range: 0..<500))
        try await waitFor(core, "first records") { $0.consumed >= 500 }

        let producer = try KafkaProducer(config: config)
        let sending = Task {
            for chunk in 0..<20 {
                _ = try await producer.sendBatch(rawRecords(topic: topics.input, range: 500 + chunk * 100..<600 + chunk * 100))
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        try await Task.sleep(for: .milliseconds(400))
        for broker in 1...3 { cluster.setBrokerDown(Int32(broker)) }
        try await Task.sleep(for: .seconds(2))
        for broker in 1...3 { cluster.setBrokerUp(Int32(broker)) }
        try await sending.value
        await producer.shutdown()

        // The outage may expire the group session: the partitions come back in a rebalance.
        let stats = try await waitFor(core, timeout: .seconds(120), "every input routed") { $0.routed >= 2500 }
        let runError = await stop(core, running)
        XCTAssertNil(runError)
        print("brokers down: \(stats)")
        let outputs = try await readAll(config, topics: [topics.output], count: 2500)
        let ids = outputs.compactMap(outputID)
        XCTAssertEqual(ids.count, 2500, "\(stats)")
        XCTAssertEqual(Set(ids).count, 2500)
    }

    /// Stopping while records flow ends `run()` normally; whatever was committed is complete, and a
    /// second core of the same group picks up the rest without duplicates.
    func testStopMidStreamThenSuccessorFinishes() async throws {
        let cluster = try makeCluster()
        let topics = try makeTopics(cluster)
        let config = testConfig(cluster)
        try await seed(config, rawRecords(topic: topics.input, range: 0..<3000))
        var settings = configuration(cluster, topics, maxBatch: 100)
        let first = RoutingCore(configuration: settings, router: CopyRouter(version: "v1", target: topics.output))
        let running = Task { try await first.run() }
        try await waitFor(first, "some batches") { $0.transactions >= 3 }
        running.cancel()
        try await running.value
        let before = await first.statistics

        settings.maxBatch = 1000
        let second = RoutingCore(configuration: settings, router: CopyRouter(version: "v1", target: topics.output))
        let running2 = Task { try await second.run() }
        // Each output is produced once overall, whether the successor resumes from the group's
        // offsets (Kafka) or re-reads from the start and skips the outputs it finds (embedded).
        let after = try await waitFor(second, "the rest") { $0.routed + before.routed >= 3000 }
        _ = await stop(second, running2)
        print("stop mid-stream: first \(before), second \(after)")

        let outputs = try await readAll(config, topics: [topics.output], count: 3000)
        XCTAssertEqual(outputs.compactMap(outputID).count, 3000)
        XCTAssertEqual(Set(outputs.compactMap(outputID)).count, 3000)
    }
}
