import ArgumentParser
import Foundation
import MedBusCore
import MedBusCrypto
import MedBusHTTPClient
import MedBusKafka
import MedBusPrescription

extension BenchCommand {
    /// `medbus bench rx`: signed prescriptions issued per second against raw SM2 signatures per second (the
    /// work no issuing can avoid) in the same run, and pharmacy round trips (claim + review + dispense over
    /// HTTP) per second with the claim's p50/p99 latency.
    struct Rx: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Signed prescriptions issued/s vs raw SM2 signatures/s; claim+review+dispense round trips/s over HTTP with claim p50/p99.",
            discussion: """
            Issuing is validation, SM3 + SM2 over the canonical document on every core, one SQLite transaction \
            (synchronous=FULL) per batch with its outbox records, as the HIS intake does for a batch read from \
            Kafka; the outbox is published to the embedded cluster (rx.issued, rx.available.<region>, rx.events) \
            concurrently. The baseline signs the same documents with the same key on every core and does \
            nothing else. Round trips: concurrent pharmacies each claim, review and dispense a distinct \
            prescription over HTTP; every step is one committed transition. Medians over runs.
            """
        )

        @Option(help: "Prescriptions issued per run (and signatures in the baseline).") var prescriptions: Int = 4_000
        @Option(help: "Prescriptions per issue call (one store transaction).") var batch: Int = 200
        @Option(help: "Issue calls in flight at once (hospitals sending at the same time).") var concurrency: Int = 2
        @Option(help: "Claim+review+dispense round trips per run (at most --prescriptions).") var roundTrips: Int = 1_000
        @Option(help: "Pharmacies acting at once.") var pharmacies: Int = 8
        @Option(help: "Runs; medians are reported.") var runs: Int = 3
        @Option(help: "The circulation drug code table.") var drugTable: String = "Mappings/codes/rx-circulation-drugs.csv"

        func validate() throws {
            guard prescriptions > 0, batch > 0, concurrency > 0, roundTrips > 0, roundTrips <= prescriptions, pharmacies > 0, runs > 0 else {
                throw ValidationError("counts must be positive and --round-trips at most --prescriptions")
            }
        }

        func run() async throws {
            let drugs: DrugCodeTable
            do { drugs = try DrugCodeTable.load(path: drugTable) } catch { throw CommandFailure("\(error)") }
            let key = try SM2PrivateKey.generate()
            let configuration = RxServiceConfiguration(port: 0, drugs: drugs, keys: [HospitalSigningKey(hospital: "H37010200001", region: "370100", keyID: "bench", privateKey: key)])
            var raw: [Double] = [], issued: [Double] = [], trips: [Sample] = []
            for run in 1...runs {
                let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: Log.quietKafka)
                for topic in configuration.topics { try cluster.createTopic(topic, partitions: 12, replicationFactor: 1) }
                let kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["linger.ms": "1"])
                let bodies = (0..<prescriptions).map { Self.body(number: "BENCH-\(run)-\($0)") }

                let signatures = try await Self.rawSignatures(bodies.map { RxCanonicalForm.bytes($0) }, key: key)
                raw.append(signatures)

                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-bench-rx-\(UUID().uuidString)").path
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let producer = try KafkaProducer(config: kafka, logger: Log.quietKafka)
                let service = try PrescriptionService(configuration: configuration, directory: directory, producer: producer, logger: Log.quietKafka)
                let publisher = Task { try await service.run() }
                let start = ContinuousClock.now
                let chunks = stride(from: 0, to: bodies.count, by: batch).map { Array(bodies[$0..<min($0 + batch, bodies.count)]) }
                let ids = try await withThrowingTaskGroup(of: [String].self) { group in
                    for lane in 0..<concurrency {
                        group.addTask {
                            var ids: [String] = []
                            for chunk in stride(from: lane, to: chunks.count, by: concurrency).map({ chunks[$0] }) {
                                for answer in await service.issue(chunk) {
                                    switch answer {
                                    case .success(let issued): ids.append(issued.record.id)
                                    case .failure(let problem): throw CommandFailure("issue failed: \(problem)")
                                    }
                                }
                            }
                            return ids
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0 += $1 }
                }
                let rate = Double(ids.count) / seconds(ContinuousClock.now - start)
                issued.append(rate)

                let trip = try await roundTrips(service, ids: Array(ids.prefix(roundTrips)))
                trips.append(trip)
                publisher.cancel()
                _ = try? await publisher.value
                service.close()
                await producer.shutdown()
                FileHandle.standardError.write(Data(("run \(run): issued \(Int(rate))/s (raw SM2 \(Int(signatures))/s); round trips \(Int(trip.throughput))/s, "
                    + "claim p50 \(ms(trip.p50)) p99 \(ms(trip.p99)) ms (failed \(trip.failed))\n").utf8))
            }
            let issuedRate = median(issued), rawRate = median(raw)
            print("| measure | median of \(runs) runs |")
            print("|---|---|")
            print("| raw SM2 signatures/s (baseline, \(ProcessInfo.processInfo.activeProcessorCount) cores) | \(Int(rawRate)) |")
            print("| signed prescriptions issued/s (batches of \(batch), \(concurrency) in flight) | \(Int(issuedRate)) (\(String(format: "%.0f", issuedRate / rawRate * 100)) % of raw) |")
            print("| claim+review+dispense round trips/s (\(pharmacies) pharmacies, HTTP) | \(Int(median(trips.map(\.throughput)))) |")
            print("| claim latency p50 / p99 | \(ms(.seconds(median(trips.map { seconds($0.p50) })))) / \(ms(.seconds(median(trips.map { seconds($0.p99) })))) ms |")
        }

        /// The work no issuing avoids: SM2 signatures of the same documents, on every core.
        static func rawSignatures(_ documents: [[UInt8]], key: SM2PrivateKey) async throws -> Double {
            let workers = ProcessInfo.processInfo.activeProcessorCount
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        for index in stride(from: worker, to: documents.count, by: workers) {
                            _ = SM3.digest(documents[index])
                            _ = try key.signature(for: documents[index])
                        }
                    }
                }
                try await group.waitForAll()
            }
            return Double(documents.count) / seconds(ContinuousClock.now - start)
        }

        /// `pharmacies` concurrent clients, each claiming, reviewing and dispensing its share of `ids` over HTTP.
        func roundTrips(_ service: PrescriptionService, ids: [String]) async throws -> Sample {
            let server = try PharmacyAPIServer(service: service, host: "127.0.0.1", port: 0, logger: Log.quietKafka)
            let bound = AsyncStream<Int>.makeStream()
            let serving = Task { try await server.run(onBound: { bound.continuation.yield($0) }) }
            defer { server.shutdown() }
            var port = 0
            for await value in bound.stream {
                port = value
                break
            }
            let url = "http://127.0.0.1:\(port)/"
            let start = ContinuousClock.now
            let results = try await withThrowingTaskGroup(of: ([Duration], Int).self) { group in
                for worker in 0..<pharmacies {
                    group.addTask {
                        let client = try HTTPClient(url: url)
                        defer { Task { await client.close() } }
                        let pharmacy = "P\(worker)"
                        var latencies: [Duration] = [], failed = 0
                        for index in stride(from: worker, to: ids.count, by: pharmacies) {
                            let began = ContinuousClock.now
                            let claim = try await Self.post(client, ids[index], "claim", .object(["pharmacyCode": .string(pharmacy)]))
                            latencies.append(ContinuousClock.now - began)
                            let review = try await Self.post(client, ids[index], "review", .object(["pharmacyCode": .string(pharmacy), "decision": .string("approve"), "pharCode": .string("PH1")]))
                            let dispense = try await Self.post(client, ids[index], "dispense", .object([
                                "pharmacyCode": .string(pharmacy),
                                "seltdelts": .array([.object(["med_list_codg": .string("XJ01DDT085B002010101445"), "drug_totlcnt": .string("6"), "bchno": .string("B1"),
                                                              "pric": .string("12.50"), "sumamt": .string("75.00")])]),
                            ]))
                            if claim != 200 || review != 200 || dispense != 200 { failed += 1 }
                        }
                        return (latencies, failed)
                    }
                }
                var all: ([Duration], Int) = ([], 0)
                for try await (latencies, failed) in group { all = (all.0 + latencies, all.1 + failed) }
                return all
            }
            let elapsed = ContinuousClock.now - start
            server.shutdown()
            _ = try? await serving.value
            return sample(latencies: results.0, elapsed: elapsed, failed: results.1)
        }

        static func post(_ client: HTTPClient, _ id: String, _ operation: String, _ body: JSONValue) async throws -> Int {
            do {
                return try await client.send(HTTPClientRequest(method: "POST", target: "/v1/prescriptions/\(id)/\(operation)",
                                                               headers: [("Content-Type", "application/json")], body: body.jsonBytes), timeout: .seconds(30)).status
            } catch {
                throw CommandFailure("HTTP \(operation): \(HTTPClient.describe(error))")
            }
        }

        /// A typical prescription: two drug lines and a diagnosis.
        static func body(number: String) -> JSONValue {
            .object([
                "hospRxno": .string(number), "patientId": .string("ZY2025000123"), "fixmedinsCode": .string("H37010200001"), "drCode": .string("D1023"),
                "drName": .string("王建国"), "prscDeptCode": .string("0301"), "valiDays": .int(3),
                "diseinfo": .array([.object(["diagCode": .string("J18.900"), "diagName": .string("肺炎"), "maindiagFlag": .string("1")])]),
                "rxdrugdetail": .array([
                    .object(["medListCodg": .string("XJ01DDT085B002010101445"), "fixmedinsHilistId": .string("86900123000017"), "fixmedinsHilistName": .string("注射用头孢曲松钠"),
                             "drugCnt": .number("6"), "sinDoscnt": .number("2"), "sinDosunt": .string("克"), "usedFrquCodg": .string("Q8H"), "drugDosunt": .string("支")]),
                    .object(["medListCodg": .string("XJ01XDJ057B002020100213"), "fixmedinsHilistId": .string("86900234000025"), "drugCnt": .number("3"),
                             "sinDoscnt": .number("0.5"), "usedFrquCodg": .string("TID"), "drugDosunt": .string("瓶")]),
                ]),
            ])
        }
    }
}
