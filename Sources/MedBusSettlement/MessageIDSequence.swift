import Foundation

/// The platform msgid sequence (`fixmedins_code + yyyyMMddHHmmss + 4-digit sequence`, 0001–8999
/// per hospital and second; 9000–9999 are the NHSA insurer adapter's sign-ins), kept in memory.
///
/// Picking a msgid used to be a transaction of its own before the step's commit: one more fsync
/// to wait for on every step. Here the first msgid of a hospital in this process continues from
/// the largest one in the saga log (one read); later ones count on in memory. One orchestrator
/// process per saga log, so nobody else takes numbers meanwhile. A msgid is recorded in the same
/// transaction that commits its step, and sent only after that: a number picked but never
/// committed (a crash in between) was never sent either, so the gap is harmless. Time never runs
/// backwards here: after the clock steps back, or after 8,999 msgids in one second, numbers
/// continue in the latest second used (borrowing the next second when it is full).
final class MessageIDSequence: @unchecked Sendable {
    /// Characters after the hospital code: 14 of time, 4 of sequence.
    static let suffixLength = 18

    private let lock = NSLock()
    /// Per hospital: the latest second used and its last sequence number.
    private var last: [String: (second: String, number: Int)] = [:]
    /// The last second formatted (formatting in China time is the costly part of a msgid).
    private var formatted: (epochSecond: Double, text: String)?

    /// The next msgid of `hospital`; nil until `start(_:after:)` told where it stands (the caller
    /// reads that from the saga log without holding anything: blocking here would block a thread
    /// of the cooperative pool, which the saga log's own async reads need to finish).
    func next(fixmedinsCode hospital: String, at date: Date) -> String? {
        lock.withLock {
            guard var (second, number) = last[hospital] else { return nil }
            let epochSecond = date.timeIntervalSince1970.rounded(.down)
            if formatted?.epochSecond != epochSecond { formatted = (epochSecond, PlatformMessages.msgidTimePart(date)) }
            let now = formatted!.text
            if now > second {
                (second, number) = (now, 0)
            }
            number += 1
            if number > 8_999 {
                (second, number) = (Self.second(after: second), 1)
            }
            last[hospital] = (second, number)
            let digits = String(number)
            return hospital + second + String(repeating: "0", count: 4 - digits.count) + digits
        }
    }

    /// Where `hospital` stands: after `largestStored`, its largest msgid in the saga log (nil:
    /// none). Ignored once known: numbers handed out since then are larger.
    func start(_ hospital: String, after largestStored: String?) {
        lock.withLock {
            if last[hospital] == nil { last[hospital] = Self.position(of: largestStored, hospital: hospital) }
        }
    }

    /// Second and number of a stored msgid; a hospital without one starts before any second.
    private static func position(of msgid: String?, hospital: String) -> (String, Int) {
        guard let msgid, msgid.count == hospital.count + suffixLength, let number = Int(msgid.suffix(4)) else { return ("", 0) }
        return (String(msgid.dropFirst(hospital.count).prefix(14)), number)
    }

    /// `yyyyMMddHHmmss` (China time) one second later.
    private static func second(after time: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let digits = Array(time)
        func field(_ from: Int, _ count: Int) -> Int { Int(String(digits[from..<(from + count)])) ?? 0 }
        let components = DateComponents(year: field(0, 4), month: field(4, 2), day: field(6, 2), hour: field(8, 2), minute: field(10, 2), second: field(12, 2))
        guard let date = calendar.date(from: components) else { return time }
        return PlatformMessages.msgidTimePart(date.addingTimeInterval(1))
    }
}
