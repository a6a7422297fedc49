import Foundation
import MedBusCore

/// What prescription circulation needs from the centre: tell it of every prescription issued
/// (`upload`) and revoked (`revoke`), given MedBus's prescription document
/// (`Mappings/schemas/prescription.schema.json`). Both are safe to repeat: an upload of a
/// prescription the centre already has answers its `hiRxno`, a repeated revoke its status.
///
/// Document → `uploadChk` input (DOMAIN.md §2; the credential and business type are
/// configuration): `hospRxno`, `rxTypeCode` (default "1"), `valiDays`, `reptFlag` (default "0"),
/// `maxReptCnt`, `rxdrugdetail`, `diseinfo` as they are; `prscTime` and `valiEndTime` from RFC 3339 to
/// `yyyy-MM-dd HH:mm:ss` in `timeZone` (`valiEndTime` defaults to `prscTime` + `valiDays`);
/// `rxDrugCnt` = number of drug lines; `mdtrtCertType`/`mdtrtCertNo` from the document, else
/// `certificateType` and `certno`, `psnNo` or `patientId`; `mdtrtinfo` = `fixmedinsCode`,
/// `mdtrtId` (or `encounterId`), `psnNo`, `patnName`, `certno`, `drCode`, `drName`, `prscDeptCode`
/// where present. `rxFileUpld` carries `rxTraceCode`, `hiRxno`, `hospRxno`, `fixmedinsCode` and
/// `rxFile` = base64 of the document's JSON; `rxUndo` carries `hiRxno` (when the document has it),
/// `hospRxno`, `fixmedinsCode`, `undoRea` and `undoTime`.
public struct RxCentrePrescriptionUploader: Sendable {
    public let client: RxCentreClient
    public var bizTypeCode: String
    public var certificateType: String
    public var timeZone: TimeZone

    public init(client: RxCentreClient, bizTypeCode: String = "01", certificateType: String = "02",
                timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai")!) {
        self.client = client
        self.bizTypeCode = bizTypeCode
        self.certificateType = certificateType
        self.timeZone = timeZone
    }

    /// Pre-check then upload; returns the centre's `hiRxno`.
    /// - Throws: `RxCentreError` (`.malformedEnvelope` for a document that lacks what the centre needs).
    public func upload(prescription document: JSONValue) async throws -> String? {
        let checked = try await client.uploadCheck(try uploadCheckInput(document))
        if checked.rxStasCodg != nil { return checked.hiRxno }
        let fixmedinsCode = document["fixmedinsCode"]?.stringValue ?? ""
        let uploaded = try await client.upload(.object([
            ("rxTraceCode", .string(checked.rxTraceCode)), ("hiRxno", .string(checked.hiRxno)),
            ("hospRxno", document["hospRxno"] ?? .null), ("fixmedinsCode", .string(fixmedinsCode)),
            ("rxFile", .string(Data(document.jsonBytes).base64EncodedString())),
        ]))
        return uploaded.hiRxno
    }

    public func revoke(prescription document: JSONValue, reason: String?) async throws {
        var input: [(String, JSONValue)] = []
        if let hiRxno = document["hiRxno"]?.stringValue { input.append(("hiRxno", .string(hiRxno))) }
        input += [
            ("hospRxno", document["hospRxno"] ?? .null), ("fixmedinsCode", document["fixmedinsCode"] ?? .null),
            ("undoRea", .string(reason.flatMap { $0.isEmpty ? nil : $0 } ?? "revoked by the hospital")),
            ("undoTime", .string(centreTime(Date()))),
        ]
        _ = try await client.revoke(.object(input))
    }

    /// The `uploadChk` input for a MedBus prescription document (see the type's comment).
    public func uploadCheckInput(_ document: JSONValue) throws(RxCentreError) -> JSONValue {
        func text(_ name: String) -> String? { document[name]?.scalarText.flatMap { $0.isEmpty ? nil : $0 } }
        guard let hospRxno = text("hospRxno"), let lines = document["rxdrugdetail"]?.arrayValue, !lines.isEmpty else {
            throw .malformedEnvelope("the prescription lacks hospRxno or rxdrugdetail")
        }
        let days = document["valiDays"]?.intValue ?? 1
        let prescribed = text("prscTime").flatMap(MessageEnvelope.parseTimestamp) ?? Date()
        let validUntil = text("valiEndTime").flatMap(MessageEnvelope.parseTimestamp) ?? prescribed.addingTimeInterval(Double(days) * 86_400)
        guard let certificate = text("mdtrtCertNo") ?? text("certno") ?? text("psnNo") ?? text("patientId") else {
            throw .malformedEnvelope("the prescription has no patient credential (mdtrtCertNo, certno, psnNo or patientId)")
        }
        let treatment: [(String, JSONValue)] = [
            ("fixmedinsCode", text("fixmedinsCode")), ("mdtrtId", text("mdtrtId") ?? text("encounterId")), ("psnNo", text("psnNo")),
            ("patnName", text("patnName")), ("certno", text("certno")), ("drCode", text("drCode")), ("drName", text("drName")),
            ("prscDeptCode", text("prscDeptCode")),
        ].compactMap { name, value in value.map { (name, .string($0)) } }
        var input: [(String, JSONValue)] = [
            ("mdtrtCertType", .string(text("mdtrtCertType") ?? certificateType)), ("mdtrtCertNo", .string(certificate)),
            ("bizTypeCode", .string(bizTypeCode)), ("hospRxno", .string(hospRxno)), ("rxTypeCode", .string(text("rxTypeCode") ?? "1")),
            ("prscTime", .string(centreTime(prescribed))), ("rxDrugCnt", .int(lines.count)), ("valiDays", .int(days)),
            ("valiEndTime", .string(centreTime(validUntil))), ("reptFlag", .string(text("reptFlag") ?? "0")),
        ]
        if let repeats = document["maxReptCnt"] { input.append(("maxReptCnt", repeats)) }
        input += [("rxdrugdetail", .array(lines)), ("mdtrtinfo", .object(treatment)), ("diseinfo", document["diseinfo"] ?? .array([]))]
        return .object(input)
    }

    private func centreTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }
}
