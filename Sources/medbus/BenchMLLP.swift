import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusHISAdapter
import MedBusKafka
import MedBusStore
#if canImport(Glibc)
import Glibc
#endif

extension BenchCommand {
    /// `medbus bench mllp`: HL7 v2 over MLLP end to end — N concurrent senders, each sending one
    /// message and waiting for its ACK (store commit + Kafka acks=all), like a HIS does — beside the
    /// raw C producer of the same payloads on the same cluster.
    struct MLLP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "MLLP end to end (store + Kafka acks=all before each ACK) vs the raw C producer of the same payloads."
        )

        @Option(help: "Concurrent MLLP connections.") var connections: Int = 32
        @Option(help: "Messages per connection and run.") var messages: Int = 1000
        @Option(help: "Runs; medians are reported.") var runs: Int = 3
        @Option(help: "Also write the result table to this Markdown file.") var output: String?
        @Option(name: .customLong("store-sync"), help: "Store sync level to measure (repeatable; default: full and normal, side by side).")
        var storeSync: [StoreSync] = [.full, .normal]

        func validate() throws {
            guard connections > 0, messages > 0, runs > 0 else { throw ValidationError("all counts must be positive") }
            guard Set(storeSync).count == storeSync.count else { throw ValidationError("each --store-sync level once") }
        }

        func run() async throws {
            let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: Log.quietKafka)
            let topic = "raw.his.BENCH"
            try cluster.createTopic(topic, partitions: 32)
            let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
            let producer = try KafkaProducer(config: AdapterHost.producerConfig(config), logger: Log.quietKafka)
            // One adapter (own store, own port) per sync level, all on the same cluster and producer.
            var adapters: [BenchAdapter] = []
            for level in storeSync { adapters.append(try await BenchAdapter(sync: level, producer: producer)) }

            let total = connections * messages
            let payloads = (0..<total).map(Self.adt)
            var mllp: [StoreSync: [Sample]] = [:]
            var raw: [Sample] = []
            var rawWindowed: [Sample] = []
            for run in 1...runs {
                for adapter in adapters {
                    let sampleRun = try await Self.stream(payloads, run: run, connections: connections, port: adapter.port)
                    mllp[adapter.sync, default: []].append(sampleRun)
                    FileHandle.standardError.write(Data("run \(run) mllp store-sync \(adapter.sync.rawValue): \(Int(sampleRun.throughput)) msg/s, p50 \(ms(sampleRun.p50)) ms, p99 \(ms(sampleRun.p99)) ms, not AA \(sampleRun.failed)\n".utf8))
                }
                let properties = KafkaProducer.defaultProperties.merging(AdapterHost.producerConfig(config).properties) { $1 }
                for (window, label) in [(0, "raw"), (connections, "raw-window")] {
                    let rawTopic = "bench.\(label).\(run)"
                    try cluster.createTopic(rawTopic, partitions: 32)
                    let baseline = try await rawProduce(bootstrap: cluster.bootstrapServers, topic: rawTopic, payload: payloads[0], count: total, keys: 1000, window: window, properties: properties)
                    if window == 0 { raw.append(baseline) } else { rawWindowed.append(baseline) }
                    FileHandle.standardError.write(Data("run \(run) \(label): \(Int(baseline.throughput)) msg/s, p50 \(ms(baseline.p50)) ms, p99 \(ms(baseline.p99)) ms\n".utf8))
                }
            }
            for adapter in adapters { try await adapter.stop() }
            await producer.shutdown()

            let rawThroughput = median(raw.map(\.throughput))
            let lines = [
                "MLLP end to end: \(connections) connections × \(messages) messages of \(payloads[0].count) B (HL7 ADT^A04), each ACKed after the SQLite commit (store-sync as given) and Kafka acks=all; embedded 3-broker cluster; median of \(runs) runs.",
                "",
                "| path | msg/s (median) | vs raw | p50 ms | p99 ms | not AA |",
                "|---|---:|---:|---:|---:|---:|",
                "| raw-c-librdkafka (same payloads, all in flight) | \(Int(rawThroughput)) | 100% | \(ms(median(raw.map { seconds($0.p50) }))) | \(ms(median(raw.map { seconds($0.p99) }))) | \(raw.map(\.failed).reduce(0, +)) |",
                "| raw-c-librdkafka, \(connections) in flight (as many as MLLP senders) | \(Int(median(rawWindowed.map(\.throughput)))) | \(String(format: "%.0f%%", 100 * median(rawWindowed.map(\.throughput)) / rawThroughput)) | \(ms(median(rawWindowed.map { seconds($0.p50) }))) | \(ms(median(rawWindowed.map { seconds($0.p99) }))) | \(rawWindowed.map(\.failed).reduce(0, +)) |",
            ] + adapters.map { adapter in
                let samples = mllp[adapter.sync] ?? []
                return "| medbus MLLP adapter, store-sync \(adapter.sync.rawValue) (ACK latency) | \(Int(median(samples.map(\.throughput)))) | \(String(format: "%.0f%%", 100 * median(samples.map(\.throughput)) / rawThroughput)) | \(ms(median(samples.map { seconds($0.p50) }))) | \(ms(median(samples.map { seconds($0.p99) }))) | \(samples.map(\.failed).reduce(0, +)) |"
            }
            let report = lines.joined(separator: "\n")
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        /// The MLLP adapter over a store of its own in a temporary directory.
        struct BenchAdapter {
            let sync: StoreSync
            let port: Int
            private let adapter: HL7MLLPAdapter
            private let server: Task<Void, any Error>
            private let store: MessageStore
            private let directory: String

            init(sync: StoreSync, producer: KafkaProducer) async throws {
                directory = NSTemporaryDirectory() + "medbus-bench-\(UUID().uuidString.prefix(8))"
                store = try MessageStore.open(directory: directory, sync: sync)
                var quiet = Log.logger("medbus.bench")
                quiet.logLevel = .error
                let manifest = AdapterManifest(kind: HL7MLLPAdapter.kind, name: "bench-\(sync.rawValue)", sender: "BENCH", host: "127.0.0.1", port: 0)
                let adapter = try HL7MLLPAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer, logger: quiet), logger: quiet)
                let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
                server = Task { try await adapter.run { portContinuation.yield($0) } }
                var portIterator = ports.makeAsyncIterator()
                guard let port = await portIterator.next() else { throw CommandFailure("adapter did not start") }
                self.sync = sync
                self.port = port
                self.adapter = adapter
            }

            func stop() async throws {
                adapter.shutdown()
                try await server.value
                try store.close()
                try? FileManager.default.removeItem(atPath: directory)
            }
        }

        /// A 1 KB ADT^A04 whose control id and patient id vary per message.
        static func adt(_ n: Int) -> [UInt8] {
            let head = "MSH|^~\\&|HIS|BENCH|MEDBUS|SDJK|20250115103045||ADT^A04^ADT_A01|B\(n)|P|2.5|||AL|NE||UNICODE UTF-8\rEVN|A04|20250115103045\rPID|1||P\(n % 5000)^^^BENCH^MR||张^三||19900101|M|||山东省济南市历下区^^济南^山东^250000^CHN||0531-88888888\rPV1|1|O|NK^101^1^^^BENCH||||D001^李^医生|||||||||||V\(n)\r"
            let filler = "NTE|1||" + String(repeating: "x", count: max(0, 1024 - head.utf8.count - 9)) + "\r"
            return Array((head + filler).utf8)
        }

        /// Each connection on its own thread sends its share one by one, waiting for each ACK.
        static func stream(_ payloads: [[UInt8]], run: Int, connections: Int, port: Int) async throws -> Sample {
            let perConnection = payloads.count / connections
            let shares = (0..<connections).map { c in payloads[(c * perConnection)..<((c + 1) * perConnection)].map { rerun($0, run) } }
            let start = ContinuousClock.now
            let results = try await withThrowingTaskGroup(of: ([Duration], Int).self) { group in
                for mine in shares {
                    group.addTask {
                        try await withCheckedThrowingContinuation { continuation in
                            Thread.detachNewThread { continuation.resume(with: Result { try sendAll(mine, port: port) }) }
                        }
                    }
                }
                var all: ([Duration], Int) = ([], 0)
                for try await (latencies, failed) in group { all.0 += latencies; all.1 += failed }
                return all
            }
            return sample(latencies: results.0, elapsed: ContinuousClock.now - start, failed: results.1)
        }

        /// Each run needs new control ids, or the adapter would answer from the store.
        static func rerun(_ message: [UInt8], _ run: Int) -> [UInt8] {
            Array(String(decoding: message, as: UTF8.self).replacingOccurrences(of: "|P|2.5|", with: "R\(run)|P|2.5|").utf8)
        }

        static func sendAll(_ messages: [[UInt8]], port: Int) throws -> ([Duration], Int) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            guard withUnsafePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0 else {
                throw CommandFailure("cannot connect to the adapter")
            }
            var latencies: [Duration] = []
            var failed = 0
            var buffer = [UInt8](repeating: 0, count: 65536)
            for message in messages {
                let frame = [0x0B] + message + [0x1C, 0x0D]
                let sent = ContinuousClock.now
                _ = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                var reply: [UInt8] = []
                while !(reply.count >= 2 && reply[reply.count - 2] == 0x1C && reply[reply.count - 1] == 0x0D) {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    guard n > 0 else { throw CommandFailure("adapter closed the connection") }
                    reply += buffer[0..<n]
                }
                latencies.append(ContinuousClock.now - sent)
                if !String(decoding: reply, as: UTF8.self).contains("MSA|AA") && !String(decoding: reply, as: UTF8.self).contains("MSA|CA") { failed += 1 }
            }
            return (latencies, failed)
        }
    }
}
