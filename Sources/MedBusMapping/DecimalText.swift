/// Decimal numbers as text. Money and quantities are parsed, checked and normalised digit by digit so
/// that no amount is ever rounded by binary floating point.
enum DecimalText {
    struct Parts {
        var negative: Bool
        /// Without leading zeros ("0" when zero).
        var integer: Substring
        /// As written, possibly empty.
        var fraction: Substring
        /// Exponent text including its sign, or nil.
        var exponent: Substring?
    }

    /// `[+-]digits[.digits][e[+-]digits]` or `[+-].digits`; nil for anything else.
    ///
    /// Scanned as UTF-8 bytes (Character-by-Character cost a tenth of a result mapping): only ASCII text
    /// can be a decimal, and in ASCII bytes and Characters are the same.
    static func parse(_ text: String) -> Parts? {
        let utf8 = text.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        var start = utf8.startIndex
        var end = utf8.endIndex
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            start = utf8.index(after: start)
        }
        var exponent: Substring?
        if let e = utf8[start...].firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            let exp = utf8[utf8.index(after: e)...]
            let digits = exp.first == UInt8(ascii: "+") || exp.first == UInt8(ascii: "-") ? exp.dropFirst() : exp
            guard !digits.isEmpty, digits.allSatisfy(isDigit) else { return nil }
            exponent = text[exp.startIndex...]
            end = e
        }
        var integerEnd = end
        var fraction: Substring = ""
        if let dot = utf8[start..<end].firstIndex(of: UInt8(ascii: ".")) {
            integerEnd = dot
            fraction = text[utf8.index(after: dot)..<end]
        }
        let integerDigits = utf8[start..<integerEnd]
        guard !(integerDigits.isEmpty && fraction.isEmpty), integerDigits.allSatisfy(isDigit), fraction.utf8.allSatisfy(isDigit) else {
            return nil
        }
        let firstSignificant = integerDigits.firstIndex { $0 != UInt8(ascii: "0") } ?? integerEnd
        let integer: Substring = firstSignificant == integerEnd ? "0" : text[firstSignificant..<integerEnd]
        return Parts(negative: negative, integer: integer, fraction: fraction, exponent: exponent)
    }

    /// A JSON number with the same value: leading zeros and `+` dropped, trailing fraction zeros dropped,
    /// `-0` written `0`. Nil when `text` is not a decimal.
    static func normalized(_ text: String) -> String? {
        guard let parts = parse(text) else { return nil }
        let fractionEnd = parts.fraction.utf8.lastIndex { $0 != UInt8(ascii: "0") }.map { parts.fraction.utf8.index(after: $0) }
        var result = String(parts.integer)
        if let fractionEnd {
            result += "."
            result += parts.fraction[..<fractionEnd]
        }
        if let exponent = parts.exponent { result += "e" + exponent }
        if parts.negative && !(result.utf8.allSatisfy { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: ".") }) { result = "-" + result }
        return result
    }

    /// `normalized` on the bytes of the common form, `[+-]digits[.digits]`, with no String made; nil for
    /// any other text (`normalized` decides those).
    static func normalizedPlain(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var start = 0
        var negative = false
        if let first = text.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            start = 1
        }
        var dot: Int?
        for i in start..<text.count {
            if text[i] == UInt8(ascii: ".") {
                guard dot == nil else { return nil }
                dot = i
            } else if text[i] < 0x30 || text[i] > 0x39 {
                return nil
            }
        }
        let integerEnd = dot ?? text.count
        let fractionStart = dot.map { $0 + 1 } ?? text.count
        guard integerEnd > start || text.count > fractionStart else { return nil }
        var significant = start
        while significant < integerEnd, text[significant] == UInt8(ascii: "0") { significant += 1 }
        var fractionEnd = text.count
        while fractionEnd > fractionStart, text[fractionEnd - 1] == UInt8(ascii: "0") { fractionEnd -= 1 }
        var result: [UInt8] = []
        result.reserveCapacity(text.count + 2)
        if negative && (significant < integerEnd || fractionEnd > fractionStart) { result.append(UInt8(ascii: "-")) }
        if significant == integerEnd { result.append(UInt8(ascii: "0")) } else { result.append(contentsOf: text[significant..<integerEnd]) }
        if fractionEnd > fractionStart {
            result.append(UInt8(ascii: "."))
            result.append(contentsOf: text[fractionStart..<fractionEnd])
        }
        return result
    }

    /// Exactly two fraction digits. Digits beyond the second must be zeros: nothing is rounded.
    static func money(_ text: String) -> String? {
        guard let parts = parse(text), parts.exponent == nil else { return nil }
        var fraction = String(parts.fraction)
        if fraction.count > 2 {
            guard fraction.dropFirst(2).allSatisfy({ $0 == "0" }) else { return nil }
            fraction = String(fraction.prefix(2))
        }
        while fraction.count < 2 { fraction += "0" }
        let isZero = parts.integer == "0" && fraction == "00"
        return (parts.negative && !isZero ? "-" : "") + parts.integer + "." + fraction
    }

    /// A whole number (a fraction of zeros is accepted: `12.00` is 12).
    static func integer(_ text: String) -> String? {
        guard let parts = parse(text), parts.exponent == nil, parts.fraction.allSatisfy({ $0 == "0" }) else { return nil }
        let isZero = parts.integer == "0"
        return (parts.negative && !isZero ? "-" : "") + parts.integer
    }

    /// Compares two decimal texts by value (no exponents); nil when either is not a plain decimal.
    static func compare(_ a: String, _ b: String) -> Int? {
        guard let x = parse(a), let y = parse(b), x.exponent == nil, y.exponent == nil else { return nil }
        let xZero = x.integer == "0" && x.fraction.allSatisfy { $0 == "0" }
        let yZero = y.integer == "0" && y.fraction.allSatisfy { $0 == "0" }
        let xSign = xZero ? 0 : (x.negative ? -1 : 1)
        let ySign = yZero ? 0 : (y.negative ? -1 : 1)
        if xSign != ySign { return xSign < ySign ? -1 : 1 }
        if xSign == 0 { return 0 }
        var magnitude: Int
        if x.integer.count != y.integer.count {
            magnitude = x.integer.count < y.integer.count ? -1 : 1
        } else if x.integer != y.integer {
            magnitude = x.integer < y.integer ? -1 : 1
        } else {
            let length = max(x.fraction.count, y.fraction.count)
            let xf = x.fraction + String(repeating: "0", count: length - x.fraction.count)
            let yf = y.fraction + String(repeating: "0", count: length - y.fraction.count)
            magnitude = xf == yf ? 0 : (xf < yf ? -1 : 1)
        }
        return xSign * magnitude
    }
}

extension Character {
    var isASCIIDigit: Bool { asciiValue.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
}
