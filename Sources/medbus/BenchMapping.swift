import ArgumentParser
import Foundation
import MedBusHL7
import MedBusMapping

extension BenchCommand {
    /// `medbus bench map`: mapping throughput on one core (parse + apply + schema validation + JSON
    /// writing, what the routing core does per record), beside parsing the same sample alone.
    struct Map: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mapping msgs/s on one core (HL7 parse included) vs parsing the same sample alone.",
            discussion: """
            Each mapping runs as the routing core runs it: MappingCatalog.apply on the sample's bytes with \
            realistic record headers, which parses the message, applies the mapping, validates every JSON \
            output against its target schema (always on, it cannot be turned off) and writes the records' bytes.
            """
        )

        @Option(help: "Folder of the shipped mappings.") var mappings: String = "Mappings"
        @Option(help: "Folder of sample messages.") var samples: String = "Adapters/samples"
        @Option(help: "Seconds per variant and run.") var seconds: Double = 2
        @Option(help: "Runs; medians are reported.") var runs: Int = 5
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        /// Headers as an HIS adapter writes them on raw.his.<hospital>.
        static let headers = [
            "medbus-source": "his.H37010200001",
            "medbus-message-id": "0f6c2a56-5a8e-4b9e-9d47-0a3c6f2f1a01",
            "medbus-received-at": "2025-01-15T10:30:00.000+08:00",
        ]

        /// One sample and the mapping measured on it.
        struct Case {
            var sample: String
            var sampleLabel: String
            var mapping: String
            var label: String
        }

        static let cases = [
            Case(sample: "adt_a01.hl7", sampleLabel: "ADT^A01", mapping: "his/adt-patient-encounter.yaml",
                 label: "ADT^A01 → patient + encounter (adt-patient-encounter.yaml)"),
            Case(sample: "oru_r01.hl7", sampleLabel: "ORU^R01", mapping: "his/oru-result.yaml", label: "ORU^R01 → result (oru-result.yaml)"),
        ]

        /// Runs `body` on `message` for `seconds` of wall time: msgs/s by the wall clock and per second of
        /// this thread's CPU time.
        static func measure(_ message: [UInt8], seconds: Double, _ body: ([UInt8]) -> Int) -> (Double, Double) {
            func cpuNow() -> Double {
                var now = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
                return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
            }
            var count = 0, sink = 0
            let clock = ContinuousClock()
            let start = clock.now, cpuStart = cpuNow()
            while clock.now - start < .milliseconds(Int(seconds * 1000)) {
                for _ in 0..<100 { sink &+= body(message) }
                count += 100
            }
            let cpu = cpuNow() - cpuStart, elapsed = clock.now - start
            if sink == 42 { FileHandle.standardError.write(Data()) }  // keep `sink` observable
            return (Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18), Double(count) / cpu)
        }

        func validate() throws {
            guard seconds > 0, runs > 0 else { throw ValidationError("seconds and runs must be positive") }
        }

        func run() throws {
            var variants: [(label: String, baseline: String, body: ([UInt8]) -> Int, message: [UInt8])] = []
            for item in Self.cases {
                let message = [UInt8](try Data(contentsOf: URL(fileURLWithPath: (samples as NSString).appendingPathComponent(item.sample))))
                let file = URL(fileURLWithPath: (mappings as NSString).appendingPathComponent(item.mapping))
                let catalog: MappingCatalog
                do { catalog = MappingCatalog([try Mapping.compile(try MappingBundle.load(mappingFile: file))]) } catch {
                    throw CommandFailure("\(item.mapping): \(error)")
                }
                // Measure only what maps: a sample that fails or is filtered would time the error path.
                switch catalog.apply(MappingInput(payload: message, headers: Self.headers)) {
                case .success(.records(let records)) where !records.isEmpty: break
                case let other: throw CommandFailure("\(item.mapping) on \(item.sample) gives no records: \(other)")
                }
                let baseline = "\(item.sampleLabel): HL7 parse only (baseline)"
                variants.append((baseline, baseline, { (try? HL7Message(parsing: $0))?.segmentCount ?? 0 }, message))
                variants.append((item.label, baseline, { bytes in
                    guard case .success(.records(let records)) = catalog.apply(MappingInput(payload: bytes, headers: Self.headers)) else { return 0 }
                    return records.count
                }, message))
            }
            var rates: [String: [Double]] = [:], cpuRates: [String: [Double]] = [:]
            for run in 1...runs {
                for variant in variants {
                    let (rate, cpuRate) = Self.measure(variant.message, seconds: seconds, variant.body)
                    rates[variant.label, default: []].append(rate)
                    cpuRates[variant.label, default: []].append(cpuRate)
                    FileHandle.standardError.write(Data("run \(run) \(variant.label): \(Int(rate)) msg/s, \(Int(cpuRate)) per CPU-second\n".utf8))
                }
            }
            var lines = [
                "Mapping on one core: parse + apply + output schema validation (always on) + JSON writing, per message; each variant \(seconds) s per run, median of \(runs) runs. " +
                    "Per CPU-second: messages per second of this thread's own CPU time, which other load on the machine disturbs less than the wall clock.",
                "",
                "| variant | msg/s (median) | vs baseline | msg/s per CPU-second (median) | µs CPU/msg | vs baseline |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for variant in variants {
                let rate = median(rates[variant.label]!), baseline = median(rates[variant.baseline]!)
                let cpuRate = median(cpuRates[variant.label]!), cpuBaseline = median(cpuRates[variant.baseline]!)
                lines.append("| \(variant.label) | \(Int(rate)) | \(String(format: "%.0f%%", 100 * rate / baseline)) | \(Int(cpuRate)) | "
                    + "\(String(format: "%.2f", 1e6 / cpuRate)) | \(String(format: "%.0f%%", 100 * cpuRate / cpuBaseline)) |")
            }
            let report = lines.joined(separator: "\n")
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }
    }
}
