import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusHTTPAdapter
import MedBusHTTPClient
import MedBusKafka
import MedBusSOAPAdapter
import MedBusStore

extension BenchCommand {
    /// `medbus bench soap`: N concurrent SOAP clients sending HL7 v3 registrations (each one a new
    /// message id) to the soap-his adapter, beside, in the same run and on the same cluster, the
    /// http-his adapter with the same v3 documents posted bare, and the raw C producer of the same
    /// payloads with as many records in flight as there are clients.
    struct Soap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "SOAP adapter: requests/s and p50/p99 latency vs the http-his adapter and raw produce of the same v3 payloads."
        )

        @Option(help: "Requests per variant and run.") var requests: Int = 5_000
        @Option(help: "Concurrent clients (each waits for its answer before the next request).") var clients: Int = 32
        @Option(help: "Runs; medians are reported.") var runs: Int = 3
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        func validate() throws {
            guard requests > 0, clients > 0, runs > 0 else { throw ValidationError("all counts must be positive") }
        }

        enum Variant: String, CaseIterable {
            case raw = "raw-c-librdkafka"
            case http = "http-his POST /hl7v3"
            case soap = "soap-his SOAP 1.1"
        }

        func run() async throws {
            let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: Log.quietKafka)
            let config = AdapterHost.producerConfig(KafkaConfig(bootstrapServers: cluster.bootstrapServers))
            let properties = KafkaProducer.defaultProperties.merging(config.properties) { $1 }
            var results: [Variant: [Sample]] = [:]
            for run in 1...runs {
                for variant in Variant.allCases {
                    let sender = "BENCH\(run)\(variant == .http ? "H" : "S")"
                    let topic = variant == .raw ? "bench.soap-raw.\(run)" : "raw.his.\(sender)"
                    try cluster.createTopic(topic, partitions: 32)
                    let sample = variant == .raw
                        ? try await rawProduce(bootstrap: cluster.bootstrapServers, topic: topic, payload: Self.registration("RAW-\(run)"),
                                               count: requests, keys: 1000, window: clients, properties: properties)
                        : try await serve(variant, sender: sender, config: config)
                    results[variant, default: []].append(sample)
                    FileHandle.standardError.write(Data("run \(run) \(variant.rawValue): \(Int(sample.throughput)) req/s, p50 \(ms(sample.p50)) ms, p99 \(ms(sample.p99)) ms, failed \(sample.failed)\n".utf8))
                }
            }
            let raw = median(results[.raw, default: []].map(\.throughput))
            var lines = [
                "SOAP adapter: \(requests) HL7 v3 PRPA_IN201311UV02 registrations (\(Self.registration("X").count) B, each a new message id) per variant from \(clients) concurrent keep-alive clients, each answered only after store + Kafka acks=all; embedded 3-broker cluster, 32 partitions; median of \(runs) runs.",
                "",
                "| path | req/s | vs raw | p50 ms | p99 ms |",
                "|---|---:|---:|---:|---:|",
            ]
            for variant in Variant.allCases {
                let samples = results[variant, default: []]
                let rate = median(samples.map(\.throughput))
                lines.append("| \(variant.rawValue) | \(Int(rate)) | \(String(format: "%.0f%%", 100 * rate / raw)) | \(ms(median(samples.map { seconds($0.p50) }))) | \(ms(median(samples.map { seconds($0.p99) }))) |")
            }
            let report = lines.joined(separator: "\n")
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        /// Runs one adapter on a fresh store and drives it with `clients` concurrent clients.
        private func serve(_ variant: Variant, sender: String, config: KafkaConfig) async throws -> Sample {
            let dir = NSTemporaryDirectory() + "medbus-bench-soap-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let store = try MessageStore.open(directory: dir)
            let producer = try KafkaProducer(config: config, logger: Log.quietKafka)
            var quiet = Log.logger("medbus.bench")
            quiet.logLevel = .error
            let ingest = DurableIngest(store: store, producer: producer, logger: quiet)
            let manifest = AdapterManifest(kind: variant == .http ? HTTPHISAdapter.kind : SOAPHISAdapter.kind, name: "bench", sender: sender, host: "127.0.0.1", port: 0)
            let adapter: any RunnableAdapter = variant == .http
                ? try HTTPHISAdapter(manifest: manifest, ingest: ingest, logger: quiet)
                : try SOAPHISAdapter(manifest: manifest, ingest: ingest, logger: quiet)
            let (bound, continuation) = AsyncStream.makeStream(of: Int.self)
            let running = Task { try await adapter.run { continuation.yield($0); continuation.finish() } }
            let port = await bound.first { _ in true } ?? 0
            let (path, headers) = variant == .http
                ? ("/hl7v3", [("Content-Type", "application/xml")])
                : (SOAPHISAdapter.defaultPath, [("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", "\"urn:medbus:soap/HIPMessageServer\"")])
            let client = try HTTPClient(url: "http://127.0.0.1:\(port)\(path)")
            let bodies = (0..<requests).map { index -> [UInt8] in
                let document = Self.registration("\(sender)-\(index)")
                return variant == .http ? document : Array(("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
                    + String(decoding: document, as: UTF8.self) + "</soap:Body></soap:Envelope>").utf8)
            }
            // One warm-up request (connection, metadata), not counted.
            _ = try await client.send(HTTPClientRequest(headers: headers, body: Array(bodies[0])), timeout: .seconds(30))

            let next = Counter(first: 1)
            let start = ContinuousClock.now
            let perClient = try await withThrowingTaskGroup(of: ([Duration], Int).self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        var latencies: [Duration] = []
                        var failed = 0
                        while let index = next.take(below: bodies.count) {
                            let sent = ContinuousClock.now
                            let response = try await client.send(HTTPClientRequest(headers: headers, body: bodies[index]), timeout: .seconds(30))
                            if response.status == 200 { latencies.append(ContinuousClock.now - sent) } else { failed += 1 }
                        }
                        return (latencies, failed)
                    }
                }
                return try await group.reduce(into: [([Duration], Int)]()) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - start
            adapter.shutdown()
            try await running.value
            await client.close()
            await producer.shutdown()
            try store.close()
            return sample(latencies: perClient.flatMap(\.0), elapsed: elapsed, failed: perClient.map(\.1).reduce(0, +))
        }

        /// The shipped registration with message id `id`, without the XML declaration or comment.
        static func registration(_ id: String) -> [UInt8] {
            Array("""
            <PRPA_IN201311UV02 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0"><id root="2.16.156.10011.2.5.1.1" extension="\(id)"/>\
            <creationTime value="20250115103000"/><interactionId root="2.16.156.10011.2.5.1.2" extension="PRPA_IN201311UV02"/>\
            <processingCode code="P"/><processingModeCode/><acceptAckCode code="AL"/>\
            <receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id><item root="2.16.156.10011.2.5.1.3" extension="EMPI"/></id></device></receiver>\
            <sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id><item root="2.16.156.10011.2.5.1.3" extension="HIS01"/></id></device></sender>\
            <controlActProcess classCode="CACT" moodCode="EVN"><subject typeCode="SUBJ"><registrationRequest classCode="REG" moodCode="RQO"><statusCode code="active"/>\
            <subject1 typeCode="SBJ"><patient classCode="PAT"><id><item root="2.16.156.10011.1.11" extension="MZ\(abs(id.hashValue) % 1000)"/></id><statusCode code="active"/>\
            <patientPerson classCode="PSN" determinerCode="INSTANCE"><name><item><part value="BENCH"/></item></name><administrativeGenderCode code="1" codeSystem="2.16.156.10011.2.3.3.4"/>\
            <birthTime value="19000101"/></patientPerson></patient></subject1></registrationRequest></subject></controlActProcess></PRPA_IN201311UV02>
            """.utf8)
        }
    }
}

/// The request index clients take next, shared by them.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int

    init(first: Int) { value = first }

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
