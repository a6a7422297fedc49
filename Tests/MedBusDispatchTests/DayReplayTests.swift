import Foundation
import MedBusCore
@testable import MedBusDispatch
import MedBusKafka
import XCTest

/// A realistic day replayed through the TCP interface: events shuffled within a bounded window,
/// some sent twice, over four connections at once.
///
/// The day has the full size, 500 tasks and over 20,000 events (about 35 s in a debug
/// build on a loaded 2-core machine); `MEDBUS_DISPATCH_SMALL_DAY=1` replays 100 tasks instead.
final class DayReplayTests: XCTestCase {
    func testShuffledDayWithDuplicatesRestoresEveryTimelineWithoutLossOrDoubles() async throws {
        let full = ProcessInfo.processInfo.environment["MEDBUS_DISPATCH_SMALL_DAY"] != "1"
        let day = DispatchDay(tasks: full ? 500 : 100, hospitals: DispatchFixture.hospitals)
        if full { XCTAssertGreaterThanOrEqual(day.events.count, 20_000) }
        let stream = day.stream(window: 80, duplicatePercent: 3)
        let duplicatesSent = stream.count - day.events.count
        XCTAssertGreaterThan(duplicatesSent, 0)
        XCTAssertTrue(Self.isShuffledWithinTasks(stream), "the stream really is out of order within tasks")

        let fixture = try await DispatchFixture()
        let started = ContinuousClock.now
        let connections = 4
        let acks = try await withThrowingTaskGroup(of: [JSONValue].self) { group in
            for connection in 0..<connections {
                let lines = stream.enumerated().filter { $0.offset % connections == connection }.map(\.element.line)
                group.addTask { try await sendOverTCP(port: fixture.tcpPort, lines: lines) }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(acks.count, stream.count, "one acknowledgement per line")
        let statuses = Dictionary(grouping: acks, by: { $0.status ?? "?" }).mapValues(\.count)
        XCTAssertEqual(statuses["accepted"], day.events.count, "\(statuses)")
        XCTAssertEqual(statuses["duplicate"], duplicatesSent, "\(statuses)")
        XCTAssertEqual(Set(acks.compactMap { $0["eventId"]?.stringValue }), Set(day.events.map(\.eventId)))

        try await fixture.waitForEvents(day.events.count)
        let elapsed = ContinuousClock.now - started
        print("replayed \(stream.count) lines (\(day.plans.count) tasks, \(duplicatesSent) duplicates) into timelines in \(elapsed)")
        XCTAssertEqual(try fixture.timelines.eventCount(), day.events.count, "every event stored once")

        // Kafka holds each event exactly once, keyed by its task.
        let records = try await fixture.read(TopicName.dispatchEvents, count: day.events.count)
        let ids = records.compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }
        XCTAssertEqual(ids.count, day.events.count, "no event published twice")
        XCTAssertEqual(Set(ids), Set(day.events.map(\.eventId)))
        for record in records.prefix(200) {
            XCTAssertEqual(record.keyString, (try? JSONParser.parse(record.value ?? []))?["taskId"]?.stringValue)
        }

        for plan in day.plans { try check(plan, in: fixture.timelines) }
        let active = try fixture.timelines.tasks()
        XCTAssertTrue(active.isEmpty, "every task of the day completed: \(active.map(\.taskId).prefix(5))")
        await fixture.stop()
    }

    /// The timeline consumer restarted twice while the day streams in: it resumes from its
    /// committed offsets, re-reads what it had not committed, and still stores each event once.
    func testTimelineConsumerRestartsMidStreamWithoutLossOrDoubles() async throws {
        let day = DispatchDay(tasks: 30, hospitals: DispatchFixture.hospitals, seed: 42)
        let stream = day.stream(window: 40, duplicatePercent: 2)
        let fixture = try await DispatchFixture()
        let third = stream.count / 3
        for (part, range) in [0..<third, third..<(2 * third), (2 * third)..<stream.count].enumerated() {
            let acks = try await sendOverTCP(port: fixture.tcpPort, lines: stream[range].map(\.line))
            XCTAssertTrue(acks.allSatisfy { $0.status == "accepted" || $0.status == "duplicate" })
            if part < 2 {
                try await Task.sleep(for: .milliseconds(300))  // the consumer is mid-way through the part
                await fixture.restartTimeline()
            }
        }
        try await fixture.waitForEvents(day.events.count, timeout: .seconds(60))
        XCTAssertEqual(try fixture.timelines.eventCount(), day.events.count)
        for plan in day.plans { try check(plan, in: fixture.timelines) }
        await fixture.stop()
    }

    /// The stored timeline of one task against what the generator planned.
    private func check(_ plan: DispatchDay.Plan, in store: TimelineStore) throws {
        guard let timeline = try store.timeline(of: plan.taskId) else { return XCTFail("no timeline for \(plan.taskId)") }
        let events = timeline["events"]?.arrayValue?.compactMap { $0["eventId"]?.stringValue } ?? []
        XCTAssertEqual(events, plan.eventIds, "\(plan.taskId): events in event-time order, none lost or doubled")
        XCTAssertEqual(timeline["stage"]?.stringValue, DispatchStage.completed.rawValue)
        let stages = Dictionary(uniqueKeysWithValues: (timeline["stages"]?.arrayValue ?? []).compactMap { entry -> (String, String)? in
            guard let stage = entry["stage"]?.stringValue, let at = entry["at"]?.stringValue else { return nil }
            return (stage, at)
        })
        XCTAssertEqual(stages, Dictionary(uniqueKeysWithValues: plan.reached.map { ($0.key.rawValue, $0.value.text) }), plan.taskId)
        XCTAssertEqual(timeline["destinationHospital"]?.stringValue, plan.destination, plan.taskId)
        XCTAssertEqual(timeline["eta"]?.stringValue, plan.eta?.text, plan.taskId)
        let vitals = Dictionary(uniqueKeysWithValues: (timeline["vitals"]?.arrayValue ?? []).compactMap { reading -> (String, String)? in
            guard let code = reading["code"]?.stringValue, let value = reading["value"]?.scalarText, let acq = reading["acqTime"]?.stringValue else { return nil }
            return (code, "\(value)@\(acq)")
        })
        XCTAssertEqual(vitals, plan.vitals.mapValues { "\($0.value)@\($0.acqTime.text)" }, plan.taskId)
        // The standard intervals follow from the stage times.
        let intervals = timeline["intervals"]
        for interval in DispatchInterval.allCases {
            let expected = plan.reached[interval.stages.from].flatMap { from in
                plan.reached[interval.stages.to].map { String(($0.microseconds - from.microseconds) / 1_000_000) }
            }
            XCTAssertEqual(intervals?[interval.rawValue]?.scalarText, expected, "\(plan.taskId) \(interval.rawValue)")
        }
        // Notices go out only while the patient is en route: replayed at full speed, a task's
        // arrival is often read in the same batch as its departure from the scene, and then none
        // is due. Those sent are versions 1, 2, … with nothing skipped, all on Kafka.
        let notices = try store.notices(of: plan.taskId)
        if plan.destination == nil {
            XCTAssertTrue(notices.isEmpty, "\(plan.taskId): an empty run sends no notice")
        } else if !notices.isEmpty {
            XCTAssertEqual(notices.map(\.notice.version), Array(1...notices.count))
            XCTAssertTrue(notices.allSatisfy(\.published))
            XCTAssertEqual(notices.first?.notice.status, .new)
        }
    }

    private static func isShuffledWithinTasks(_ stream: [DispatchDay.Event]) -> Bool {
        var last: [String: EventTime] = [:]
        var inversions = 0
        for event in stream {
            if let previous = last[event.taskId], event.time < previous { inversions += 1 }
            last[event.taskId] = max(last[event.taskId] ?? event.time, event.time)
        }
        return inversions > 10
    }
}
