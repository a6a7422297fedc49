import MedBusHL7
import Testing

@Suite struct MalformedInputTests {
    static func error(_ text: String) -> HL7Error? { error(Array(text.utf8)) }
    static func error(_ bytes: [UInt8]) -> HL7Error? { hl7Error { _ = try HL7Message(parsing: bytes) } }

    @Test func specificErrors() {
        #expect(Self.error("") == .emptyMessage)
        #expect(Self.error("\r\n \r\n") == .emptyMessage)
        #expect(Self.error("PID|1||123") == .noMSH)
        #expect(Self.error("MSX|^~\\&") == .noMSH)
        #expect(Self.error("msh|^~\\&") == .noMSH)
        #expect(Self.error("MS") == .truncated(byteOffset: 2))
        #expect(Self.error("MSH") == .truncated(byteOffset: 3))
        #expect(Self.error("MSH|^~") == .truncated(byteOffset: 6))
        #expect(Self.error("MSH|^|HIS|H1") == .invalidDelimiters(segmentID: "MSH", field: 2))
        #expect(Self.error("MSH|^\rPID|1") == .invalidDelimiters(segmentID: "MSH", field: 2))
        #expect(Self.error("MSH|^^\\&|HIS") == .invalidDelimiters(segmentID: "MSH", field: 2))
        #expect(Self.error("MSH|^~\\&#$|HIS") == .invalidDelimiters(segmentID: "MSH", field: 2))
        #expect(Self.error("MSH|^~|&|HIS") == .invalidDelimiters(segmentID: "MSH", field: 2))
        #expect(Self.error("MSHA^~\\&") == .invalidDelimiters(segmentID: "MSH", field: 1))
        #expect(Self.error("MSH ^~\\&") == .invalidDelimiters(segmentID: "MSH", field: 1))
        #expect(Self.error("MSH\r") == .invalidDelimiters(segmentID: "MSH", field: 1))
        #expect(Self.error("MSH|^~\\&|A\rpid|1") == .invalidSegmentID(segmentIndex: 2))
        #expect(Self.error("MSH|^~\\&|A\rPID|1\rPIDX|1") == .invalidSegmentID(segmentIndex: 3))
        #expect(Self.error("MSH|^~\\&|A\r\u{1C}\r") == .invalidSegmentID(segmentIndex: 2))
    }

    @Test func lenientAboutPaddingAroundTheMessage() throws {
        let message = try HL7Message(parsing: [0xEF, 0xBB, 0xBF] + Array("\r\n  MSH|^~\\&|A\r   \r\rPID|1\r\n".utf8))
        #expect(message.segments.map(\.id) == ["MSH", "PID"])
        #expect(try message.serialize(terminators: .carriageReturn) == Array("MSH|^~\\&|A\rPID|1\r".utf8))
        #expect(try HL7Message(parsing: Array("MSH|^~\\&".utf8)).segmentCount == 1)
    }

    @Test func aBareHeaderSegmentHasNoFields() throws {
        let message = try HL7Message(parsing: Array("MSH|^~\\&|A\rMSH".utf8))
        let bare = message.segments[1]
        #expect(bare.id == "MSH" && bare.fieldCount == 0 && bare.fields.isEmpty)
        #expect(bare.field(1).isEmpty && bare.field(2).isEmpty)
    }

    @Test func errorDescriptionsNeverQuoteTheMessage() throws {
        let secret = "SECRET患者370102199001011234"
        let inputs: [[UInt8]] = [
            Array("MSH|^~\\&|\(secret)\rPID|1||\(secret)".utf8) + [0xFF],
            Array("MSH|^~\\&|A\r\(secret)|1".utf8),
            Array(header(charset: secret).utf8),
            Array("\(secret)|^~\\&".utf8),
            Array("MSH|^\(secret)".utf8),
        ]
        for input in inputs {
            let error = try #require(Self.error(input))
            #expect(!error.description.contains("SECRET"))
            #expect(!error.description.contains("3701021990"))
            #expect(!error.description.contains("患者"))
        }
    }

    /// Random bytes, and samples with bytes flipped, inserted and cut: every input parses or throws, and
    /// whatever parses can be walked, written, and acknowledged.
    @Test func garbageNeverCrashes() throws {
        var random = SplitMix64(state: 2025)
        let samples = try Samples.names.map(Samples.bytes)
        let acks = HL7AckBuilder(makeControlID: { "ACK1" })
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if round % 2 == 0 { bytes = Array("MSH|^~\\&|".utf8) + bytes }
            } else {
                bytes = samples.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    let at = Int.random(in: 0...bytes.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0 where at < bytes.count: bytes[at] = UInt8.random(in: 0...255, using: &random)
                    case 1: bytes.insert([0x0D, 0x0A, 0x7C, 0x5E, 0x5C, 0x26, 0x7E, 0x22, 0xD5, 0x81, 0x30].randomElement(using: &random)!, at: at)
                    default: bytes = Array(bytes[..<at])
                    }
                }
            }
            do {
                let message = try HL7Message(parsing: bytes)
                for segment in message.segments {
                    for field in segment.fields {
                        for repetition in field.repetitions {
                            for component in repetition.components { _ = component.subcomponents.map(\.value) }
                        }
                    }
                }
                _ = try? message.serialize()
                _ = acks.acknowledge(message, issues: [HL7Issue(code: .dataTypeError, location: HL7ErrorLocation(segmentID: "PID", field: 3))])
                _ = try HL7Batch(parsing: bytes)
            } catch {
                let ack = acks.reject(unparseable: bytes, error: error)
                #expect(try HL7Message(parsing: try ack.serialize())[try path("MSA-1")] == "AR")
            }
        }
    }
}
