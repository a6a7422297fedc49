import Foundation

// Snapshots of the composite data types the typed segment views return. Each reads its components with
// `HL7Element.part`, so the same type works for a field (components) and inside a component
// (sub-components, like CX.4's HD). Only the components integrations use are named; the rest stay
// reachable through the element.

/// HD: hierarchic designator (applications, facilities, assigning authorities).
public struct HL7HierarchicDesignator: Hashable, Sendable {
    public var namespaceID: String?
    public var universalID: String?
    public var universalIDType: String?

    public init(_ element: HL7Element) {
        namespaceID = element.part(1).string
        universalID = element.part(2).string
        universalIDType = element.part(3).string
    }
}

/// CX: extended composite id (patient identifiers, visit numbers).
public struct HL7ExtendedID: Hashable, Sendable {
    public var id: String?
    public var checkDigit: String?
    public var assigningAuthority: HL7HierarchicDesignator
    /// HL7 table 0203: `MR` medical record, `PI` patient internal, `NI` national unique id, `PT` passport…
    public var identifierTypeCode: String?
    public var assigningFacility: HL7HierarchicDesignator

    public init(_ element: HL7Element) {
        id = element.part(1).string
        checkDigit = element.part(2).string
        assigningAuthority = HL7HierarchicDesignator(element.part(4))
        identifierTypeCode = element.part(5).string
        assigningFacility = HL7HierarchicDesignator(element.part(6))
    }
}

/// XPN: person name. Chinese names put the surname (姓) in `family` and the given name (名) in `given`;
/// some senders put the whole name in `family`.
public struct HL7PersonName: Hashable, Sendable {
    public var family: String?
    public var given: String?
    public var middle: String?
    public var suffix: String?
    public var prefix: String?
    /// HL7 table 0200: `L` legal, `A` alias…
    public var nameTypeCode: String?

    public init(_ element: HL7Element) {
        family = element.part(1).subcomponent(1).string  // FN.1 surname; FN's other parts are rarely sent
        given = element.part(2).string
        middle = element.part(3).string
        suffix = element.part(4).string
        prefix = element.part(5).string
        nameTypeCode = element.part(7).string
    }
}

/// XCN: a person with an id (doctors, operators).
public struct HL7ExtendedPerson: Hashable, Sendable {
    public var id: String?
    public var family: String?
    public var given: String?
    public var assigningAuthority: HL7HierarchicDesignator

    public init(_ element: HL7Element) {
        id = element.part(1).string
        family = element.part(2).subcomponent(1).string
        given = element.part(3).string
        assigningAuthority = HL7HierarchicDesignator(element.part(9))
    }
}

/// XAD: address.
public struct HL7Address: Hashable, Sendable {
    public var street: String?
    public var otherDesignation: String?
    public var city: String?
    /// State or province (省).
    public var state: String?
    public var postalCode: String?
    public var country: String?
    /// HL7 table 0190: `H` home, `B` business, `BR` residence at birth…
    public var addressType: String?
    public var countyCode: String?

    public init(_ element: HL7Element) {
        street = element.part(1).subcomponent(1).string  // SAD.1 since v2.5; the whole component before
        otherDesignation = element.part(2).string
        city = element.part(3).string
        state = element.part(4).string
        postalCode = element.part(5).string
        country = element.part(6).string
        addressType = element.part(7).string
        countyCode = element.part(9).string
    }
}

/// XTN: telephone number or e-mail.
public struct HL7Telecom: Hashable, Sendable {
    /// XTN.1, the number as one string (deprecated in v2.6 but what Chinese HIS send).
    public var number: String?
    /// HL7 table 0201: `PRN` primary residence, `WPN` work, `ORN`, `NET` e-mail…
    public var useCode: String?
    /// HL7 table 0202: `PH`, `CP` mobile, `Internet`…
    public var equipmentType: String?
    public var email: String?
    public var areaCode: String?
    public var localNumber: String?

    public init(_ element: HL7Element) {
        number = element.part(1).string
        useCode = element.part(2).string
        equipmentType = element.part(3).string
        email = element.part(4).string
        areaCode = element.part(6).string
        localNumber = element.part(7).string
    }
}

/// CE / CWE: a coded value (with optional alternate coding).
public struct HL7CodedElement: Hashable, Sendable {
    public var identifier: String?
    public var text: String?
    public var codingSystem: String?
    public var alternateIdentifier: String?
    public var alternateText: String?
    public var alternateCodingSystem: String?

    public init(_ element: HL7Element) {
        identifier = element.part(1).string
        text = element.part(2).string
        codingSystem = element.part(3).string
        alternateIdentifier = element.part(4).string
        alternateText = element.part(5).string
        alternateCodingSystem = element.part(6).string
    }
}

/// PL: a patient location (ward, room, bed).
public struct HL7PatientLocation: Hashable, Sendable {
    /// Point of care: the ward or clinic (病区/科室).
    public var pointOfCare: String?
    public var room: String?
    public var bed: String?
    public var facility: HL7HierarchicDesignator
    public var building: String?
    public var floor: String?

