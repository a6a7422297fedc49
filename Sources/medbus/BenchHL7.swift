import ArgumentParser
import Foundation
import MedBusHL7

extension BenchCommand {
    /// `medbus bench hl7`: HL7 v2 parse throughput on one core over the sample messages, beside a
    /// byte-scan baseline (finding every segment and field boundary, the least any parser does).
    struct HL7: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "HL7 v2 parse msgs/s on one core vs a byte-scan baseline, over Adapters/samples.")

        @Option(help: "Folder of sample messages (*.hl7, one message each; batch files are skipped).") var samples: String = "Adapters/samples"
        @Option(help: "Seconds per variant and run.") var seconds: Double = 2
        @Option(help: "Runs; medians are reported.") var runs: Int = 5
        @Option(help: "Also write the result table to this Markdown file.") var output: String?

        func run() throws {
            let names = try FileManager.default.contentsOfDirectory(atPath: samples).filter { $0.hasSuffix(".hl7") && !$0.contains("batch") }.sorted()
            let messages = try names.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: (samples as NSString).appendingPathComponent($0)))) }
            guard !messages.isEmpty else { throw CommandFailure("no *.hl7 samples in \(samples)") }
            for (name, bytes) in zip(names, messages) {
                do { _ = try HL7Message(parsing: bytes) } catch { throw CommandFailure("\(name): \(error)") }
            }
            let paths = try ["MSH-9.1", "MSH-10", "PID-3.1", "PID-5.1", "PV1-2"].map { try HL7Path($0) }
            let variants: [(String, ([UInt8]) -> Int)] = [
                ("byte scan (baseline)", Self.scan),
                ("parse", { (try? HL7Message(parsing: $0))?.segmentCount ?? 0 }),
                ("parse + 5 path reads", { bytes in
                    guard let message = try? HL7Message(parsing: bytes) else { return 0 }
                    return paths.reduce(0) { $0 + (message[$1]?.utf8.count ?? 0) }
                }),
            ]
            var rates: [String: [Double]] = [:]
            for run in 1...runs {
                for (label, body) in variants {
                    let rate = Self.measure(messages, seconds: seconds, body)
                    rates[label, default: []].append(rate)
                    FileHandle.standardError.write(Data("run \(run) \(label): \(Int(rate)) msg/s\n".utf8))
                }
            }
            let averageBytes = messages.map(\.count).reduce(0, +) / messages.count
            var lines = [
                "HL7 v2 parse on one core: \(messages.count) sample messages (average \(averageBytes) B; UTF-8, GB18030, custom delimiters), each variant \(seconds) s per run, median of \(runs) runs.",
                "",
                "| variant | msg/s (median) | vs baseline |",
                "|---|---:|---:|",
            ]
            let baseline = median(rates[variants[0].0]!)
            for (label, _) in variants {
                let rate = median(rates[label]!)
                lines.append("| \(label) | \(Int(rate)) | \(String(format: "%.0f%%", 100 * rate / baseline)) |")
            }
            let report = lines.joined(separator: "\n")
            print(report)
            if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
        }

        /// Messages per second for `body` over the samples, round-robin, on this thread.
        static func measure(_ messages: [[UInt8]], seconds: Double, _ body: ([UInt8]) -> Int) -> Double {
            var count = 0
            var sink = 0
            let clock = ContinuousClock()
            let start = clock.now
            let end = start + .milliseconds(Int(seconds * 1000))
            while clock.now < end {
                for message in messages { sink &+= body(message) }
                count += messages.count
            }
            if sink == 42 { FileHandle.standardError.write(Data()) }  // keep `sink` observable
            let elapsed = clock.now - start
            return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }

        /// Counts segment and field boundaries: the work no parser can skip.
        static func scan(_ bytes: [UInt8]) -> Int {
            guard bytes.count > 3 else { return 0 }
            let field = bytes[3]
            return bytes.withUnsafeBufferPointer { buffer in
                var boundaries = 0
                for byte in buffer where byte == field || byte == 0x0D { boundaries &+= 1 }
                return boundaries
            }
        }
    }
}
