import Foundation
import MedBusCore
@testable import MedBusDispatch
import XCTest

/// The timeline's rules on their own: times, ordering by event time, notices as the task changes.
final class TimelineTests: XCTestCase {
    let signs = try! VitalSigns.load(path: DispatchFixture.vitalSignsPath)

    func testEventTimesNeedAnOffsetAndCompareAsInstants() throws {
        let local = try XCTUnwrap(EventTime("2025-01-15T10:40:00+08:00"))
        let utc = try XCTUnwrap(EventTime("2025-01-15T02:40:00Z"))
        XCTAssertEqual(local.microseconds, utc.microseconds)
        XCTAssertEqual(EventTime("2025-01-15T02:40:00.250Z")?.microseconds, utc.microseconds + 250_000)
        XCTAssertEqual(local.text, "2025-01-15T10:40:00+08:00", "kept as written")
        for bad in ["2025-01-15T10:40:00", "2025-01-15", "2025-02-30T10:00:00Z", "2025-01-15T25:00:00Z", "2025-01-15T10:40:00+0800", "yesterday"] {
            XCTAssertNil(EventTime(bad), bad)
        }
    }

    private func event(_ id: String, _ stage: DispatchStage, _ time: String, _ extra: String = "") throws -> DispatchEvent {
        let line = #"{"eventId":"\#(id)","taskId":"T1","centreCode":"JN120","stage":"\#(stage.rawValue)","occurredAt":"\#(time)"\#(extra)}"#
        guard case .event(let event) = DispatchEventParser(centre: "JN120", vitalSigns: signs).parse(Array(line.utf8)) else {
            throw XCTSkip("invalid test event \(line)")
        }
        return event
    }

    func testLateAndOutOfOrderEventsLandByEventTime() throws {
        let events = [
            try event("e5", .leftScene, "2025-01-15T10:25:00+08:00", #","destinationHospital":"H1","eta":"2025-01-15T10:45:00+08:00""#),
            try event("e2", .dispatched, "2025-01-15T10:02:00+08:00"),
            try event("e7", .vitals, "2025-01-15T10:30:00+08:00", #","vitals":[{"code":"sbp","value":120}]"#),
            try event("e6", .vitals, "2025-01-15T10:28:00+08:00", #","vitals":[{"code":"sbp","value":90},{"code":"spo2","value":40}]"#),
            try event("e1", .callReceived, "2025-01-15T02:00:00Z"),  // the same instant in UTC
            try event("e3", .departed, "2025-01-15T10:04:00+08:00"),
            try event("e4", .arrivedScene, "2025-01-15T10:15:00+08:00"),
            try event("e8", .gps, "2025-01-15T10:20:00+08:00", #","eta":"2025-01-15T09:00:00+08:00""#),  // an older ETA, arriving late
        ]
        let timeline = TaskTimeline(taskId: "T1", events: events, vitalSigns: signs)
        XCTAssertEqual(timeline.entries.map(\.eventId), ["e1", "e2", "e3", "e4", "e8", "e5", "e6", "e7"])
        XCTAssertEqual(timeline.stage, .leftScene)
        XCTAssertEqual(timeline.eta?.text, "2025-01-15T10:45:00+08:00", "the latest ETA by event time wins, not the last to arrive")
        XCTAssertEqual(timeline.vitals.map(\.code), ["sbp", "spo2"])
        XCTAssertEqual(timeline.vitals.first?.value, "120", "the later reading, though it arrived first")
        XCTAssertEqual(timeline.vitals.last?.flagged, true, "SpO2 40 is kept, flagged")
        XCTAssertTrue(timeline.patientOnBoard)
        XCTAssertEqual(timeline.intervals.map(\.1), [120, 120, 660, 600], "call→dispatch, dispatch→departure, departure→scene, on scene")
    }

    func testNoticesAreVersionedAndFollowTheDestination() throws {
        var events = [
            try event("a", .arrivedScene, "2025-01-15T10:15:00+08:00"),
            try event("b", .leftScene, "2025-01-15T10:25:00+08:00", #","destinationHospital":"H1""#),
        ]
        let first = PrearrivalNotice.due(for: TaskTimeline(taskId: "T1", events: events, vitalSigns: signs), last: nil, vitalSigns: signs)
        XCTAssertEqual(first.map(\.status), [.new])
        XCTAssertEqual(first.first?.version, 1)
        // Nothing changed for the hospital: nothing to send.
        XCTAssertTrue(PrearrivalNotice.due(for: TaskTimeline(taskId: "T1", events: events, vitalSigns: signs), last: first[0], vitalSigns: signs).isEmpty)
        events.append(try event("c", .vitals, "2025-01-15T10:27:00+08:00", #","vitals":[{"code":"heartRate","value":110}]"#))
        let update = PrearrivalNotice.due(for: TaskTimeline(taskId: "T1", events: events, vitalSigns: signs), last: first[0], vitalSigns: signs)
        XCTAssertEqual(update.map(\.status), [.updated])
        XCTAssertEqual(update.first?.version, 2)
        events.append(try event("d", .gps, "2025-01-15T10:29:00+08:00", #","destinationHospital":"H2""#))
        let diverted = PrearrivalNotice.due(for: TaskTimeline(taskId: "T1", events: events, vitalSigns: signs), last: update[0], vitalSigns: signs)
        XCTAssertEqual(diverted.map { "\($0.hospital) \($0.status) v\($0.version)" }, ["H1 cancelled v3", "H2 new v4"])
        events.append(try event("e", .arrivedHospital, "2025-01-15T10:40:00+08:00"))
        XCTAssertTrue(PrearrivalNotice.due(for: TaskTimeline(taskId: "T1", events: events, vitalSigns: signs), last: diverted[1], vitalSigns: signs).isEmpty, "no notice once arrived")
        // The published payload follows the canonical schema's field names.
        let payload = try JSONParser.parse(update[0].payload(sentAt: Date(timeIntervalSince1970: 0)))
        XCTAssertEqual(payload["noticeId"]?.stringValue, "PAN-T1-2")
        XCTAssertEqual(payload["patient"]?["tempId"]?.stringValue, "T1", "the task id until the crew assigns one")
        XCTAssertEqual(payload["vitals"]?.arrayValue?.first?["name"]?.stringValue, "心率")
        XCTAssertEqual(payload["vitals"]?.arrayValue?.first?["unit"]?.stringValue, "/min")
    }
}
