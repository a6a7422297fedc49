import Foundation

/// A CAD time stamp: RFC 3339 with an explicit offset (`2025-01-15T10:40:00+08:00`,
/// `2025-01-15T02:40:00.250Z`). A time without an offset is refused rather than guessed: a centre's
/// local time and UTC differ by hours, which would reorder a task's timeline.
///
/// `text` is kept as the CAD wrote it (it is what notices and the timeline show); `instant`
/// (microseconds since 1970, UTC) orders events.
public struct EventTime: Sendable, Hashable, Comparable, Codable {
    public let text: String
    public let microseconds: Int64

    public init?(_ text: String) {
        guard let micros = Self.parse(Array(text.utf8)) else { return nil }
        self.text = text
        self.microseconds = micros
    }

    public var date: Date { Date(timeIntervalSince1970: Double(microseconds) / 1_000_000) }

    public static func < (a: EventTime, b: EventTime) -> Bool { a.microseconds < b.microseconds }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = EventTime(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time with offset"))
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`/`z` and a space for `T` are accepted too.
    private static func parse(_ b: [UInt8]) -> Int64? {
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var value = 0
            for i in at..<(at + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45, let day = digits(8, 2),
              [84, 116, 32].contains(b[10]), let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58,
              let second = digits(17, 2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var micros = 0
        if b[index] == 46 {  // fraction: up to microseconds kept, the rest ignored
            index += 1
            var scale = 100_000
            let start = index
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                micros += Int(b[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offsetSeconds = 0
        switch b[index] {
        case 90, 122:  // Z z
            guard index + 1 == b.count else { return nil }
        case 43, 45:  // + -
            guard index + 6 == b.count, let oh = digits(index + 1, 2), b[index + 3] == 58, let om = digits(index + 4, 2), oh < 24, om < 60 else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[index] == 45 ? -1 : 1)
        default:
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offsetSeconds)
        return seconds * 1_000_000 + Int64(micros)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
