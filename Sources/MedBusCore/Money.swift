import Foundation

/// An amount of yuan, held as whole fen (1/100 yuan) in an `Int64`.
///
/// Integer fen make every sum and difference exact: a settlement's shares add up to its total to
/// the last fen, which binary floating point cannot promise. Amounts are read from decimal text
/// without ever going through `Double`: `Money(_:)` takes the text of any JSON number (`356.50`,
/// `356.5`, `3.565e2`, `1.500`) and refuses a non-zero digit below the fen; `Money(yuan:)` is the
/// stricter reading of a bill as written (at most two decimals, no exponent). Both write back as
/// `description` / `yuanText`: exactly two decimals (`356.50`), which is what `JSONValue.money`
/// puts on the wire. Ratios are applied with `Ratio.share(of:)`.
public struct Money: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The amount in fen.
    public var fen: Int64

    public static let zero = Money(fen: 0)

    public init(fen: Int64) { self.fen = fen }

    /// Parses the text of a JSON number exactly.
    /// - Returns: nil when the text is not a number, has a non-zero digit below the fen, or overflows.
    public init?(_ text: String) {
        guard let fen = Money.parseFen(Substring(text)) else { return nil }
        self.fen = fen
    }

    /// Parses a bill amount as written: `356.5`, `356.50`, `-12`, `+3`, `.5`, surrounding spaces
    /// allowed. More than two decimals (even `1.500`) or an exponent is refused rather than
    /// silently rounded: a bill the platform cannot represent is an input error.
    public init?(yuan text: String) {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if digits.hasPrefix("-") { negative = true; digits = digits.dropFirst() } else if digits.hasPrefix("+") { digits = digits.dropFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty || parts.count == 2 else { return nil }
        let whole = parts[0].isEmpty ? "0" : parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= 2, whole.count <= 15,
              whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber),
              fraction.allSatisfy(\.isASCII), fraction.allSatisfy(\.isNumber),
              let yuan = Int64(whole) else { return nil }
        let padded = fraction + String(repeating: "0", count: 2 - fraction.count)
        let fen = yuan * 100 + (Int64(padded) ?? 0)
        self.fen = negative ? -fen : fen
    }

    /// A `Decimal` read by `JSONDecoder` (which parses a number's text, not a `Double`).
    /// - Returns: nil when the value has a non-zero digit below the fen.
    public init?(exactly decimal: Decimal) {
        self.init(decimal.description)
    }

    /// Whole yuan, for policy constants written as integers.
    public static func yuan(_ amount: Int64) -> Money { Money(fen: amount * 100) }

    /// `356.50`, `-0.05`, `0.00`: yuan with exactly two decimals.
    public var description: String {
        let magnitude = fen.magnitude
        let cents = magnitude % 100
        return "\(fen < 0 ? "-" : "")\(magnitude / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    /// The same as `description`: always two decimals, as the platform writes amounts.
    public var yuanText: String { description }

    /// The amount as a `Decimal`, exact (for callers that compute with `Decimal`).
    public var decimal: Decimal { Decimal(fen) / 100 }

    /// Never below zero: remaining deductibles and caps.
    public var clampedAtZero: Money { Money(fen: max(0, fen)) }

    public static func + (lhs: Money, rhs: Money) -> Money { Money(fen: lhs.fen + rhs.fen) }
    public static func - (lhs: Money, rhs: Money) -> Money { Money(fen: lhs.fen - rhs.fen) }
    public static func += (lhs: inout Money, rhs: Money) { lhs.fen += rhs.fen }
    public static func -= (lhs: inout Money, rhs: Money) { lhs.fen -= rhs.fen }
    public static prefix func - (amount: Money) -> Money { Money(fen: -amount.fen) }
    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.fen < rhs.fen }

    /// The smaller of two amounts.
    public static func min(_ a: Money, _ b: Money) -> Money { a < b ? a : b }

    /// JSON number grammar: `-? digits (. digits)? ([eE] [+-]? digits)?`, scaled to fen without
    /// ever leaving integers.
    private static func parseFen(_ text: Substring) -> Int64? {
        var rest = text
        let negative = rest.first == "-"
        if negative { rest = rest.dropFirst() }
        var exponentPart: Substring = ""
        if let e = rest.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponentPart = rest[rest.index(after: e)...]
            rest = rest[..<e]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard parts.count == 1 || !fraction.isEmpty else { return nil }
        let digits = whole + fraction
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var exponent = -fraction.count
        if !exponentPart.isEmpty {
            guard let value = Int(exponentPart.hasPrefix("+") ? exponentPart.dropFirst() : exponentPart),
                  abs(value) < 40 else { return nil }
            exponent += value
        }
        // value = digits × 10^exponent; fen = digits × 10^(exponent + 2).
        var scale = exponent + 2
        var significant = Array(digits.drop { $0 == "0" })
        while scale < 0 {
            guard let last = significant.last else { break }
            guard last == "0" else { return nil }
            significant.removeLast()
            scale += 1
        }
        if significant.isEmpty { return 0 }
        var fen: Int64 = 0
        for digit in significant + Array(repeating: "0", count: max(scale, 0)) {
            let (times, o1) = fen.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(digit.wholeNumberValue!))
            guard !o1, !o2 else { return nil }
            fen = sum
        }
        return negative ? -fen : fen
    }
}

extension Money: Codable {
    /// Decodes a JSON number through `Decimal`, which `JSONDecoder` builds from the number's text
    /// (or a numeric string).
    /// - Throws: `DecodingError.dataCorrupted` for an amount with a non-zero digit below the fen.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self), let money = Money(text) {
            self = money
            return
        }
        let decimal = try container.decode(Decimal.self)
        guard let money = Money(exactly: decimal) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "amount is not a whole number of fen")
        }
        self = money
    }

    /// Encodes the exact value as a `Decimal`. `JSONEncoder` may drop a trailing zero (`356.5`);
    /// MedBus's own wire payloads are written by `JSONValue`, which keeps both decimals.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimal)
    }
}

extension Sequence where Element == Money {
    /// The exact sum.
    public func sum() -> Money { reduce(.zero, +) }
}
