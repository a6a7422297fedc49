import Foundation

/// HL7 and ISO dates and times → the canonical `YYYY-MM-DD` and RFC 3339 with an offset.
///
/// Parsing is by hand (no DateFormatter: they are slow and locale-sensitive). A time without an offset
/// takes the offset the mapping's time zone had at that local time, so a zone with daylight saving
/// history gives the right offset for each date.
struct TimeConversion: Sendable {
    let timeZone: TimeZone
    /// The zone's offset when it never changed since 1992 (e.g. Asia/Shanghai): no lookup per value.
    private let fixedOffsetSeconds: Int?

    init(timeZone: TimeZone) {
        self.timeZone = timeZone
        let probes = [694_224_000.0, 1_000_000_000, 1_200_000_000, 1_500_000_000, 1_700_000_000, 1_750_000_000, 1_800_000_000]
        let offsets = Set(probes.map { timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: $0)) })
        var summer = Set<Int>()
        for month in stride(from: 0.0, to: 12, by: 1) {
            summer.insert(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: 1_700_000_000 + month * 2_629_800)))
        }
        fixedOffsetSeconds = offsets.count == 1 && summer == offsets ? offsets.first : nil
    }

    struct Fields {
        var year: Int, month: Int, day: Int
        var hour = 0, minute = 0, second = 0
        var fraction = ""
        /// Minutes east of UTC; nil when not given.
        var offsetMinutes: Int?
    }

    /// `YYYYMMDD…` (HL7) or `YYYY-MM-DD…` (ISO); a date needs at least year, month and day.
    func date(_ text: String) -> String? {
        guard let fields = parse(text) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(10)
        Self.appendDate(fields, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func dateTime(_ text: String) -> String? {
        guard let fields = parse(text) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        appendRFC3339(fields, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `YYYY-MM-DD`.
    static func appendDate(_ f: Fields, to out: inout [UInt8]) {
        append(f.year, 4, to: &out, then: "-")
        append(f.month, 2, to: &out, then: "-")
        append(f.day, 2, to: &out)
    }

    /// RFC 3339 with the value's offset, else the mapping zone's at that local time. Written into one byte
    /// buffer: joining a dozen small Strings cost more than the parse.
    func appendRFC3339(_ f: Fields, to out: inout [UInt8]) {
        let offset = f.offsetMinutes ?? offsetMinutes(f)
        Self.appendDate(f, to: &out)
        out.append(UInt8(ascii: "T"))
        Self.append(f.hour, 2, to: &out, then: ":")
        Self.append(f.minute, 2, to: &out, then: ":")
        Self.append(f.second, 2, to: &out)
        if !f.fraction.isEmpty {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: f.fraction.utf8)
        }
        out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        Self.append(abs(offset) / 60, 2, to: &out, then: ":")
        Self.append(abs(offset) % 60, 2, to: &out)
    }

    // MARK: HL7 forms (hl7v2 targets)

    /// A canonical date (`2025-01-15`) as HL7 writes it: `20250115`.
    func hl7Date(_ text: String) -> String? {
        guard let f = parse(text) else { return nil }
        return pad(f.year, 4) + pad(f.month, 2) + pad(f.day, 2)
    }

    /// A date-time as an HL7 DTM with its offset: `2025-01-15T10:42:00.5+08:00` → `20250115104200.5+0800`.
    func hl7DateTime(_ text: String) -> String? {
        guard let f = parse(text) else { return nil }
        return hl7DateTime(f, offset: f.offsetMinutes ?? offsetMinutes(f), fraction: true)
    }

    /// MSH-7: the received time (RFC 3339) as a DTM in the mapping's time zone, to the second
    /// (`2025-01-15T02:42:05Z` in Asia/Shanghai → `20250115104205+0800`).
    func hl7ReceivedTime(_ text: String) -> String? {
        guard let given = parse(text) else { return nil }
        guard let givenOffset = given.offsetMinutes else { return hl7DateTime(given, offset: offsetMinutes(given), fraction: false) }
        let instant = Self.daysFromCivil(given.year, given.month, given.day) * 86_400 + given.hour * 3600 + given.minute * 60
            + given.second - givenOffset * 60
        let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))) / 60
        let local = instant + offset * 60
        let (year, month, day) = Self.civilFromDays(Int((Double(local) / 86_400).rounded(.down)))
        let seconds = local - Self.daysFromCivil(year, month, day) * 86_400
        let f = Fields(year: year, month: month, day: day, hour: seconds / 3600, minute: seconds / 60 % 60, second: seconds % 60)
        return hl7DateTime(f, offset: offset, fraction: false)
    }

    private func hl7DateTime(_ f: Fields, offset: Int, fraction: Bool) -> String {
        pad(f.year, 4) + pad(f.month, 2) + pad(f.day, 2) + pad(f.hour, 2) + pad(f.minute, 2) + pad(f.second, 2)
            + (fraction && !f.fraction.isEmpty ? "." + f.fraction : "")
            + (offset < 0 ? "-" : "+") + pad(abs(offset) / 60, 2) + pad(abs(offset) % 60, 2)
    }

    /// `pad(value, width)`'s text, then `separator`.
    private static func append(_ value: Int, _ width: Int, to out: inout [UInt8], then separator: Unicode.Scalar? = nil) {
        if value >= 0 {
            var divisor = 1
            var count = 1
            while value / divisor >= 10 {
                divisor *= 10
                count += 1
            }
            for _ in count..<max(width, count) { out.append(UInt8(ascii: "0")) }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        } else {
            out.append(contentsOf: String(value).utf8)  // as `pad`: no zeros for a negative value (never parsed)
        }
        if let separator { out.append(UInt8(separator.value)) }
    }

    private func offsetMinutes(_ f: Fields) -> Int {
        if let fixedOffsetSeconds { return fixedOffsetSeconds / 60 }
        let local = Self.daysFromCivil(f.year, f.month, f.day) * 86_400 + f.hour * 3600 + f.minute * 60 + f.second
        // Two rounds find the offset in force at that wall-clock time (DST edges resolve to one side).
        var offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local)))
        offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local - offset)))
        return offset / 60
    }

    func parse(_ text: String) -> Fields? {
        var text = text
        return text.withUTF8 { Self.parse(bytes: $0) }
    }

    /// A position in bytes being parsed. A struct, not a local `var` that nested functions capture: a
    /// captured variable is checked for exclusive access at run time on every read.
    private struct Reader {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0

        mutating func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            i += n
            return v
        }

        func peek(_ c: Unicode.Scalar) -> Bool { i < b.count && b[i] == UInt8(ascii: c) }
    }

    static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> Fields? {
        var r = Reader(b: b)
        let iso = b.count >= 5 && b[4] == UInt8(ascii: "-")
        guard let year = r.digits(4) else { return nil }
        if iso { r.i += 1 }
        guard let month = r.digits(2) else { return nil }
        if iso { guard r.peek("-") else { return nil }; r.i += 1 }
        guard let day = r.digits(2) else { return nil }
        var f = Fields(year: year, month: month, day: day)
        if iso {
            if r.peek("T") || r.peek("t") || r.peek(" ") {
                r.i += 1
                guard let h = r.digits(2), r.peek(":") else { return nil }
                r.i += 1
                guard let m = r.digits(2) else { return nil }
                f.hour = h
                f.minute = m
                if r.peek(":") {
                    r.i += 1
                    guard let s = r.digits(2) else { return nil }
                    f.second = s
                }
            }
        } else {
            if let h = r.digits(2) {
                f.hour = h
                if let m = r.digits(2) {
                    f.minute = m
                    if let s = r.digits(2) { f.second = s }
                }
            }
        }
        if r.peek(".") && (f.hour > 0 || f.minute > 0 || f.second > 0 || r.i >= 12) {
            r.i += 1
            let start = r.i
            while r.i < b.count, b[r.i] >= 0x30 && b[r.i] <= 0x39 { r.i += 1 }
            guard r.i > start else { return nil }
            f.fraction = String(decoding: UnsafeBufferPointer(rebasing: b[start..<r.i]), as: UTF8.self)
        }
        if r.peek("Z") || r.peek("z") {
            r.i += 1
            f.offsetMinutes = 0
        } else if r.peek("+") || r.peek("-") {
            let negative = r.peek("-")
            r.i += 1
            guard let hh = r.digits(2) else { return nil }
            if iso || r.peek(":") { if r.peek(":") { r.i += 1 } }
            guard let mm = r.digits(2), hh <= 23, mm <= 59 else { return nil }
            f.offsetMinutes = (negative ? -1 : 1) * (hh * 60 + mm)
        }
        guard r.i == b.count else { return nil }
        guard (1...12).contains(f.month), f.day >= 1, f.day <= Self.daysIn(f.year, f.month), f.hour <= 23, f.minute <= 59, f.second <= 60 else {
            return nil
        }
        return f
    }

    static func daysIn(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01 (inverse of `daysFromCivil`).
    static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
