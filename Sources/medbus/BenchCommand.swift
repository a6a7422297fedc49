import ArgumentParser
import CRawProducer
import Dispatch
import Foundation
import MedBusKafka

/// `medbus bench produce`: producer throughput and delivery latency against the embedded
/// cluster, side by side with a plain C librdkafka producer of the same records in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, each against a raw librdkafka baseline in the same run.",
        subcommands: [Produce.self, MLLP.self, HL7.self, Map.self, Route.self, Settle.self, Table.self, Dispatch.self, Rx.self, Soap.self]
    )

    struct Produce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Producer throughput and p50/p99 delivery latency: MedBus's Swift producer vs raw C librdkafka.",
            discussion: """
            Every variant uses the same producer settings (idempotent, acks=all, linger.ms=5, \
            murmur2 partitioner), the same keys and payloads, and a fresh topic on the same \
            embedded cluster. Variants alternate within each run; medians over runs are reported.
            """
        )

        @Option(help: "Records per variant and run.") var messages: Int = 100_000
        @Option(help: "Payload bytes per record.") var size: Int = 1024
        @Option(help: "Partitions per topic (the embedded cluster keeps ~5 MiB per partition).") var partitions: Int = 32
        @Option(help: "Distinct keys.") var keys: Int = 1000
        @Option(help: "Runs; medians are reported.") var runs: Int = 5
        @Option(help: "Records per sendBatch call.") var batch: Int = 2000
        @Option(help: "sendBatch calls in flight at once (the C baseline keeps every record in flight).") var inflight: Int = 64
        @Option(name: .customLong("send-window"), help: "send calls in flight at once.") var sendWindow: Int = 8000
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        func validate() throws {
            guard messages > 0, size > 0, partitions > 0, keys > 0, runs > 0, batch > 0, inflight > 0, sendWindow > 0 else {
                throw ValidationError("all counts must be positive")
            }
            guard messages * size / partitions < 4 * 1024 * 1024 else {
                throw ValidationError("messages × size / partitions must stay under 4 MiB, or the embedded cluster drops records; add partitions")
            }
        }

        func run() async throws {
            let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: Log.quietKafka)
            let properties = KafkaProducer.defaultProperties
            let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
            var results: [Variant: [Sample]] = [:]

            for run in 1...runs {
                for variant in Variant.allCases {
                    let topic = "bench.\(variant.rawValue).\(run)"
                    try cluster.createTopic(topic, partitions: partitions)
                    let sample = try await measure(variant, topic: topic, cluster: cluster, properties: properties, payload: payload)
                    results[variant, default: []].append(sample)
                    FileHandle.standardError.write(Data("run \(run) \(variant.rawValue): \(Int(sample.throughput)) msg/s, p50 \(ms(sample.p50)) ms, p99 \(ms(sample.p99)) ms\n".utf8))
                }
            }

            let report = table(results)
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        enum Variant: String, CaseIterable {
            case raw = "raw-c-librdkafka"
            case swiftBatch = "medbus-sendBatch"
            case swiftSend = "medbus-send"
        }


        private func measure(_ variant: Variant, topic: String, cluster: EmbeddedKafkaCluster, properties: [String: String], payload: [UInt8]) async throws -> Sample {
            switch variant {
            case .raw:
                return try await rawProduce(bootstrap: cluster.bootstrapServers, topic: topic, payload: payload, count: messages, keys: keys, properties: properties)
            case .swiftBatch, .swiftSend:
                let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), logger: Log.quietKafka)
                let records = (0..<messages).map { KafkaProducerMessage(topic: topic, key: Array("key-\($0 % keys)".utf8), value: payload) }
                // Warm the connection and metadata so both variants start from the same state.
                _ = try await producer.sendBatch([KafkaProducerMessage(topic: topic, key: nil, value: payload)])
                let start = ContinuousClock.now
                let reports = variant == .swiftBatch
                    ? try await sendBatches(records, producer: producer)
                    : try await sendEach(records, producer: producer)
                let elapsed = ContinuousClock.now - start
                await producer.shutdown()
                return sample(latencies: reports.map(\.latency), elapsed: elapsed, failed: reports.filter { $0.error != nil }.count)
            }
        }

        /// The batch path: `inflight` calls of `batch` records each, one suspension per call.
        private func sendBatches(_ records: [KafkaProducerMessage], producer: KafkaProducer) async throws -> [KafkaDeliveryReport] {
            try await withThrowingTaskGroup(of: [KafkaDeliveryReport].self) { group in
                var reports: [KafkaDeliveryReport] = []
                reports.reserveCapacity(records.count)
                var next = 0
                var running = 0
                while next < records.count || running > 0 {
                    while running < inflight && next < records.count {
                        let chunk = Array(records[next..<min(next + batch, records.count)])
                        group.addTask { try await producer.sendBatch(chunk) }
                        next += chunk.count
                        running += 1
                    }
                    reports += try await group.next()!
                    running -= 1
                }
                return reports
            }
        }

        /// The one-record path: `send` per record, `sendWindow` of them in flight.
        private func sendEach(_ records: [KafkaProducerMessage], producer: KafkaProducer) async throws -> [KafkaDeliveryReport] {
            try await withThrowingTaskGroup(of: KafkaDeliveryReport.self) { group in
                var reports: [KafkaDeliveryReport] = []
                reports.reserveCapacity(records.count)
                for (i, record) in records.enumerated() {
                    if i >= sendWindow { reports.append(try await group.next()!) }
                    group.addTask { try await producer.send(record) }
                }
                for try await report in group { reports.append(report) }
                return reports
            }
        }

        private func table(_ results: [Variant: [Sample]]) -> String {
            let rawThroughput = median(results[.raw]!.map(\.throughput))
            var lines = [
                "Producer benchmark: \(messages) records × \(size) B, \(keys) keys, \(partitions) partitions, acks=all, idempotent, embedded 3-broker cluster; median of \(runs) runs (librdkafka \(KafkaRuntime.librdkafkaVersion)).",
                "",
                "| producer | msg/s (median) | MB/s | vs raw | p50 latency ms | p99 latency ms | failed |",
                "|---|---:|---:|---:|---:|---:|---:|",
            ]
            for variant in Variant.allCases {
                let samples = results[variant]!
                let throughput = median(samples.map(\.throughput))
                lines.append("| \(variant.rawValue) | \(Int(throughput)) | \(String(format: "%.1f", throughput * Double(size) / 1e6)) | \(String(format: "%.0f%%", 100 * throughput / rawThroughput)) | \(ms(median(samples.map { seconds($0.p50) }) )) | \(ms(median(samples.map { seconds($0.p99) }))) | \(samples.map(\.failed).reduce(0, +)) |")
            }
            return lines.joined(separator: "\n")
        }
    }
}