    public init(_ element: HL7Element) {
        pointOfCare = element.part(1).string
        room = element.part(2).string
        bed = element.part(3).string
        facility = HL7HierarchicDesignator(element.part(4))
        building = element.part(7).string
        floor = element.part(8).string
    }
}

/// EI: entity identifier (order numbers).
public struct HL7EntityIdentifier: Hashable, Sendable {
    public var id: String?
    public var namespaceID: String?
    public var universalID: String?
    public var universalIDType: String?

    public init(_ element: HL7Element) {
        id = element.part(1).string
        namespaceID = element.part(2).string
        universalID = element.part(3).string
        universalIDType = element.part(4).string
    }
}

/// MSG: message type, e.g. `ADT^A01^ADT_A01`.
public struct HL7MessageType: Hashable, Sendable {
    public var code: String?
    public var triggerEvent: String?
    public var structure: String?

    public init(_ element: HL7Element) {
        code = element.part(1).string
        triggerEvent = element.part(2).string
        structure = element.part(3).string
    }
}

/// MO (or the MO inside CP): an amount of money. Chinese HIS usually send a bare decimal in yuan; the
/// denomination, when present, is an ISO 4217 code (`CNY`).
public struct HL7Money: Hashable, Sendable {
    /// The amount as sent.
    public var quantity: String?
    public var denomination: String?

    public init(_ element: HL7Element) {
        quantity = element.part(1).string
        denomination = element.part(2).string
    }

    /// The amount as a decimal; nil when absent or not a number. Decimal, not Double: these are settled.
    public var amount: Decimal? {
        quantity.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }
    }
}

/// DTM / TS: an HL7 date-time, `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
public struct HL7DateTime: Hashable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int?
    public var day: Int?
    public var hour: Int?
    public var minute: Int?
    public var second: Int?
    /// Fraction of a second as sent (`.1234` is 0.1234).
    public var fraction: Double?
    /// Offset from UTC in minutes when the value carries one (`+0800` is 480).
    public var utcOffsetMinutes: Int?

    /// Parses the DTM form; nil when `text` is not one.
    public init?(_ text: String) {
        var digits = Substring(text)
        var offset: Int?
        if let sign = digits.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let zone = digits[digits.index(after: sign)...]
            guard zone.count == 4, zone.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(zone) else { return nil }
            offset = (value / 100 * 60 + value % 100) * (digits[sign] == "-" ? -1 : 1)
            digits = digits[..<sign]
        }
        var fraction: Double?
        if let dot = digits.firstIndex(of: ".") {
            let fractionDigits = digits[digits.index(after: dot)...]
            guard (1...4).contains(fractionDigits.count), fractionDigits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            fraction = Double("0." + fractionDigits)
            digits = digits[..<dot]
        }
        guard [4, 6, 8, 10, 12, 14].contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        guard fraction == nil || digits.count == 14 else { return nil }
        let parts = stride(from: 0, to: digits.count, by: 2).map { start -> Int in
            let from = digits.index(digits.startIndex, offsetBy: start)
            return Int(digits[from..<digits.index(from, offsetBy: 2)]) ?? 0  // digits only, checked above
        }
        year = parts[0] * 100 + parts[1]
        month = parts.count > 2 ? parts[2] : nil
        day = parts.count > 3 ? parts[3] : nil
        hour = parts.count > 4 ? parts[4] : nil
        minute = parts.count > 5 ? parts[5] : nil
        second = parts.count > 6 ? parts[6] : nil
        guard (1...12).contains(month ?? 1), (1...31).contains(day ?? 1), (0...23).contains(hour ?? 0),
            (0...59).contains(minute ?? 0), (0...60).contains(second ?? 0)
        else { return nil }
        self.fraction = fraction
        self.utcOffsetMinutes = offset
    }

    /// `date` to the second in `timeZone`, with its UTC offset, as MSH-7 of an ACK is written.
    public init(_ date: Date, timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        year = parts.year ?? 1970
        month = parts.month
        day = parts.day
        hour = parts.hour
        minute = parts.minute
        second = parts.second
        utcOffsetMinutes = timeZone.secondsFromGMT(for: date) / 60
    }

    /// The instant, reading a value without offset in `timeZone`. Missing parts count as their start
    /// (a date alone is midnight).
    public func date(defaultTimeZone timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utcOffsetMinutes.flatMap { TimeZone(secondsFromGMT: $0 * 60) } ?? timeZone
        let components = DateComponents(
            year: year, month: month ?? 1, day: day ?? 1, hour: hour ?? 0, minute: minute ?? 0, second: second ?? 0,
            nanosecond: fraction.map { Int($0 * 1_000_000_000) })
        return calendar.date(from: components)
    }

    /// The DTM text, to the precision held.
    public var description: String {
        // Not String(format:): ACKs write one per message, and it is slow.
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = padded(year, 4)
        for part in [month, day, hour, minute, second] {
            guard let part else { break }
            text += padded(part, 2)
        }
        if let fraction, second != nil { text += "." + padded(min(Int((fraction * 10_000).rounded()), 9_999), 4) }
        if let offset = utcOffsetMinutes {
            text += (offset < 0 ? "-" : "+") + padded(abs(offset) / 60, 2) + padded(abs(offset) % 60, 2)
        }
        return text
    }
}
