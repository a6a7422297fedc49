import Foundation
import MedBusSQLite

/// The record a router receives on `medbus.mappings`: key = the mapping name (UTF-8), value = this JSON.
///
/// ```json
/// {"schema": "medbus.mapping-announcement/1",
///  "mapping": {"name": "his.adt", "version": 3, "digest": "<sha256 hex>", "author": "...",
///              "publishedAt": "2025-05-01T08:00:00.123456Z", "note": "...", "content": "<base64>"},
///  "activation": {"sequence": 17, "name": "his.adt", "version": 3, "action": "publish" | "rollback",
///                 "author": "...", "at": "2025-05-01T08:00:00.123456Z", "note": "..."}}
/// ```
///
/// The topic is compacted, so it holds at least the last announcement of every name; a router that reads it
/// from the beginning knows every active mapping. `activation.sequence` orders announcements of one name: a
/// rollback to v1 announced after v2 carries a higher sequence, so it wins although its version number is
/// smaller. Times are UTC ISO 8601 with microseconds, exactly what the registry stored.
struct MappingAnnouncement: Codable, Sendable, Hashable {
    static let currentSchema = "medbus.mapping-announcement/1"

    var schema: String
    var mapping: MappingVersion
    var activation: Activation

    init(mapping: MappingVersion, activation: Activation) {
        self.schema = Self.currentSchema
        self.mapping = mapping
        self.activation = activation
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(WireDate.string(from: date))
        }
        return [UInt8](try encoder.encode(self))
    }

    /// Decodes a record value; nil for anything that is not a well-formed announcement of this schema.
    static func decode(_ bytes: [UInt8]) -> MappingAnnouncement? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = WireDate.date(from: text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 UTC time")
            }
            return date
        }
        guard let announcement = try? decoder.decode(MappingAnnouncement.self, from: Data(bytes)),
              announcement.schema == currentSchema else { return nil }
        return announcement
    }
}

/// UTC ISO 8601 times with six fractional digits: readable on the topic with kcat, and exact to the microsecond
/// the registry stores (ISO8601DateFormatter alone stops at milliseconds).
enum WireDate {
    static func string(from date: Date) -> String {
        let micros = date.storedMicroseconds
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        // Floor division, so dates before 1970 still get a fraction in 0..<1_000_000.
        let wholeSeconds = fraction < 0 ? seconds - 1 : seconds
        let positiveFraction = fraction < 0 ? fraction + 1_000_000 : fraction
        let base = formatter().string(from: Date(timeIntervalSince1970: TimeInterval(wholeSeconds)))
        let digits = String(positiveFraction)
        return "\(base.dropLast()).\(String(repeating: "0", count: 6 - digits.count))\(digits)Z"
    }

    static func date(from text: String) -> Date? {
        guard text.hasSuffix("Z") else { return nil }
        let body = text.dropLast()
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = formatter().date(from: "\(parts[0])Z") else { return nil }
        var micros = Int64(whole.timeIntervalSince1970) * 1_000_000
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.count <= 6, fraction.allSatisfy(\.isASCII), let value = Int64(fraction) else { return nil }
            micros += value * Int64(pow(10.0, Double(6 - fraction.count)))
        }
        return Date(storedMicroseconds: micros)
    }

    /// A new formatter per call: formatters are not Sendable, and this runs once per announcement.
    private static func formatter() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter
    }
}
