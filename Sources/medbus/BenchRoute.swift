import ArgumentParser
import Foundation
import MedBusKafka
import MedBusMapping
import MedBusRouting

extension BenchCommand {
    /// `medbus bench route`: the routing core end to end — consume raw.*, apply the shipped
    /// ADT mapping (patient + encounter, schema-validated), produce both outputs and the offsets
    /// in one Kafka transaction per batch — beside a raw C librdkafka producer of the same
    /// payloads on the same embedded cluster.
    struct Route: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Routing msgs/s (consume → map → transactional produce) vs raw C librdkafka produce of the same payloads.")

        @Option(help: "Raw records per run.") var messages: Int = 50_000
        @Option(help: "Partitions of the raw and target topics (the embedded cluster keeps ~5 MiB per partition).") var partitions: Int = 24
        @Option(help: "Distinct patients (keys).") var keys: Int = 1000
        @Option(help: "Most records per batch, hence per transaction (the router's --batch).") var batch: Int = RoutingConfiguration.defaultMaxBatch
        @Option(help: "Runs; medians are reported.") var runs: Int = 3
        @Option(help: "The mapping applied.") var mapping: String = "Mappings/his/adt-patient-encounter.yaml"
        @Option(help: "The raw message (HL7 v2) routed.") var sample: String = "Adapters/samples/adt_a01.hl7"
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        func validate() throws {
            guard messages > 0, partitions > 0, keys > 0, runs > 0, batch > 0 else { throw ValidationError("all counts must be positive") }
            // Outputs run to ~1.5 KiB; past ~4 MiB a partition of the embedded cluster drops records.
            guard messages * 1_536 / partitions < 4 * 1024 * 1024 else {
                throw ValidationError("messages × ~1.5 KiB / partitions must stay under 4 MiB, or the embedded cluster drops records; add partitions")
            }
        }

        func run() async throws {
            let compiled: Mapping
            do { compiled = try Mapping.compile(try MappingBundle.load(mappingFile: URL(fileURLWithPath: mapping)), version: 1) } catch { throw CommandFailure("\(error)") }
            let payload = [UInt8](try Data(contentsOf: URL(fileURLWithPath: sample)))
            var routing: [Double] = [], baseline: [Double] = [], routingCPU: [Double] = [], baselineCPU: [Double] = [], outputs = 0
            for run in 1...runs {
                let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: Log.quietKafka)
                for topic in ["raw.his.bench", "raw.bench.baseline", "dlq.routing"] + compiled.targetTopics {
                    try cluster.createTopic(topic, partitions: partitions)
                }
                let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
                let rawStart = processCPUSeconds()
                let raw = try await rawProduce(bootstrap: cluster.bootstrapServers, topic: "raw.bench.baseline", payload: payload,
                                               count: messages, keys: keys, properties: KafkaProducer.defaultProperties)
                baseline.append(raw.throughput)
                baselineCPU.append((processCPUSeconds() - rawStart) * 1e6 / Double(messages))
                try await fill(config, payload: payload)
                let (rate, cpu, produced) = try await route(config, compiled)
                routing.append(rate)
                routingCPU.append(cpu)
                outputs = produced
                FileHandle.standardError.write(Data("run \(run): routing \(Int(rate)) msg/s (\(Int(cpu)) µs CPU each), raw produce \(Int(raw.throughput)) msg/s (\(Int(baselineCPU.last!)) µs CPU each)\n".utf8))
            }
            let route = median(routing), raw = median(baseline), routeCPU = median(routingCPU), rawCPU = median(baselineCPU)
            let report = """
            Routing end to end on the embedded cluster (3 brokers, \(partitions) partitions): \(messages) raw ADT^A01 records (\(payload.count) B, \(keys) patients) \
            consumed, mapped by \(mapping) (patient + encounter, \(outputs / messages) outputs each, schema-validated) and produced with the consumed offsets \
            in one Kafka transaction per batch (at most \(batch) records); timed from the first committed batch (the group join, ~3 s in the mock, excluded). \
            Baseline: the raw C librdkafka producer of the same payloads in the same run. Median of \(runs) runs. CPU: user + system \
            time of the whole process (every thread, the embedded brokers' included) per message, which a loaded machine disturbs \
            less than msgs/s; "msg/s per CPU-second" is its inverse.

            | variant | msg/s (median) | vs baseline | CPU µs/msg (median) | msg/s per CPU-second |
            |---|---:|---:|---:|---:|
            | raw C produce (baseline) | \(Int(raw)) | 100% | \(Int(rawCPU)) | \(Int(1e6 / rawCPU)) |
            | route: consume → map → transactional produce | \(Int(route)) | \(String(format: "%.0f%%", 100 * route / raw)) | \(Int(routeCPU)) | \(Int(1e6 / routeCPU)) |
            """
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        /// The raw records an HIS adapter would have written, with their envelope headers.
        private func fill(_ config: KafkaConfig, payload: [UInt8]) async throws {
            let producer = try KafkaProducer(config: config, logger: Log.quietKafka)
            let received = "2025-01-15T10:30:00.000+08:00"
            for start in stride(from: 0, to: messages, by: 5_000) {
                let batch = (start..<min(messages, start + 5_000)).map { n in
                    KafkaProducerMessage(topic: "raw.his.bench", key: Array("P\(n % keys)".utf8), value: payload, headers: [
                        KafkaHeader(key: "medbus-message-id", string: "bench-\(n)"),
                        KafkaHeader(key: "medbus-source", string: "his.H37010200001"),
                        KafkaHeader(key: "medbus-message-type", string: "ADT^A01"),
                        KafkaHeader(key: "medbus-received-at", string: received),
                    ])
                }
                for report in try await producer.sendBatch(batch) where report.error != nil { throw CommandFailure("filling the raw topic: \(report.error!)") }
            }
            await producer.shutdown()
        }

        /// Runs a routing core until every raw record is committed; msgs/s from its first commit.
        /// msgs/s and process CPU µs per message (user + system, every thread: the embedded brokers' too),
        /// both from the first commit.
        private func route(_ config: KafkaConfig, _ mapping: Mapping) async throws -> (Double, Double, Int) {
            let core = RoutingCore(configuration: RoutingConfiguration(kafka: config, groupID: "bench-\(UUID().uuidString.prefix(8))",
                                                                        inputTopics: ["raw.his.bench"], transactionalID: "bench-\(UUID().uuidString.prefix(8))",
                                                                        maxBatch: batch),
                                   router: MappingRouter([mapping]), logger: Log.quietKafka)
            let running = Task { try await core.run() }
            let clock = ContinuousClock()
            var start: ContinuousClock.Instant?
            var firstBatch = 0
            var cpuStart = 0.0
            let deadline = clock.now + .seconds(600)
            while clock.now < deadline {
                let stats = await core.statistics
                if start == nil && stats.consumed > 0 { start = clock.now; firstBatch = stats.consumed; cpuStart = processCPUSeconds() }
                if stats.consumed >= messages {
                    let elapsed = clock.now - (start ?? clock.now)
                    running.cancel()
                    _ = try? await running.value
                    guard stats.deadLettered == 0 else { throw CommandFailure("\(stats.deadLettered) records dead-lettered: the sample does not map") }
                    let cpu = (processCPUSeconds() - cpuStart) * 1e6 / Double(max(messages - firstBatch, 1))
                    return (Double(messages - firstBatch) / max(seconds(elapsed), 1e-9), cpu, stats.routed)
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            running.cancel()
            throw CommandFailure("routing did not finish within 600 s")
        }
    }
}

/// CPU seconds this process has used, all threads.
func processCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
