import Foundation
import MedBusCore
import MedBusCrypto

/// A prescription as a hospital sends it (the canonical `prescription` of
/// `Mappings/schemas/prescription.schema.json`, from the RDE^O11 mapping or `POST /v1/prescriptions`),
/// checked and normalised, before MedBus gives it an id and a trace code and signs it.
///
/// Checks, each failing with its own `RxProblem`:
/// - required: `fixmedinsCode`, `hospRxno`, `patientId`, `drCode` (the prescriber), `rxdrugdetail` with at
///   least one line, each line's `medListCodg`, `fixmedinsHilistId`, `drugCnt`; `diseinfo` with a `diagCode`
///   when the service requires a diagnosis (`missing-field`);
/// - for a hospital whose prescriptions go to the insurance prescription centre, what the centre refuses an
///   upload without: a diagnosis (`diseinfo`) and each line's generic name (`drugGenname`) (`missing-field`);
/// - every `medListCodg` in the circulation drug code table (`unknown-drug-code`), and `rxItemTypeCode`, if
///   given, equal to the table's (filled in from the table otherwise);
/// - `drugCnt`, `sinDoscnt` positive decimals, `medcDays` a positive integer (`invalid-quantity`);
/// - validity: `valiDays` ≥ 1 (default from the service), ending at `valiEndTime` if given, else `prscTime`
///   (or now) + `valiDays` days; the end must be in the future (`invalid-validity`);
/// - repeats: `reptFlag` "1" needs `maxReptCnt` ≥ 1; without it a prescription is dispensed once;
/// - unknown fields, wrong JSON types, fields MedBus assigns (`rxTraceCode`, `rxStasCodg`) (`invalid-field`).
struct PrescriptionDraft: Sendable {
    var fixmedinsCode: String
    var hospRxno: String
    var validityEnd: Date
    var maxReptCnt: Int
    /// Prescribed quantity per national drug code (summed over lines), what a dispense may not exceed.
    var prescribed: [String: DecimalQuantity]
    /// The document's members as they will be signed (normalised), without what MedBus assigns.
    var fields: [String: JSONValue]
    /// SM3 (OpenSSL's, the fastest digest at hand) of the normalised input: the same prescription sent again is
    /// recognised by it.
    var inputDigest: String

    struct Policy: Sendable {
        var drugs: DrugCodeTable
        var defaultValidityDays: Int
        var requireDiagnosis: Bool
        /// The prescription will be uploaded to the insurance prescription centre.
        var forCentre = false
    }

    static let topFields: Set<String> = [
        "hospRxno", "hiRxno", "patientId", "encounterId", "psnNo", "mdtrtId", "fixmedinsCode", "prscTime", "drCode", "drName",
        "prscDeptCode", "rxTypeCode", "valiDays", "valiEndTime", "reptFlag", "maxReptCnt", "rxdrugdetail", "diseinfo",
    ]
    static let lineFields: Set<String> = [
        "medListCodg", "fixmedinsHilistId", "fixmedinsHilistName", "drugGenname", "drugDosform", "drugSpec", "rxItemTypeCode",
        "sinDoscnt", "sinDosunt", "usedFrquCodg", "medcWayCodg", "medcWayDscr", "medcDays", "drugCnt", "drugDosunt",
        "hospOrderNo", "instructions",
    ]
    static let diagnosisFields: Set<String> = ["diagType", "diagSrtNo", "diagCode", "diagName", "maindiagFlag"]
    /// Fields MedBus assigns; a sender that sets them is mistaken about who does what.
    static let assignedFields: Set<String> = ["rxTraceCode", "rxStasCodg"]

