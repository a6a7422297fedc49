import Foundation

/// Timestamps are stored as whole microseconds since 1970-01-01 UTC (an INTEGER column), as in the message
/// store: ordered, compact, and readable in the sqlite3 shell with `datetime(at / 1000000, 'unixepoch')`.
///
/// The conversion goes through `timeIntervalSinceReferenceDate`, the value `Date` actually holds, so a date
/// already rounded to microseconds survives a write and a read unchanged (and so does a `MappingVersion`
/// that travels through Kafka and comes back equal to the registry's).
extension Date {
    private static let referenceDateMicrosecondsSince1970: Int64 = 978_307_200_000_000

    var storedMicroseconds: Int64 {
        Int64((timeIntervalSinceReferenceDate * 1_000_000).rounded()) + Date.referenceDateMicrosecondsSince1970
    }

    init(storedMicroseconds: Int64) {
        self.init(
            timeIntervalSinceReferenceDate:
                Double(storedMicroseconds - Date.referenceDateMicrosecondsSince1970) / 1_000_000)
    }

    /// This date as it reads back from the registry.
    var roundedToStoredPrecision: Date { Date(storedMicroseconds: storedMicroseconds) }
}
