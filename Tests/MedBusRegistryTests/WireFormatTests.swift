import Foundation
import XCTest
@testable import MedBusRegistry

final class WireFormatTests: XCTestCase {
    func testAnnouncementRoundTripsExactly() throws {
        let content: [UInt8] = Array(0...255) + bytes("{\"mapping\": \"名字\"}")
        let mapping = MappingVersion(name: "his.adt", version: 3, digest: MappingVersion.digest(of: content), author: "李",
                                     publishedAt: Date().roundedToStoredPrecision, note: "note / \"quoted\"", content: content)
        let activation = Activation(sequence: 17, name: "his.adt", version: 3, action: .rollback, author: "wang",
                                    at: Date(timeIntervalSince1970: 1_746_086_400.123456).roundedToStoredPrecision, note: "")
        let encoded = try MappingAnnouncement(mapping: mapping, activation: activation).encoded()
        let decoded = try XCTUnwrap(MappingAnnouncement.decode(encoded))
        XCTAssertEqual(decoded.mapping, mapping)
        XCTAssertEqual(decoded.activation, activation)

        let json = String(decoding: encoded, as: UTF8.self)
        XCTAssertTrue(json.contains("\"schema\":\"medbus.mapping-announcement/1\""), json)
        XCTAssertTrue(json.contains("\"at\":\"2025-05-01T08:00:00.123456Z\""), json)
        XCTAssertTrue(json.contains("\"content\":\"\(Data(content).base64EncodedString())\""), "content travels as base64")
        XCTAssertNil(MappingAnnouncement.decode(bytes("{\"schema\":\"other/1\"}")))
        XCTAssertNil(MappingAnnouncement.decode(bytes("not json")))
    }

    func testWireDatesKeepMicroseconds() {
        for date in [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_700_000_000.000001),
                     Date(timeIntervalSince1970: -1.5), Date().roundedToStoredPrecision] {
            XCTAssertEqual(WireDate.date(from: WireDate.string(from: date)), date.roundedToStoredPrecision, WireDate.string(from: date))
        }
        XCTAssertEqual(WireDate.string(from: Date(timeIntervalSince1970: -1.5)), "1969-12-31T23:59:58.500000Z")
        XCTAssertEqual(WireDate.date(from: "2025-05-01T08:00:00Z"), Date(timeIntervalSince1970: 1_746_086_400))
        XCTAssertEqual(WireDate.date(from: "2025-05-01T08:00:00.5Z"), Date(timeIntervalSince1970: 1_746_086_400.5))
        XCTAssertNil(WireDate.date(from: "2025-05-01T08:00:00.1234567Z"))
        XCTAssertNil(WireDate.date(from: "2025-05-01 08:00:00"))
    }

    func testActiveSetOrdersByActivationSequenceNotVersionNumber() throws {
        var set = ActiveMappingSet()
        let v1 = mapping("m", 1, "one"), v2 = mapping("m", 2, "two")
        XCTAssertEqual(set.apply(key: bytes("m"), value: try record(v1, sequence: 1)), .changed)
        XCTAssertEqual(set.apply(key: bytes("m"), value: try record(v2, sequence: 2)), .changed)
        XCTAssertEqual(set.snapshot["m"], v2)
        // A rollback to v1 is newer although its version number is smaller.
        XCTAssertEqual(set.apply(key: bytes("m"), value: try record(v1, sequence: 3, action: .rollback)), .changed)
        XCTAssertEqual(set.snapshot["m"], v1)
        // A late re-send of an older activation changes nothing; neither does a duplicate.
        XCTAssertEqual(set.apply(key: bytes("m"), value: try record(v2, sequence: 2)), .unchanged)
        XCTAssertEqual(set.apply(key: bytes("m"), value: try record(v1, sequence: 3, action: .rollback)), .unchanged)
        XCTAssertEqual(set.snapshot["m"], v1)
        // Other names are independent; a tombstone retires a name.
        XCTAssertEqual(set.apply(key: bytes("n"), value: try record(mapping("n", 1, "n"), sequence: 4)), .changed)
        XCTAssertEqual(set.apply(key: bytes("m"), value: nil), .changed)
        XCTAssertEqual(set.snapshot.keys.sorted(), ["n"])
    }

    func testActiveSetRejectsDamagedRecords() throws {
        var set = ActiveMappingSet()
        let good = mapping("m", 1, "good")
        XCTAssertEqual(set.apply(key: bytes("m"), value: try record(good, sequence: 1)), .changed)

        var tampered = mapping("m", 2, "original")
        tampered.content = bytes("tampered")
        guard case .rejected(let reason) = set.apply(key: bytes("m"), value: try record(tampered, sequence: 2)) else { return XCTFail() }
        XCTAssertTrue(reason.contains("digest"), reason)
        XCTAssertFalse(reason.contains("tampered"), "a rejection never quotes content")
        guard case .rejected = set.apply(key: bytes("other"), value: try record(mapping("m", 3, "x"), sequence: 3)) else { return XCTFail("key must be the mapping's name") }
        guard case .rejected = set.apply(key: bytes("m"), value: bytes("{}")) else { return XCTFail() }
        guard case .rejected = set.apply(key: nil, value: try record(good, sequence: 9)) else { return XCTFail() }
        XCTAssertEqual(set.snapshot, ["m": good])
    }

    private func mapping(_ name: String, _ version: Int, _ text: String) -> MappingVersion {
        MappingVersion(name: name, version: version, digest: MappingVersion.digest(of: bytes(text)), author: "li",
                       publishedAt: Date().roundedToStoredPrecision, note: "", content: bytes(text))
    }

    private func record(_ mapping: MappingVersion, sequence: Int64, action: Activation.Action = .publish) throws -> [UInt8] {
        let activation = Activation(sequence: sequence, name: mapping.name, version: mapping.version, action: action,
                                    author: "li", at: Date().roundedToStoredPrecision, note: "")
        return try MappingAnnouncement(mapping: mapping, activation: activation).encoded()
    }
}