    init(_ body: JSONValue, policy: Policy, now: Date) throws(RxProblem) {
        guard case .object(let members) = body else { throw RxProblem(.invalidJSON, "the prescription must be a JSON object") }
        var fields: [String: JSONValue] = [:]
        for (name, value) in members {
            if Self.assignedFields.contains(name) {
                throw RxProblem(.invalidField, "\(name) is assigned by MedBus, not sent", extras: [("field", .string(name))])
            }
            guard Self.topFields.contains(name) else { throw RxProblem(.invalidField, "unknown field \(name)", extras: [("field", .string(name))]) }
            if !value.isNull { fields[name] = value }
        }

        fixmedinsCode = try Self.text(fields, "fixmedinsCode", required: true)!
        hospRxno = try Self.text(fields, "hospRxno", required: true)!
        _ = try Self.text(fields, "patientId", required: true)
        _ = try Self.text(fields, "drCode", required: true)
        for name in ["hiRxno", "encounterId", "psnNo", "mdtrtId", "drName", "prscDeptCode", "rxTypeCode"] {
            _ = try Self.text(fields, name, required: false)
        }

        // Drug lines.
        guard let lines = fields["rxdrugdetail"]?.arrayValue, !lines.isEmpty else {
            throw RxProblem(.missingField, "rxdrugdetail needs at least one drug line", extras: [("field", .string("rxdrugdetail"))])
        }
        var prescribed: [String: DecimalQuantity] = [:]
        var normalisedLines: [JSONValue] = []
        for (index, line) in lines.enumerated() {
            let (normalised, code, count) = try Self.drugLine(line, index: index, drugs: policy.drugs, requireGenericName: policy.forCentre)
            prescribed[code] = prescribed[code].map { $0 + count } ?? count
            normalisedLines.append(normalised)
        }
        fields["rxdrugdetail"] = .array(normalisedLines)
        self.prescribed = prescribed

        // Diagnoses.
        if let diagnoses = fields["diseinfo"] {
            guard let items = diagnoses.arrayValue else { throw Self.wrongType("diseinfo", "an array") }
            for (index, item) in items.enumerated() {
                guard case .object(let diagnosis) = item else { throw Self.wrongType("diseinfo[\(index)]", "an object") }
                for (name, _) in diagnosis where !Self.diagnosisFields.contains(name) {
                    throw RxProblem(.invalidField, "unknown field diseinfo[\(index)].\(name)", extras: [("field", .string("diseinfo[\(index)].\(name)"))])
                }
                _ = try Self.text(item.objectFields, "diagCode", required: true, path: "diseinfo[\(index)].")
            }
        }
        if policy.requireDiagnosis || policy.forCentre, (fields["diseinfo"]?.arrayValue ?? []).isEmpty {
            throw RxProblem(.missingField, "diseinfo: a diagnosis is required" + (policy.forCentre ? Self.centreRefuses : ""), extras: [("field", .string("diseinfo"))])
        }

        inputDigest = RxText.hex(SM3.digest(RxCanonicalForm.bytes(.object(fields))))

        // Validity.
        let days: Int
        if let given = fields["valiDays"] {
            guard let value = given.intValue, value >= 1 else {
                throw RxProblem(.invalidValidity, "valiDays must be a whole number of days, at least 1", extras: [("field", .string("valiDays"))])
            }
            days = value
        } else {
            days = policy.defaultValidityDays
        }
        var start = now
        if let written = try Self.text(fields, "prscTime", required: false) {
            guard let date = MessageEnvelope.parseTimestamp(written) else { throw Self.wrongType("prscTime", "an RFC 3339 date-time") }
            start = date
        }
        if let end = try Self.text(fields, "valiEndTime", required: false) {
            guard let date = MessageEnvelope.parseTimestamp(end) else { throw Self.wrongType("valiEndTime", "an RFC 3339 date-time") }
            validityEnd = date
        } else {
            validityEnd = start.addingTimeInterval(TimeInterval(days) * 86_400)
        }
        guard validityEnd > now else {
            throw RxProblem(.invalidValidity, "the validity ended at \(MessageEnvelope.formatTimestamp(validityEnd)), before now",
                            extras: [("field", .string("valiEndTime"))])
        }
        fields["valiDays"] = .int(days)
        fields["valiEndTime"] = .string(RxText.timestamp(validityEnd))

        // Repeats.
        let repeatFlag = try Self.text(fields, "reptFlag", required: false) ?? "0"
        switch repeatFlag {
        case "0":
            if let count = fields["maxReptCnt"], count.intValue != 1 {
                throw RxProblem(.invalidField, "maxReptCnt is only for repeat prescriptions (reptFlag 1)", extras: [("field", .string("maxReptCnt"))])
            }
            maxReptCnt = 1
        case "1":
            guard let count = fields["maxReptCnt"]?.intValue, count >= 1 else {
                throw RxProblem(.invalidField, "a repeat prescription needs maxReptCnt ≥ 1", extras: [("field", .string("maxReptCnt"))])
            }
            maxReptCnt = count
        default:
            throw RxProblem(.invalidField, "reptFlag must be \"0\" or \"1\"", extras: [("field", .string("reptFlag"))])
        }
        fields["reptFlag"] = .string(repeatFlag)
        fields["maxReptCnt"] = .int(maxReptCnt)
        self.fields = fields
    }

