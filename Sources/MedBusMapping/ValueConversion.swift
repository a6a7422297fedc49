import MedBusCore

/// The `type:` modifier: a source value → the canonical JSON form, or nil when it cannot be that type.
enum ValueConversion {
    static func convert(_ value: JSONValue, to type: ValueType, time: TimeConversion) -> JSONValue? {
        if case .bool(let b) = value {
            switch type {
            case .boolean: return value
            case .string: return .string(b ? "true" : "false")
            default: return nil
            }
        }
        guard let text = value.scalarText else { return type == .string ? nil : nil }
        switch type {
        case .string: return .string(text)
        case .integer: return DecimalText.integer(text).map(JSONValue.number)
        case .decimal: return DecimalText.normalized(text).map(JSONValue.number)
        case .money: return DecimalText.money(text).map(JSONValue.number)
        case .boolean:
            switch text.lowercased() {
            case "y", "yes", "1", "true", "t": return .bool(true)
            case "n", "no", "0", "false", "f": return .bool(false)
            default: return nil
            }
        case .date: return time.date(text).map(JSONValue.string)
        case .datetime: return time.dateTime(text).map(JSONValue.string)
        }
    }

    /// Names the expected form without echoing the value.
    static func describe(_ type: ValueType) -> String {
        switch type {
        case .string: "text"
        case .integer: "a whole number"
        case .decimal: "a decimal number"
        case .money: "a money amount (a decimal with at most two fraction digits)"
        case .boolean: "a boolean (Y/N, 1/0, true/false, T/F)"
        case .date: "a date (HL7 YYYYMMDD… or ISO YYYY-MM-DD)"
        case .datetime: "a date-time (HL7 DTM or RFC 3339)"
        }
    }
}
