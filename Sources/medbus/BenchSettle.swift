import ArgumentParser
import Foundation
import Logging
import MedBusCore
import MedBusInsurers
import MedBusKafka
import MedBusSettlement

extension BenchCommand {
    /// `medbus bench settle`: one-stop settlements per second and end-to-end latency (submit →
    /// final state committed) with both reference insurers on the embedded cluster, against the
    /// same number of plain Kafka request→reply round trips without the saga in the same run.
    struct Settle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Settlements/s and p50/p99 latency (orchestrator + NHSA adapter + simulators) vs raw Kafka request→reply chains.",
            discussion: """
            Each settlement is 1101 → 2204 → 2206 → 2207 (NHSA adapter → simulator over HTTP) and, \
            for half of them, a commercial claim: 4–5 request→reply round trips, each step committed \
            to the saga log (SQLite, synchronous=FULL) before its request goes out. The baseline \
            runs chains of 5 round trips through an echo consumer on the same cluster, with the same \
            concurrency, and no saga log, HTTP or policy. Medians over runs.
            """
        )

        @Option(help: "Settlements (and baseline chains) per run.") var settlements: Int = 2_000
        @Option(help: "Settlements in flight at once (counters and phones at the same time).") var concurrency: Int = 256
        @Option(help: "Partitions of each topic.") var partitions: Int = 12
        @Option(help: "Runs; medians are reported.") var runs: Int = 3
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        /// The mock cluster answers a fetch only after `fetch.wait.max.ms` when no data was there at
        /// request time (a real broker answers as soon as data arrives), so request→reply hops wait
        /// the default 500 ms each unless it is short. Both variants use the same settings.
        static let embeddedLatency = ["linger.ms": "1", "fetch.wait.max.ms": "5"]

        func validate() throws {
            guard settlements > 0, concurrency > 0, partitions > 0, runs > 0 else { throw ValidationError("all counts must be positive") }
        }

        func run() async throws {
            var saga: [Sample] = [], raw: [Sample] = []
            for run in 1...runs {
                let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: Log.quietKafka)
                let topics = ["settlement.requests", "settlement.results", "dlq.settlement", "insurer.nhsa.requests", "insurer.nhsa.replies",
                              "insurer.hmb.requests", "insurer.hmb.replies", "settlement.claims.hmb", "bench.requests", "bench.replies"]
                for topic in topics { try cluster.createTopic(topic, partitions: partitions) }
                let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: Self.embeddedLatency)
                let baseline = try await roundTripChains(config, hops: 5)
                raw.append(baseline)
                let measured = try await settle(config, run: run)
                saga.append(measured)
                FileHandle.standardError.write(Data(("run \(run): saga \(Int(measured.throughput))/s p50 \(ms(measured.p50)) p99 \(ms(measured.p99)) ms (failed \(measured.failed)); "
                    + "raw 5-hop chains \(Int(baseline.throughput))/s p50 \(ms(baseline.p50)) p99 \(ms(baseline.p99)) ms\n").utf8))
            }
            let rate = median(saga.map(\.throughput)), rawRate = median(raw.map(\.throughput))
            let p50 = median(saga.map { seconds($0.p50) }), p99 = median(saga.map { seconds($0.p99) })
            let rawP50 = median(raw.map { seconds($0.p50) }), rawP99 = median(raw.map { seconds($0.p99) })
            let report = """
                | variant (\(settlements) per run, \(concurrency) in flight, medians of \(runs)) | per s | p50 ms | p99 ms |
                | --- | ---: | ---: | ---: |
                | settlement saga (1101→2204→2206→2207→claim, both simulators) | \(Int(rate)) | \(ms(p50)) | \(ms(p99)) |
                | raw Kafka chain of 5 request→reply round trips | \(Int(rawRate)) | \(ms(rawP50)) | \(ms(rawP99)) |
                | saga / raw | \(String(format: "%.2f", rate / rawRate)) | \(String(format: "%.2f", p50 / rawP50)) | \(String(format: "%.2f", p99 / rawP99)) |

                """
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        /// The settlement system in this process, `settlements` visits through `submit`, each
        /// timed from submit to its final state.
        private func settle(_ config: KafkaConfig, run: Int) async throws -> Sample {
            var logger = Logger(label: "medbus.bench.settle")
            logger.logLevel = .error
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-bench-settle-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let policy: BasicInsurancePolicy, commercialPolicy: CommercialPolicy
            do {
                policy = try BasicInsurancePolicy.load(path: "Adapters/insurers/policy-shandong-demo.yaml")
                commercialPolicy = try CommercialPolicy.load(path: "Adapters/insurers/policy-huiminbao-demo.yaml")
            } catch { throw CommandFailure("\(error) (run from the repository root)") }
            let server = NHSASimulatorServer(simulator: NHSAPlatformSimulator(policy: policy, persons: PersonDirectory()), host: "127.0.0.1", port: 0, logger: logger)
            let (ports, bound) = AsyncStream.makeStream(of: Int.self)
            let serving = Task { try await server.run { bound.yield($0) } }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CommandFailure("NHSA simulator did not start") }
            let manifest = NHSAAdapterManifest(url: "http://127.0.0.1:\(port)\(NHSASimulatorServer.defaultPath)", fixmedinsCode: "H37010200001")
            let adapter = try NHSAInsurerAdapter(manifest: manifest, kafka: config, logger: logger)
            let commercial = try CommercialInsurerSimulator(insurer: "hmb", policy: commercialPolicy, kafka: config, logger: logger)
            let orchestrator = try SettlementOrchestrator(kafka: config, storeDirectory: directory,
                                                          configuration: SettlementConfiguration(commercialInsurers: ["hmb"]), logger: logger)
            let services = [Task { try await adapter.run() }, Task { try await commercial.run() }, Task { try await orchestrator.run() }]

            // Warm-up (group joins, connections) outside the measurement.
            _ = try await settleAll((0..<min(50, settlements)).map { Self.visit($0, run: run, prefix: "W") }, orchestrator)
            let requests = (0..<settlements).map { Self.visit($0, run: run, prefix: "B") }
            let started = ContinuousClock.now
            let (latencies, failed) = try await settleAll(requests, orchestrator)
            let elapsed = ContinuousClock.now - started

            services[2].cancel()
            _ = await services[2].result
            await adapter.shutdown()
            await commercial.shutdown()
            for service in services { _ = await service.result }
            server.shutdown()
            _ = await serving.result
            return sample(latencies: latencies, elapsed: elapsed, failed: failed)
        }

        private func settleAll(_ requests: [SettlementRequest], _ orchestrator: SettlementOrchestrator) async throws -> ([Duration], Int) {
            try await withThrowingTaskGroup(of: (Duration, Bool).self) { group in
                var latencies: [Duration] = [], failed = 0, next = 0
                func add() {
                    let request = requests[next]
                    next += 1
                    group.addTask {
                        let start = ContinuousClock.now
                        let id = try await orchestrator.submit(request)
                        let status = try await orchestrator.status(id, waitingUpTo: .seconds(60))
                        return (ContinuousClock.now - start, status.state == .completed)
                    }
                }
                while next < min(concurrency, requests.count) { add() }
                for try await (latency, completed) in group {
                    latencies.append(latency)
                    if !completed { failed += 1 }
                    if next < requests.count { add() }
                }
                return (latencies, failed)
            }
        }

        /// A visit of 3 fee lines for a synthesized person (employee or resident), every other one
        /// with a commercial policy.
        static func visit(_ index: Int, run: Int, prefix: String) -> SettlementRequest {
            let amounts = [Money(fen: 12_345 + Int64(index % 97) * 1_000), Money(fen: 880_00), Money(fen: 9_99)]
            let lines = zip(["XA0101", "XB0202", "C0303"], amounts).enumerated().map { offset, item in
                SettlementRequest.FeeLine(feedetlSn: "\(offset + 1)", medinsListCodg: "H-" + item.0, medListCodg: item.0, cnt: 1, pric: item.1.decimal, detItemFeeSumamt: item.1)
            }
            let certno = String(format: "370102%02d%09d%d", run, index, index % 10)
            return SettlementRequest(chrgBchno: "\(prefix)\(run)-\(index)", encounterId: "E\(index)", patientId: "P\(index)", fixmedinsCode: "H37010200001",
                                     medType: "11", feedetail: lines, mdtrtId: "MDT\(prefix)\(run)-\(index)", mdtrtCertType: "02", mdtrtCertNo: certno,
                                     commercial: index % 2 == 0 ? .init(insurerCode: "hmb", policyNo: "HMB\(index)") : nil)
        }

        /// The baseline: `settlements` chains of `hops` sequential request→reply round trips
        /// through an echo consumer (consume a batch, produce its replies, commit), `concurrency`
        /// chains at a time, each timed from its first request to its last reply.
        private func roundTripChains(_ config: KafkaConfig, hops: Int) async throws -> Sample {
            let echoIn = try KafkaConsumer(config: config, groupID: "bench-echo", topics: ["bench.requests"], logger: Log.quietKafka)
            let repliesIn = try KafkaConsumer(config: config, groupID: "bench-requester", topics: ["bench.replies"], logger: Log.quietKafka)
            let producer = try KafkaProducer(config: config, logger: Log.quietKafka)
            let board = ReplyBoard()
            let echo = Task {
                while true {
                    let batch = try await echoIn.nextBatch(maxCount: 500)
                    if batch.isEmpty { return }
                    _ = try await producer.sendBatch(batch.map { KafkaProducerMessage(topic: "bench.replies", key: $0.key, value: $0.value, headers: $0.headers) })
                    try await echoIn.commit(batch.map(\.nextPosition).reduce(into: [:]) { $0[$1.partition] = $1 }.map(\.value))
                }
            }
            let listener = Task {
                while true {
                    let batch = try await repliesIn.nextBatch(maxCount: 500)
                    if batch.isEmpty { return }
                    for message in batch { if let id = message.headers.string(MessageEnvelope.Header.id) { await board.answer(id) } }
                }
            }
            let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 1_024)
            func chain(_ index: Int) async throws -> Duration {
                let start = ContinuousClock.now
                for hop in 0..<hops {
                    let id = "c\(index)-\(hop)"
                    try await board.ask(id) {
                        try await producer.send(KafkaProducerMessage(topic: "bench.requests", key: Array("k\(index)".utf8), value: payload,
                                                                     headers: [KafkaHeader(key: MessageEnvelope.Header.id, string: id)]))
                    }
                }
                return ContinuousClock.now - start
            }
            // Warm-up: the two group joins.
            _ = try await chain(-1)
            let started = ContinuousClock.now
            let latencies = try await withThrowingTaskGroup(of: Duration.self) { group in
                var latencies: [Duration] = [], next = 0
                while next < min(concurrency, settlements) { let i = next; group.addTask { try await chain(i) }; next += 1 }
                for try await latency in group {
                    latencies.append(latency)
                    if next < settlements { let i = next; group.addTask { try await chain(i) }; next += 1 }
                }
                return latencies
            }
            let elapsed = ContinuousClock.now - started
            await echoIn.close()
            await repliesIn.close()
            _ = await echo.result
            _ = await listener.result
            await producer.shutdown()
            return sample(latencies: latencies, elapsed: elapsed, failed: 0)
        }
    }
}

/// Waiting requesters of the baseline, by request id.
private actor ReplyBoard {
    private var waiting: [String: CheckedContinuation<Void, Never>] = [:]
    private var early: Set<String> = []

    /// Sends with `send` and returns once the reply with the same id arrived.
    func ask(_ id: String, send: @Sendable () async throws -> Void) async throws {
        try await send()
        if early.remove(id) != nil { return }
        await withCheckedContinuation { waiting[id] = $0 }
    }

    func answer(_ id: String) {
        if let continuation = waiting.removeValue(forKey: id) { continuation.resume() } else { early.insert(id) }
    }
}