    static let centreRefuses = " (the insurance prescription centre refuses this hospital's prescriptions without it)"

    /// One `rxdrugdetail` line: known fields, a national code from the table, positive quantities.
    private static func drugLine(_ line: JSONValue, index: Int, drugs: DrugCodeTable, requireGenericName: Bool) throws(RxProblem) -> (JSONValue, String, DecimalQuantity) {
        let path = "rxdrugdetail[\(index)]."
        guard case .object(let members) = line else { throw wrongType("rxdrugdetail[\(index)]", "an object") }
        var fields: [String: JSONValue] = [:]
        for (name, value) in members {
            guard lineFields.contains(name) else { throw RxProblem(.invalidField, "unknown field \(path)\(name)", extras: [("field", .string(path + name))]) }
            if !value.isNull { fields[name] = value }
        }
        let code = try text(fields, "medListCodg", required: true, path: path)!
        _ = try text(fields, "fixmedinsHilistId", required: true, path: path)
        guard let itemType = drugs.itemType(of: code) else {
            throw RxProblem(.unknownDrugCode, "\(path)medListCodg \(code) is not in the circulation drug code table",
                            extras: [("field", .string(path + "medListCodg")), ("code", .string(code))])
        }
        if let given = try text(fields, "rxItemTypeCode", required: false, path: path), given != itemType {
            throw RxProblem(.invalidField, "\(path)rxItemTypeCode \(given) differs from the table's \(itemType) for \(code)",
                            extras: [("field", .string(path + "rxItemTypeCode"))])
        }
        fields["rxItemTypeCode"] = .string(itemType)
        guard fields["drugCnt"] != nil else {
            throw RxProblem(.missingField, "\(path)drugCnt is required", extras: [("field", .string(path + "drugCnt"))])
        }
        var count: DecimalQuantity?
        for name in ["drugCnt", "sinDoscnt"] {
            guard let value = fields[name] else { continue }
            guard let quantity = value.stringValue.flatMap(DecimalQuantity.init), quantity.isPositive else {
                throw RxProblem(.invalidQuantity, "\(path)\(name) must be a positive decimal", extras: [("field", .string(path + name))])
            }
            fields[name] = .number(quantity.text)
            if name == "drugCnt" { count = quantity }
        }
        if let days = fields["medcDays"] {
            guard let value = days.intValue, value >= 1 else {
                throw RxProblem(.invalidQuantity, "\(path)medcDays must be a whole number ≥ 1", extras: [("field", .string(path + "medcDays"))])
            }
            fields["medcDays"] = .int(value)
        }
        for name in lineFields where !["drugCnt", "sinDoscnt", "medcDays"].contains(name) {
            _ = try text(fields, name, required: false, path: path)
        }
        if requireGenericName, fields["drugGenname"].flatMap(\.stringValue).map(RxText.trimmed)?.isEmpty ?? true {
            throw RxProblem(.missingField, "\(path)drugGenname is required" + centreRefuses, extras: [("field", .string(path + "drugGenname"))])
        }
        return (.object(fields), code, count!)
    }

    /// A text field: a JSON string (codes written as numbers are accepted and kept as text).
    private static func text(_ fields: [String: JSONValue], _ name: String, required: Bool, path: String = "") throws(RxProblem) -> String? {
        guard let value = fields[name] else {
            if required { throw RxProblem(.missingField, "\(path)\(name) is required", extras: [("field", .string(path + name))]) }
            return nil
        }
        guard let text = value.stringValue else { throw wrongType(path + name, "a string") }
        let trimmed = RxText.trimmed(text)
        if trimmed.isEmpty, required { throw RxProblem(.missingField, "\(path)\(name) is empty", extras: [("field", .string(path + name))]) }
        return trimmed
    }

    private static func wrongType(_ field: String, _ expected: String) -> RxProblem {
        RxProblem(.invalidField, "\(field) must be \(expected)", extras: [("field", .string(field))])
    }
}

extension JSONValue {
    /// An object's members by name (the first of duplicates), empty for anything else.
    var objectFields: [String: JSONValue] {
        guard case .object(let members) = self else { return [:] }
        var fields: [String: JSONValue] = [:]
        for (name, value) in members where fields[name] == nil { fields[name] = value }
        return fields
    }
}
