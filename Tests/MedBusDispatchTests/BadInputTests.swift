import Foundation
import MedBusCore
@testable import MedBusDispatch
import MedBusKafka
import MedBusStore
import XCTest

/// Every kind of bad CAD input gets its own error back, is kept in the store as rejected, and
/// the stream goes on: the valid events around it are accepted and reach the timeline.
final class BadInputTests: XCTestCase {
    static func event(_ id: String, task: String = "T-BAD-1", stage: String = "call-received", extra: String = "") -> [UInt8] {
        Array(#"{"eventId":"\#(id)","taskId":"\#(task)","centreCode":"JN120","stage":"\#(stage)","occurredAt":"2025-01-15T10:00:00+08:00"\#(extra)}"#.utf8)
    }

    /// (line, expected status, expected error code, expected field)
    static var cases: [(line: [UInt8], status: String, code: String?, field: String?)] {
        [
            (event("OK-1"), "accepted", nil, nil),
            (event("E-STAGE", stage: "teleported"), "rejected", "unknown-stage", "stage"),
            (Array(#"{"eventId":"E-NOTASK","centreCode":"JN120","stage":"dispatched","occurredAt":"2025-01-15T10:01:00+08:00"}"#.utf8), "rejected", "missing-field", "taskId"),
            (Array(#"{"eventId":"E-JSON","taskId":"T-BAD-1","stage":"#.utf8), "rejected", "malformed-json", nil),
            (event("E-LONG", extra: #","callAddress":"\#(String(repeating: "济南市历下区", count: 400))""#), "rejected", "line-too-long", nil),
            (Array(#"{"eventId":"E-UTF8","taskId":"T-BAD-1","callAddress":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), "rejected", "invalid-utf8", nil),
            (Array(#"{"eventId":"E-NOTIME","taskId":"T-BAD-1","stage":"departed"}"#.utf8), "rejected", "missing-field", "occurredAt"),
            (Array(#"{"eventId":"E-OFFSET","taskId":"T-BAD-1","stage":"departed","occurredAt":"2025-01-15T10:05:00"}"#.utf8), "rejected", "invalid-time", "occurredAt"),
            (Array(#"{"eventId":"E-CENTRE","taskId":"T-BAD-1","centreCode":"QD120","stage":"departed","occurredAt":"2025-01-15T10:05:00+08:00"}"#.utf8), "rejected", "wrong-centre", "centreCode"),
            (event("E-FIELD", extra: #","colour":"red""#), "rejected", "unknown-field", "colour"),
            (event("E-VITAL", stage: "vitals", extra: #","vitals":[{"code":"mood","value":3}]"#), "rejected", "invalid-field", "vitals[0].code"),
            (event("E-TRIAGE", stage: "assessment", extra: #","triageLevel":7"#), "rejected", "invalid-field", "triageLevel"),
            (Array("[1,2,3]".utf8), "rejected", "not-an-object", nil),
            (event("OK-2", stage: "vitals", extra: #","vitals":[{"code":"spo2","value":130},{"code":"sbp","value":120}]"#), "accepted", nil, nil),
            (event("OK-3", stage: "dispatched"), "accepted", nil, nil),
        ]
    }

    func testEachBadLineGetsItsErrorOverTCPAndTheStreamContinues() async throws {
        let fixture = try await DispatchFixture(maxLineBytes: 4096)
        let cases = Self.cases
        let acks = try await sendOverTCP(port: fixture.tcpPort, lines: cases.map(\.line))
        XCTAssertEqual(acks.count, cases.count, "one answer per line, in order")
        for (ack, expected) in zip(acks, cases) {
            XCTAssertEqual(ack.status, expected.status, "\(ack.jsonText)")
            XCTAssertEqual(ack.errorCode, expected.code, "\(ack.jsonText)")
            XCTAssertEqual(ack["error"]?["field"]?.stringValue, expected.field, "\(ack.jsonText)")
            if expected.status == "rejected" { XCTAssertFalse(ack["error"]?["reason"]?.stringValue?.isEmpty ?? true) }
        }
        // The eventId is echoed where it could be read, even for a refused event.
        XCTAssertEqual(acks[1]["eventId"]?.stringValue, "E-STAGE")
        XCTAssertEqual(acks[3]["eventId"], .null, "malformed JSON: no id to echo")
        // The implausible SpO2 is accepted, flagged as a warning, not dropped.
        XCTAssertEqual(acks[13]["warnings"]?.arrayValue?.first?["code"]?.stringValue, "implausible-vital")
        XCTAssertEqual(acks[13]["warnings"]?.arrayValue?.first?["field"]?.stringValue, "vitals[0].value")

        // Each refused line is kept for operators with its reason.
        let rejected = try fixture.store.search(MessageQuery(source: "dispatch.JN120", status: .rejected, limit: 100))
        XCTAssertEqual(rejected.count, cases.filter { $0.status == "rejected" }.count)
        let reasons = try rejected.compactMap { try fixture.store.message(id: $0.id)?.error }
        for code in cases.compactMap(\.code) { XCTAssertTrue(reasons.contains { $0.hasPrefix(code) }, "kept with reason \(code): \(reasons)") }

        // The accepted events reached the timeline, the flagged reading with its flag.
        try await fixture.waitForEvents(3, timeout: .seconds(30))
        XCTAssertEqual(try fixture.timelines.eventCount(), 3)
        let timeline = try XCTUnwrap(try fixture.timelines.timeline(of: "T-BAD-1"))
        XCTAssertEqual(timeline["stage"]?.stringValue, "dispatched")
        let spo2 = timeline["vitals"]?.arrayValue?.first { $0["code"]?.stringValue == "spo2" }
        XCTAssertEqual(spo2?["value"]?.scalarText, "130")
        XCTAssertEqual(spo2?["flagged"], .bool(true))
        XCTAssertNil(timeline["vitals"]?.arrayValue?.first { $0["code"]?.stringValue == "sbp" }?["flagged"])
        await fixture.stop()
    }

    func testHTTPAnswersWithTheSameAcknowledgementAndStatusCodes() async throws {
        let fixture = try await DispatchFixture(maxLineBytes: 4096)
        func post(_ body: [UInt8], contentType: String = "application/json") async throws -> (status: Int, ack: JSONValue?) {
            try await httpPost(port: fixture.httpPort, path: "/dispatch/events", body: body, contentType: contentType)
        }
        var answer = try await post(Self.event("H-1"))
        XCTAssertEqual(answer.status, 201)
        XCTAssertEqual(answer.ack?.status, "accepted")
        answer = try await post(Self.event("H-1"))
        XCTAssertEqual(answer.status, 200, "a retransmission")
        XCTAssertEqual(answer.ack?.status, "duplicate")
        answer = try await post(Self.event("H-2", stage: "teleported"))
        XCTAssertEqual(answer.status, 400)
        XCTAssertEqual(answer.ack?.errorCode, "unknown-stage")
        answer = try await post(Array(#"{"eventId":"H-3""#.utf8))
        XCTAssertEqual(answer.status, 400)
        XCTAssertEqual(answer.ack?.errorCode, "malformed-json")
        answer = try await post(Self.event("H-4", extra: #","callAddress":"\#(String(repeating: "x", count: 5000))""#))
        XCTAssertEqual(answer.status, 413)
        XCTAssertEqual(answer.ack?.errorCode, "line-too-long")
        answer = try await post(Self.event("H-5"), contentType: "text/plain")
        XCTAssertEqual(answer.status, 415)
        answer = try await post(Self.event("H-6", stage: "dispatched"))
        XCTAssertEqual(answer.status, 201, "still serving after the bad requests")
        try await fixture.waitForEvents(2, timeout: .seconds(30))
        XCTAssertEqual(try fixture.timelines.eventCount(), 2)
        await fixture.stop()
    }
}

/// A minimal HTTP/1.1 POST over a plain socket (`Connection: close`): status code and JSON body.
func httpPost(port: Int, path: String, body: [UInt8], contentType: String) async throws -> (status: Int, ack: JSONValue?) {
    try await onThread {
        let client = try LineClient(port: port)
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        try client.write(Array(head.utf8) + body)
        var lines: [String] = []
        while let line = try client.readLine() { lines.append(String(decoding: line, as: UTF8.self)) }
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        let ack = lines.last.flatMap { try? JSONParser.parse($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return (status, ack)
    }
}
