import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusDispatch
import MedBusKafka
import MedBusStore

extension BenchCommand {
    /// `medbus bench dispatch`: a realistic day of CAD events through the TCP interface, measuring
    /// vitals event in → updated pre-arrival notice on `dispatch.prearrival.<hospital>`, beside the
    /// raw produce → consume latency of the same payloads on the same cluster.
    struct Dispatch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Vitals at the CAD interface → updated pre-arrival notice (p50/p99), vs raw produce→consume of the same payloads.",
            discussion: """
            Each run replays a generated day (--tasks tasks, about 40 events each) over --connections \
            TCP connections at --rate events/s (0: as fast as acknowledgements come), with arrivals \
            held back so every task stays en route and each vitals event after leaving the scene must \
            produce an updated notice. Measured per vitals event: from writing its line to the \
            notice that carries its reading arriving at a consumer of the hospital topics. The \
            baseline produces the same event payloads with the same producer settings at the same \
            rate and measures each record's produce → consume latency.
            """
        )

        @Option(help: "Tasks per run (~40 events each).") var tasks: Int = 500
        @Option(help: "Events per second sent (0: unpaced).") var rate: Int = 2000
        @Option(help: "Concurrent CAD connections.") var connections: Int = 4
        @Option(help: "Runs; medians are reported.") var runs: Int = 3
        @Option(help: "The vital-sign table.") var vitalSigns: String = DispatchAdapter.defaultVitalSigns
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        func validate() throws {
            guard tasks > 0, rate >= 0, connections > 0, runs > 0 else { throw ValidationError("counts must be positive") }
        }

        func run() async throws {
            let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: Log.quietKafka)
            let hospitals = ["H37010200001", "H37010300002", "H37010400003"]
            try cluster.createTopic(TopicName.dispatchEvents, partitions: 24)
            for hospital in hospitals { try cluster.createTopic(try TopicName.dispatchPrearrival(hospital: hospital), partitions: 6) }
            let directory = NSTemporaryDirectory() + "medbus-bench-dispatch-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var quiet = Log.logger("medbus.bench")
            quiet.logLevel = .error
            // Every consumer here (timeline, notice watcher, baseline) asks the broker for records every 10 ms at most.
            let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["log_level": "3", "fetch.wait.max.ms": "10"])
            let store = try MessageStore.open(directory: directory)
            let signs = try VitalSigns.load(path: vitalSigns)
            let timelines = try TimelineStore.open(directory: directory, vitalSigns: signs)
            let producer = try KafkaProducer(config: AdapterHost.producerConfig(config), logger: quiet)
            let manifest = AdapterManifest(kind: DispatchAdapter.kind, name: "bench", sender: "JN120", host: "127.0.0.1", port: 0, options: ["vitalSigns": vitalSigns])
            let adapter = try DispatchAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer, logger: quiet), logger: quiet)
            let (ports, bound) = AsyncStream.makeStream(of: Int.self)
            let server = Task { try await adapter.run { bound.yield($0) } }
            var portIterator = ports.makeAsyncIterator()
            guard let port = await portIterator.next() else { throw CommandFailure("adapter did not start") }
            let timeline = Task { try await TimelineService(store: timelines, kafka: config, vitalSigns: signs, logger: quiet).run() }
            let notices = try NoticeWatcher(config: config, topics: hospitals.map { try TopicName.dispatchPrearrival(hospital: $0) })
            try await notices.waitUntilAssigned()
            // Start-up must not count: the timeline's group join (~3 s on the embedded cluster) and its
            // producer's first metadata for each hospital topic. One notice per hospital goes through first.
            let warmup = try LineClient(port: port)
            for hospital in hospitals {
                try warmup.send(line: Array(#"{"eventId":"warmup-\#(hospital)","taskId":"warmup-\#(hospital)","stage":"left-scene","occurredAt":"2025-01-15T00:00:00+08:00","destinationHospital":"\#(hospital)"}"#.utf8))
                _ = try warmup.readLine()
            }
            for hospital in hospitals {
                while try !timelines.notices(of: "warmup-\(hospital)").contains(where: \.published) { try await Task.sleep(for: .milliseconds(50)) }
            }

            var pipeline: [Sample] = []
            var baseline: [Sample] = []
            var events: [Double] = []
            for run in 1...runs {
                let day = DispatchDay(tasks: tasks, hospitals: hospitals, seed: UInt64(run), idPrefix: "TB\(run)-")
                let measured = try await Self.replay(day, port: port, connections: connections, rate: rate, notices: notices)
                pipeline.append(measured.sample)
                events.append(measured.eventsPerSecond)
                log("run \(run) dispatch: \(day.events.count) events at \(Int(measured.eventsPerSecond)) events/s; \(measured.sample.failed) vitals without a notice; notice p50 \(ms(measured.sample.p50)) ms, p99 \(ms(measured.sample.p99)) ms over \(measured.count) vitals")
                let topic = "bench.dispatch.raw.\(run)"
                try cluster.createTopic(topic, partitions: 24)
                let raw = try await Self.rawProduceConsume(day.events.map(\.line), topic: topic, config: config, rate: rate)
                baseline.append(raw)
                log("run \(run) raw: produce→consume p50 \(ms(raw.p50)) ms, p99 \(ms(raw.p99)) ms, \(Int(raw.throughput)) msg/s")
            }
            adapter.shutdown()
            try await server.value
            timeline.cancel()
            _ = try? await timeline.value
            await notices.close()
            await producer.shutdown()
            try store.close()
            try timelines.close()

            let p50 = median(pipeline.map { seconds($0.p50) }), p99 = median(pipeline.map { seconds($0.p99) })
            let rawP50 = median(baseline.map { seconds($0.p50) }), rawP99 = median(baseline.map { seconds($0.p99) })
            let report = [
                "Dispatch: \(tasks) tasks/run (generated day, arrivals held back), \(connections) TCP connections, \(rate == 0 ? "unpaced" : "\(rate) events/s"); embedded 3-broker cluster; median of \(runs) runs.",
                "",
                "| path | events/s (median) | p50 ms | p99 ms | p99 vs raw |",
                "|---|---:|---:|---:|---:|",
                "| raw produce→consume, same payloads and rate (baseline) | \(Int(median(baseline.map(\.throughput)))) | \(ms(rawP50)) | \(ms(rawP99)) | 1.0× |",
                "| vitals line in at TCP → updated notice on dispatch.prearrival.<hospital> | \(Int(median(events))) | \(ms(p50)) | \(ms(p99)) | \(String(format: "%.1f×", p99 / max(rawP99, 1e-9))) |",
                "",
                "Target p99 < 1 s: \(p99 < 1 ? "met" : "missed").",
            ].joined(separator: "\n")
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        private func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

        struct Measured {
            var sample: Sample
            var eventsPerSecond: Double
            var count: Int
        }

        /// Sends the day (arrivals held back) over `connections` paced connections and matches each
        /// vitals event sent while en route to the first notice of its task carrying its reading.
        static func replay(_ day: DispatchDay, port: Int, connections: Int, rate: Int, notices: NoticeWatcher) async throws -> Measured {
            let held: Set<DispatchStage> = [.arrivedHospital, .handover, .completed]
            let events = day.events.filter { !held.contains($0.stage) }
            let leftScene = Dictionary(uniqueKeysWithValues: day.plans.compactMap { plan in plan.reached[.leftScene].map { (plan.taskId, $0) } })
            // Vitals after leaving the scene, with a destination: each must update its notice.
            let probes = events.indices.filter { index in
                let event = events[index]
                return event.stage == .vitals && leftScene[event.taskId].map { event.time > $0 } ?? false
            }
            let sentAt = LockedBox([ContinuousClock.Instant?](repeating: nil, count: events.count))
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in 0..<connections {
                    let mine = events.indices.filter { $0 % connections == connection }
                    group.addTask {
                        try await onThread {
                            let client = try LineClient(port: port)
                            let reader = Thread {
                                var remaining = mine.count
                                while remaining > 0, (try? client.readLine()) != nil { remaining -= 1 }
                            }
                            reader.start()
                            let perSecond = Double(rate) / Double(connections)
                            for (n, index) in mine.enumerated() {
                                if rate > 0 {
                                    let due = start + .seconds(Double(n) / perSecond)
                                    let wait = due - ContinuousClock.now
                                    if wait > .zero { Thread.sleep(forTimeInterval: seconds(wait)) }
                                }
                                let now = ContinuousClock.now
                                sentAt.withLockedValue { $0[index] = now }
                                try client.send(line: events[index].line)
                            }
                            while !reader.isFinished { Thread.sleep(forTimeInterval: 0.001) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let acked = ContinuousClock.now
            // Every probe's notice, or give up after 30 s.
            var latencies: [Duration] = []
            var missing = 0
            let sent = sentAt.withLockedValue { $0 }
            for index in probes {
                let event = events[index]
                guard let arrival = try await notices.firstNotice(task: event.taskId, carrying: event.time, timeout: .seconds(30)), let sentTime = sent[index] else {
                    missing += 1
                    continue
                }
                latencies.append(arrival - sentTime)
            }
            guard !latencies.isEmpty else { throw CommandFailure("no notice arrived") }
            let sorted = latencies.sorted()
            FileHandle.standardError.write(Data("  latency p90 \(ms(sorted[sorted.count * 90 / 100])) ms, p95 \(ms(sorted[sorted.count * 95 / 100])) ms, max \(ms(sorted[sorted.count - 1])) ms, over 1 s: \(sorted.filter { $0 > .seconds(1) }.count)\n".utf8))
            var result = sample(latencies: latencies, elapsed: acked - start, failed: missing)
            result.throughput = Double(latencies.count) / seconds(acked - start)
            return Measured(sample: result, eventsPerSecond: Double(events.count) / seconds(acked - start), count: latencies.count)
        }

        /// The baseline: the same payloads produced (Swift producer, acks=all, linger.ms=1, keyed
        /// by task) at the same rate and consumed by a group member; per record, send → receipt.
        static func rawProduceConsume(_ payloads: [[UInt8]], topic: String, config: KafkaConfig, rate: Int) async throws -> Sample {
            let consumer = try KafkaConsumer(config: config, groupID: "bench-raw-\(UUID().uuidString.prefix(6))", topics: [topic], logger: Log.quietKafka)
            // Join the group before the clock starts (the embedded cluster's join takes ~3 s).
            let producer = try KafkaProducer(config: AdapterHost.producerConfig(config), logger: Log.quietKafka)
            _ = try await producer.send(KafkaProducerMessage(topic: topic, key: "warmup", value: "warmup"))
            _ = try await consumer.nextBatch(maxCount: 1, within: .seconds(30))
            let sentAt = LockedBox([ContinuousClock.Instant?](repeating: nil, count: payloads.count))
            let start = ContinuousClock.now
            let sending = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, payload) in payloads.enumerated() {
                        if rate > 0 {
                            let wait = start + .seconds(Double(index) / Double(rate)) - ContinuousClock.now
                            if wait > .zero { try await Task.sleep(for: wait) }
                        }
                        let now = ContinuousClock.now
                        sentAt.withLockedValue { $0[index] = now }
                        group.addTask {
                            _ = try await producer.send(KafkaProducerMessage(topic: topic, key: Array("\(index)".utf8), value: payload, headers: [KafkaHeader(key: "i", string: "\(index)")]))
                        }
                    }
                    try await group.waitForAll()
                }
            }
            var latencies: [Duration] = []
            let deadline = ContinuousClock.now + .seconds(120)
            while latencies.count < payloads.count, ContinuousClock.now < deadline {
                let batch = try await consumer.nextBatch(maxCount: 1000, within: .milliseconds(500))
                let now = ContinuousClock.now
                let sent = sentAt.withLockedValue { $0 }
                for record in batch {
                    if let index = record.headers.string("i").flatMap(Int.init), let time = sent[index] { latencies.append(now - time) }
                }
            }
            try await sending.value
            let elapsed = ContinuousClock.now - start
            await producer.shutdown()
            await consumer.close()
            return sample(latencies: latencies, elapsed: elapsed, failed: payloads.count - latencies.count)
        }
    }
}

/// Follows the hospital topics and remembers, per task, when each notice arrived and the latest
/// vitals time it carried.
final class NoticeWatcher: Sendable {
    private let consumer: KafkaConsumer
    private let seen = LockedBox<[String: [(arrived: ContinuousClock.Instant, latest: EventTime)]]>([:])
    private let reading: Task<Void, Never>

    init(config: KafkaConfig, topics: [String]) throws {
        let consumer = try KafkaConsumer(config: config, groupID: "bench-notices-\(UUID().uuidString.prefix(6))", topics: topics, logger: Log.quietKafka)
        self.consumer = consumer
        let seen = self.seen
        reading = Task {
            while !Task.isCancelled {
                guard let batch = try? await consumer.nextBatch(maxCount: 1000, within: .milliseconds(200)) else { return }
                let now = ContinuousClock.now
                for record in batch {
                    guard let task = record.keyString, let notice = try? JSONParser.parse(record.value ?? []) else { continue }
                    let latest = (notice["vitals"]?.arrayValue ?? []).compactMap { $0["acqTime"]?.stringValue.flatMap(EventTime.init) }.max()
                    if let latest { seen.withLockedValue { $0[task, default: []].append((now, latest)) } }
                }
            }
        }
    }

    /// Waits for the group join, so it is not inside any measurement.
    func waitUntilAssigned() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? consumer.assignment().isEmpty) ?? true, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
    }

    /// When the first notice of `task` whose vitals reach `time` arrived.
    func firstNotice(task: String, carrying time: EventTime, timeout: Duration) async throws -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let hit = seen.withLockedValue({ $0[task]?.first { $0.latest >= time }?.arrived }) { return hit }
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func close() async {
        reading.cancel()
        await consumer.close()
    }
}

/// A value shared between the sender threads and the measuring task.
private final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLockedValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Runs blocking socket work on its own thread, off Swift's small cooperative pool.
private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
