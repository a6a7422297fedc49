import Foundation
import MedBusHL7
import XCTest

@testable import MedBusMapping

/// The slot table (`HL7Layout`, `HL7Table`: one scan per field) against the reference reading: every path
/// into every sample and edge-case message, at the root and inside `each` scopes over segments and field
/// repetitions, reads what `HL7Message` / `SourcePath.hl7Text` read, and the scopes iterate the elements
/// `HL7Cursor` finds.
final class HL7LayoutTests: XCTestCase {
    typealias Address = MedBusMapping.HL7Address

    static func messages() throws -> [HL7Message] {
        var messages: [HL7Message] = []
        let samples = Fixtures.repositoryRoot.appendingPathComponent("Adapters/samples")
        for name in try FileManager.default.contentsOfDirectory(atPath: samples.path).sorted() where name.hasSuffix(".hl7") && !name.contains("batch") {
            messages.append(try HL7Message(parsing: Array(try Data(contentsOf: samples.appendingPathComponent(name)))))
        }
        for text in HL7SourceTests.edgeCases { messages.append(try HL7Message(parsing: Array(text.utf8))) }
        return messages
    }

    static func addresses(_ id: String, occurrences: ClosedRange<Int>, fields: ClosedRange<Int>) throws -> [Address] {
        var addresses: [Address] = []
        for occurrence in occurrences {
            for field in fields {
                for repetition in 1...3 {
                    for component in [nil, 1, 2, 3, 5] as [Int?] {
                        for subcomponent in (component == nil ? [nil] : [nil, 1, 2]) as [Int?] {
                            addresses.append(Address(try HL7Path(
                                segment: id, occurrence: occurrence, field: field, repetition: repetition, component: component, subcomponent: subcomponent)))
                        }
                    }
                }
            }
        }
        return addresses
    }

    static func string(_ table: HL7Table, _ slot: Int, _ cursor: HL7Cursor) -> String? {
        switch table.text(slot, cursor) {
        case .none: nil
        case .bytes(let range): String(decoding: table.bytes[range], as: UTF8.self)
        case .decoded(let bytes): String(decoding: bytes, as: UTF8.self)
        }
    }

    func testRootSlotsReadAsHL7MessageDoes() throws {
        var compared = 0
        for message in try Self.messages() {
            var builder = HL7Layout.Builder()
            var reads: [(Address, Int)] = []
            for id in Set(message.segments.map(\.id)) {
                let occurrences = message.segments(withID: id).count
                for address in try Self.addresses(id, occurrences: 1...(occurrences + 1), fields: 1...25) {
                    reads.append((address, builder.slot(address, in: .root)))
                }
            }
            let table = HL7Table(HL7Layout(builder), HL7Source(message))
            defer { table.deallocate() }
            for (address, slot) in reads {
                XCTAssertEqual(Self.string(table, slot, HL7Cursor()), message[address.path], "\(address.path) in \(message)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 50_000)
    }

    func testEachScopesReadAsTheReferencePath() throws {
        var compared = 0
        for message in try Self.messages() {
            let source = HL7Source(message)
            for id in Set(message.segments.map(\.id)) {
                guard let packed = HL7Source.pack(id) else { continue }
                // each: <segment>, reading its own fields, another segment's, and inside each: <segment>-<field>.
                var builder = HL7Layout.Builder()
                let (segments, inSegment) = try builder.scope(.segments(packed), in: .root)
                let own = try Self.addresses(id, occurrences: 1...2, fields: 1...12)
                let other = try Self.addresses(id == "PID" ? "PV1" : "PID", occurrences: 1...1, fields: 2...4)
                let segmentReads = (own + other).map { ($0, builder.slot($0, in: inSegment)) }
                var repetitionReads: [Int: (scope: Int, reads: [(Address, Int)])] = [:]
                for number in 3...12 {
                    let field = Address(try HL7Path(segment: id, field: number))
                    let (scope, inRepetition) = try builder.scope(.repetitions(field), in: inSegment)
                    let reads = try Self.addresses(id, occurrences: 1...1, fields: number...number) + other
                    repetitionReads[number] = (scope, reads.map { ($0, builder.slot($0, in: inRepetition)) })
                }
                let table = HL7Table(HL7Layout(builder), source)
                defer { table.deallocate() }
                var visited: [HL7Cursor] = []
                table.forEach(segments, from: HL7Cursor()) { cursor, index in
                    visited.append(cursor)
                    XCTAssertEqual(index, visited.count)
                    for (address, slot) in segmentReads {
                        XCTAssertEqual(Self.string(table, slot, cursor), SourcePath.hl7Text(address, source: source, cursor: cursor), "\(address.path) in \(id) #\(index)")
                        compared += 1
                    }
                    for (field, (scope, reads)) in repetitionReads {
                        let expected = cursor.repetitions(Address(try! HL7Path(segment: id, field: field)), in: source)
                        var count = 0
                        table.forEach(scope, from: cursor) { inner, index in
                            count += 1
                            XCTAssertEqual(index, count)
                            XCTAssertEqual(inner.repetition?.element.range, expected[count - 1].repetition?.element.range)
                            for (address, slot) in reads {
                                XCTAssertEqual(Self.string(table, slot, inner), SourcePath.hl7Text(address, source: source, cursor: inner), "\(address.path) in \(id)-\(field) #\(index)")
                                compared += 1
                            }
                        }
                        XCTAssertEqual(count, expected.count, "\(id)-\(field)")
                    }
                }
                XCTAssertEqual(visited.map { $0.segment?.occurrence }, HL7Cursor().segments(packed, in: source).map { $0.segment?.occurrence })
            }
        }
        XCTAssertGreaterThan(compared, 50_000)
    }
}
