import Foundation
import MedBusHL7
import Testing

/// Parse throughput on the 1 KB ADT^A01 sample. Opt-in, and meaningful in release builds only:
/// `MEDBUS_HL7_BENCHMARK=1 swift test -c release --filter ThroughputTests`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MEDBUS_HL7_BENCHMARK"] != nil), .serialized)
struct ThroughputTests {
    static let iterations = 500_000

    static func rate(_ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<iterations { try body() }
        }
        return Double(iterations) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    @Test func parseAtLeast200kMessagesPerSecond() throws {
        let bytes = try Samples.bytes("adt_a01.hl7")
        let paths = try ["MSH-9.2", "MSH-10", "PID-3[2]", "PID-5.1", "PV1-44"].map(path)
        var sink = 0
        let parseOnly = try Self.rate { sink &+= try HL7Message(parsing: bytes).segmentCount }
        let parseAndRead = try Self.rate {
            let message = try HL7Message(parsing: bytes)
            for path in paths { sink &+= message[path]?.utf8.count ?? 0 }
        }
        let gb = try Samples.bytes("adt_a01_gb18030.hl7")
        let gbParse = try Self.rate { sink &+= try HL7Message(parsing: gb).segmentCount }
        let acks = HL7AckBuilder()
        let message = try HL7Message(parsing: bytes)
        let ackRate = try Self.rate { sink &+= try acks.acknowledge(message)?.serialize().count ?? 0 }
        print("""
            HL7 parse, \(bytes.count)-byte ADT^A01: \(Int(parseOnly)) msg/s; parse + 5 paths: \(Int(parseAndRead)) msg/s; \
            \(gb.count)-byte GB18030 ADT^A01: \(Int(gbParse)) msg/s; ACK build + serialize: \(Int(ackRate)) ACK/s (sink \(sink))
            """)
        #expect(parseOnly >= 200_000)
    }
}
