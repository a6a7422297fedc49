import MedBusHL7
import XCTest

@testable import MedBusMapping

/// `HL7Source` (the mapping engine's byte-level reader) against `HL7Message` (the reference): every path
/// into every sample and into edge-case messages reads the same text.
final class HL7SourceTests: XCTestCase {
    static let edgeCases: [String] = [
        // LF and CR LF terminators, blank and space-only lines.
        "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\nPID|1||X1^^^H^MR~X2||Zhang^San\n\nPV1|1|I\n",
        "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\r\nPID|1||X1\r\n   \r\nPV1|1|O|W^R^B\r\n",
        // Custom delimiters, escapes (including \X..\ and malformed ones), HL7 null, empty pieces.
        "MSH#$*@%#A#B#C#D\rPID#1##ID1$$$H$MR*ID2$$$H$NI##Li$Ming\rOBX#1#ST#C##a@F@b@S@c@T@d@R@e@E@f@.br@g@X41@h@@i@Q@\r",
        "MSH|^~\\&|LIS||||||ORU^R01|9|P|2.5\rOBX|1|ST|x^y&z&w~q||\"\"|a\\X4142\\b|\\F\\\\S\\\\T\\\\R\\\\E\\\\P\\|\\|x\\zz|\rOBX|2|NM|||5|||^^|~~|&&\rNTE\rNTE|\rZZ1|a^b&c~d^e&f",
        "MSH|^~\\&#|A\rPID|1||\\P\\x#y|a\\.br\\b\\X0A\\c",
    ]

    func testEveryPathReadsAsHL7MessageDoes() throws {
        var messages: [HL7Message] = []
        let samples = Fixtures.repositoryRoot.appendingPathComponent("Adapters/samples")
        for name in try FileManager.default.contentsOfDirectory(atPath: samples.path).sorted() where name.hasSuffix(".hl7") && !name.contains("batch") {
            messages.append(try HL7Message(parsing: Array(try Data(contentsOf: samples.appendingPathComponent(name)))))
        }
        for text in Self.edgeCases { messages.append(try HL7Message(parsing: Array(text.utf8))) }
        var compared = 0
        for message in messages {
            let source = HL7Source(message)
            XCTAssertEqual(source.segments.count, message.segmentCount)
            let ids = Set(message.segments.map(\.id))
            for id in ids {
                let occurrences = message.segments(withID: id).count
                for occurrence in 1...(occurrences + 1) {
                    for field in 1...50 {
                        for repetition in 1...3 {
                            for component in [nil, 1, 2, 3, 4, 5, 7] as [Int?] {
                                for subcomponent in (component == nil ? [nil] : [nil, 1, 2, 3]) as [Int?] {
                                    let path = try HL7Path(
                                        segment: id, occurrence: occurrence, field: field, repetition: repetition, component: component,
                                        subcomponent: subcomponent)
                                    let address = HL7Address(path)
                                    let element = source.element(address, occurrence: occurrence)
                                    let fast = source.string(element) { message.element(at: path) }
                                    XCTAssertEqual(fast, message[path], "\(path) in \(message)")
                                    compared += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(compared, 100_000)
    }

    func testHeaderIDLiteralsArePacked() {
        XCTAssertEqual([HL7Source.pack("MSH"), HL7Source.pack("FHS"), HL7Source.pack("BHS")], [HL7Source.msh, HL7Source.fhs, HL7Source.bhs])
    }

    func testRepetitionsMatch() throws {
        for text in Self.edgeCases {
            let message = try HL7Message(parsing: Array(text.utf8))
            let source = HL7Source(message)
            for (index, segment) in message.segments.enumerated() {
                for field in 1...12 {
                    let reference = segment.field(field).repetitions.map { $0.isEmpty ? nil : $0.string }
                    let fast = source.repetitions(of: source.field(field, ofSegment: index)).map { $0.isEmpty ? nil : source.string($0) { segment.field(field) } }
                    XCTAssertEqual(fast, reference, "\(segment.id)-\(field)")
                }
            }
        }
    }
}
