import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusKafka
import MedBusStore
import MedBusTableAdapter

extension BenchCommand {
    /// `medbus bench table`: the intermediate-table adapter draining an SQLite table of N rows
    /// (each row stored, published with acks=all, then the mark moved), beside the raw C producer
    /// of the same number of same-sized records on the same cluster.
    struct Table: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Intermediate-table adapter: rows/s published from an SQLite table vs the raw C producer of the same rows."
        )

        @Option(help: "Rows per run.") var rows: Int = 20_000
        @Option(help: "Distinct keys (patients) among the rows.") var keys: Int = 500
        @Option(help: "Runs; medians are reported.") var runs: Int = 3
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        func validate() throws {
            guard rows > 0, keys > 0, runs > 0 else { throw ValidationError("all counts must be positive") }
        }

        func run() async throws {
            let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: Log.quietKafka)
            let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
            let properties = KafkaProducer.defaultProperties.merging(AdapterHost.producerConfig(config).properties) { $1 }
            let payload = BenchCommand.MLLP.adt(0)
            var table: [Double] = []
            var raw: [Double] = []
            for run in 1...runs {
                let topic = "raw.his.BENCH\(run)"
                try cluster.createTopic(topic, partitions: 32)
                let rate = try await drain(run: run, config: config)
                table.append(rate)
                let rawTopic = "bench.table-raw.\(run)"
                try cluster.createTopic(rawTopic, partitions: 32)
                let baseline = try await rawProduce(bootstrap: cluster.bootstrapServers, topic: rawTopic, payload: payload, count: rows, keys: keys, properties: properties)
                raw.append(baseline.throughput)
                FileHandle.standardError.write(Data("run \(run): table adapter \(Int(rate)) rows/s, raw \(Int(baseline.throughput)) msg/s\n".utf8))
            }
            let lines = [
                "Intermediate-table adapter: \(rows) rows of \(payload.count) B over \(keys) keys in an SQLite table, each stored, published with acks=all (keys in parallel, a key's rows in order) before the mark moves; embedded 3-broker cluster, 32 partitions; median of \(runs) runs.",
                "",
                "| path | rows/s (median) | vs raw |",
                "|---|---:|---:|",
                "| raw-c-librdkafka (same number of same-sized records, all in flight) | \(Int(median(raw))) | 100% |",
                "| medbus intermediate-table adapter | \(Int(median(table))) | \(String(format: "%.0f%%", 100 * median(table) / median(raw))) |",
            ]
            let report = lines.joined(separator: "\n")
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        /// Fills a fresh table, starts an adapter on it and returns rows/s until all are published.
        private func drain(run: Int, config: KafkaConfig) async throws -> Double {
            let dir = NSTemporaryDirectory() + "medbus-bench-table-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // The HIS side, written through the adapter's own SQLite driver in one statement.
            FileManager.default.createFile(atPath: dir + "/his.sqlite", contents: nil)
            let his = try await openTableDatabase("sqlite:\(dir)/his.sqlite")
            _ = try await his.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, patient_id TEXT, payload TEXT)", [])
            let template = String(decoding: BenchCommand.MLLP.adt(0), as: UTF8.self).replacingOccurrences(of: "|B0|", with: "|B{n}|")
            _ = try await his.execute("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                INSERT INTO outbox SELECT i, 'P' || (i % ?2), replace(?3, '{n}', i) FROM n
                """, [.number(String(rows)), .number(String(keys)), .text(template)])
            his.close()
            let store = try MessageStore.open(directory: dir + "/data")
            let producer = try KafkaProducer(config: AdapterHost.producerConfig(config), logger: Log.quietKafka)
            var quiet = Log.logger("medbus.bench")
            quiet.logLevel = .error
            let manifest = AdapterManifest(kind: IntermediateTableAdapter.kind, name: "bench", sender: "BENCH\(run)", host: "", port: 0, options: [
                "database": "sqlite:\(dir)/his.sqlite", "query": "SELECT id, patient_id, payload FROM outbox", "idColumn": "id",
                "keyColumn": "patient_id", "messageType": "ADT^A04", "payloadColumn": "payload", "batchSize": "2000", "pollIntervalMilliseconds": "10",
            ])
            let adapter = try IntermediateTableAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer, logger: quiet), stateDirectory: dir + "/data", logger: quiet)
            let start = ContinuousClock.now
            let running = Task { try await adapter.run() }
            // Published rows are recorded in the store by group commit right after Kafka's acknowledgement.
            while try store.count(MessageQuery(source: manifest.source, status: .published, limit: rows + 1)) < rows {
                try await Task.sleep(for: .milliseconds(20))
            }
            let elapsed = ContinuousClock.now - start
            adapter.shutdown()
            try await running.value
            await producer.shutdown()
            try store.close()
            return Double(rows) / seconds(elapsed)
        }
    }
}
