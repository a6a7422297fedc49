import Foundation

/// A proportion such as a pooling ratio (`0.85`) held exactly as parts per million.
public struct Ratio: Sendable, Hashable, CustomStringConvertible {
    public static let scale: Int64 = 1_000_000
    public var partsPerMillion: Int64

    public init(partsPerMillion: Int64) { self.partsPerMillion = partsPerMillion }

    public static let zero = Ratio(partsPerMillion: 0)
    public static let one = Ratio(partsPerMillion: scale)

    /// Parses `0.85`, `1`, `85%`; refuses values outside 0…1 and more than six decimals.
    public init?(_ text: String) {
        var body = text.trimmingCharacters(in: .whitespaces)
        var percent = false
        if body.hasSuffix("%") { percent = true; body.removeLast() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
        let decimals = percent ? 4 : 6
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= decimals, let whole = Int64(parts[0]), whole <= 100 else { return nil }
        let padded = fraction + String(repeating: "0", count: decimals - fraction.count)
        let unit: Int64 = percent ? Self.scale / 100 : Self.scale
        let value = whole * unit + (Int64(padded) ?? 0)
        guard value <= Self.scale else { return nil }
        partsPerMillion = value
    }

    /// `amount × ratio`, rounded half up to the fen (amounts here are never negative; a negative
    /// amount rounds half away from zero, symmetric with the positive case).
    public func share(of amount: Money) -> Money {
        let product = amount.fen.magnitude * UInt64(partsPerMillion)
        let rounded = Int64((product + UInt64(Self.scale / 2)) / UInt64(Self.scale))
        return Money(fen: amount.fen < 0 ? -rounded : rounded)
    }

    /// `0.85`, `0.1`, `1`: the shortest exact decimal, as written in 2204's `selfpay_prop`.
    public var decimalText: String {
        let whole = partsPerMillion / Self.scale
        var fraction = String(partsPerMillion % Self.scale)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    public var description: String { decimalText }
}
