@testable import MedBusTableAdapter
import XCTest

final class IdWindowTests: XCTestCase {
    let start = ContinuousClock.now

    func testContiguousRowsArePublishedAtOnce() {
        var window = IdWindow(settle: .seconds(2))
        let plan = window.plan(highWaterMark: 10, ids: [11, 12, 13], now: start)
        XCTAssertEqual(plan, .init(publishCount: 3, holes: [], untrackedGapIds: 0, waitingForGap: false))
    }

    func testFirstRowStartsTheSequenceWithoutAMark() {
        var window = IdWindow(settle: .seconds(2))
        XCTAssertEqual(window.plan(highWaterMark: nil, ids: [500, 501, 503], now: start).publishCount, 2)
    }

    func testAGapHoldsLaterRowsUntilItSettlesThenBecomesHoles() {
        var window = IdWindow(settle: .seconds(2))
        // 12 and 13 are not committed yet: 14 waits.
        XCTAssertEqual(window.plan(highWaterMark: 10, ids: [11, 14, 15], now: start), .init(publishCount: 1, holes: [], untrackedGapIds: 0, waitingForGap: true))
        // One second later 12 has committed; the gap at 13 is timed from its own first sighting.
        XCTAssertEqual(window.plan(highWaterMark: 11, ids: [12, 14, 15], now: start + .seconds(1)).publishCount, 1)
        XCTAssertEqual(window.plan(highWaterMark: 12, ids: [14, 15], now: start + .milliseconds(2500)).waitingForGap, true)
        // Two seconds after the gap at 13 was first seen, it is given up and remembered as a hole.
        XCTAssertEqual(window.plan(highWaterMark: 12, ids: [14, 15], now: start + .milliseconds(3100)), .init(publishCount: 2, holes: [13], untrackedGapIds: 0, waitingForGap: false))
    }

    func testAGapThatFillsIsNotAHole() {
        var window = IdWindow(settle: .seconds(2))
        _ = window.plan(highWaterMark: 10, ids: [12], now: start)
        XCTAssertEqual(window.plan(highWaterMark: 10, ids: [11, 12], now: start + .seconds(5)), .init(publishCount: 2, holes: [], untrackedGapIds: 0, waitingForGap: false))
    }

    func testAWideGapIsSkippedWithoutTrackingEveryId() {
        var window = IdWindow(settle: .zero)
        window.maxTrackedGap = 100
        XCTAssertEqual(window.plan(highWaterMark: 10, ids: [1_000_011], now: start), .init(publishCount: 1, holes: [], untrackedGapIds: 1_000_000, waitingForGap: false))
    }
}
