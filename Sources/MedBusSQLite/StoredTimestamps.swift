import Foundation

/// MedBus stores timestamps as whole microseconds since 1970-01-01 UTC in INTEGER columns: compact, ordered in
/// indexes, and readable in the sqlite3 shell with `datetime(received_at / 1000000, 'unixepoch')`. The message
/// store and the mapping registry both use this one conversion, so their files read the same way.
///
/// The conversions go through `timeIntervalSinceReferenceDate`, the value `Date` actually holds, so that a date
/// already rounded to microseconds survives a write and a read unchanged (via the 1970 epoch, double rounding at
/// today's magnitudes comes within a fraction of a microsecond of breaking that). Values that must compare equal
/// after a round trip (a `MappingVersion` that travels through Kafka, a `StoredMessage`) are rounded up front with
/// `roundedToStoredPrecision`.
extension Date {
    private static let referenceDateMicrosecondsSince1970: Int64 = 978_307_200_000_000

    /// The column value for this date, rounded to the nearest microsecond.
    public var storedMicroseconds: Int64 {
        Int64((timeIntervalSinceReferenceDate * 1_000_000).rounded()) + Date.referenceDateMicrosecondsSince1970
    }

    /// The date a column value stands for.
    public init(storedMicroseconds: Int64) {
        self.init(
            timeIntervalSinceReferenceDate:
                Double(storedMicroseconds - Date.referenceDateMicrosecondsSince1970) / 1_000_000)
    }

    /// This date as it will read back from the database.
    public var roundedToStoredPrecision: Date { Date(storedMicroseconds: storedMicroseconds) }
}
