import Foundation

/// A quantity (`drugCnt`, `sinDoscnt`, `drug_totlcnt`) as exact decimal text: parsed without binary
/// floating point and written in its shortest form (`6.00` → `6`, `0.50` → `0.5`), so the signed
/// bytes of a prescription do not depend on how the HIS wrote its numbers.
struct DecimalQuantity: Sendable, Hashable, Comparable {
    /// The exact value, for comparisons and sums.
    private let value: Decimal
    let text: String

    /// Accepts `[+-]digits[.digits]` as a JSON number or string; nil for anything else.
    init?(_ raw: String) {
        var body = Substring(raw)
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
              parts.reduce(0, { $0 + $1.count }) <= 30 else { return nil }
        var whole = String(parts[0].drop { $0 == "0" })
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        while fraction.last == "0" { fraction.removeLast() }
        if whole.isEmpty { whole = "0" }
        let isZero = whole == "0" && fraction.isEmpty
        let magnitude = fraction.isEmpty ? whole : "\(whole).\(fraction)"
        text = (negative && !isZero ? "-" : "") + magnitude
        guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        self.value = value
    }

    var isPositive: Bool { value > 0 }

    static func < (lhs: DecimalQuantity, rhs: DecimalQuantity) -> Bool { lhs.value < rhs.value }

    static func + (lhs: DecimalQuantity, rhs: DecimalQuantity) -> DecimalQuantity {
        DecimalQuantity((lhs.value + rhs.value).description)!
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
