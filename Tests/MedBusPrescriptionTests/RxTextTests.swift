import Foundation
import MedBusCore
@testable import MedBusPrescription
import XCTest

/// The issuing and claim paths' own text helpers give exactly what the shared ones give.
final class RxTextTests: XCTestCase {
    /// `RxText.timestamp` writes what `MessageEnvelope.formatTimestamp` writes: leap days, year and day ends,
    /// milliseconds that round up into the next second, dates before 1970, and random instants to 2200.
    func testTimestampsAreTheEnvelopeFormat() {
        // 2024-02-29T23:59:59.999, 2023-12-31T23:59:59.9996 (rounds into 2024), 2000-03-01, half a second before
        // 1970, 1900-01-01T00:00:00.001, 2100-02-28T12:00:00.250 (2100 is not a leap year), 1970 itself.
        var dates = [1_709_251_199.999, 1_704_067_199.9996, 951_868_800, -0.5, -2_208_988_799.999, 4_107_412_800.25, 0]
            .map(Date.init(timeIntervalSince1970:))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 { dates.append(Date(timeIntervalSince1970: Double.random(in: -2_000_000_000...7_258_118_400, using: &generator))) }
        for date in dates {
            XCTAssertEqual(RxText.timestamp(date), MessageEnvelope.formatTimestamp(date), "\(date.timeIntervalSince1970)")
        }
    }
}
