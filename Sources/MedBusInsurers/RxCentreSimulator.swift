import Foundation
import MedBusCore
import MedBusCrypto
import MedBusRxCentre

/// A hospital registered with the simulated e-prescription centre: its appId and secret and the
/// SM2 public key its envelopes must verify with.
public struct RxCentreApp: Sendable {
    public var appId: String
    public var appSecret: String
    public var hospitalKey: SM2PublicKey

    public init(appId: String, appSecret: String, hospitalKey: SM2PublicKey) {
        self.appId = appId
        self.appSecret = appSecret
        self.hospitalKey = hospitalKey
    }
}

/// The simulated insurance e-prescription centre's state and rules, without HTTP (see
/// `RxCentreSimulatorServer`): trace codes handed out by the upload pre-check (single use),
/// prescriptions by `hiRxno` with their status (1 valid, 3 revoked; DOMAIN.md §2).
///
/// Rules: `uploadChk` checks the required fields and that `rxDrugCnt` matches the drug lines,
/// then answers a fresh 20-character `rxTraceCode` and the `hiRxno` (stable per appId and
/// `hospRxno`); for a prescription already uploaded it answers its `hiRxno` and `rxStasCodg`
/// instead, so a hospital that lost the first answer can tell. `rxFileUpld` needs an unused trace
/// code of the same app and `hiRxno` and makes the prescription valid; `rxUndo` (by `hiRxno`, or
/// by the app's `hospRxno`) revokes an uploaded prescription, and answers a repeat with the same
/// status. Refusals are `infcode -2` with the reason; nothing is recorded for them. Answering
/// repeats and `hospRxno` in `rxUndo` are this simulator's choices: **[UNCONFIRMED]** for real centres.
public actor RxCentreSimulator {
    public enum Operation: String, Sendable, CaseIterable {
        case uploadCheck = "uploadChk"
        case upload = "rxFileUpld"
        case revoke = "rxUndo"
    }

    public struct Refusal: Error, Sendable {
        public var infcode: Int
        public var message: String
    }

    private struct Prescription {
        var appId: String
        var hospRxno: String
        var status: String?
    }

    private var prescriptions: [String: Prescription] = [:]
    private var hiRxnoByHospital: [String: String] = [:]
    private var traceCodes: [String: (hiRxno: String, used: Bool)] = [:]
    private var sequence = 0
    private let areaCode: String

    public init(areaCode: String = "370100") {
        self.areaCode = areaCode
    }

    /// The business outcome of one request; `infcode -2` refusals throw `Refusal`.
    public func handle(_ operation: Operation, input: JSONValue, appId: String) throws(Refusal) -> JSONValue {
        switch operation {
        case .uploadCheck: return try uploadCheck(input, appId: appId)
        case .upload: return try upload(input, appId: appId)
        case .revoke: return try revoke(input, appId: appId)
        }
    }

    /// 1 valid, 3 revoked, "" checked but not uploaded, nil unknown.
    public func status(of hiRxno: String) -> String? {
        prescriptions[hiRxno].map { $0.status ?? "" }
    }

    public func statusJSON() -> JSONValue {
        .object(prescriptions.keys.sorted().map { ($0, .string(prescriptions[$0]!.status ?? "")) })
    }

    private func uploadCheck(_ input: JSONValue, appId: String) throws(Refusal) -> JSONValue {
        var missing = ["mdtrtCertType", "mdtrtCertNo", "bizTypeCode", "hospRxno", "rxTypeCode", "prscTime", "rxDrugCnt", "valiDays", "valiEndTime"]
            .filter { input[$0]?.scalarText?.isEmpty ?? true }
        let drugs = input["rxdrugdetail"]?.arrayValue ?? []
        if drugs.isEmpty { missing.append("rxdrugdetail") }
        for (index, drug) in drugs.enumerated() {
            for field in ["medListCodg", "drugGenname", "drugCnt"] where drug[field]?.scalarText?.isEmpty ?? true {
                missing.append("rxdrugdetail[\(index)].\(field)")
            }
        }
        for field in ["fixmedinsCode", "drCode"] where input["mdtrtinfo"]?[field]?.scalarText?.isEmpty ?? true {
            missing.append("mdtrtinfo.\(field)")
        }
        if input["diseinfo"]?.arrayValue?.isEmpty ?? true { missing.append("diseinfo") }
        guard missing.isEmpty else { throw Refusal(infcode: -2, message: "missing required fields: \(missing.joined(separator: ", "))") }
        guard input["rxDrugCnt"]?.intValue == drugs.count else {
            throw Refusal(infcode: -2, message: "rxDrugCnt \(input["rxDrugCnt"]?.scalarText ?? "") does not match \(drugs.count) rxdrugdetail lines")
        }
        let hospRxno = input["hospRxno"]!.scalarText!
        let hiRxno: String
        if let known = hiRxnoByHospital["\(appId)\u{1F}\(hospRxno)"] {
            hiRxno = known
            if let status = prescriptions[known]?.status { return Self.status(known, status) }
        } else {
            sequence += 1
            hiRxno = "HIRX\(areaCode)\(String(format: "%010d", sequence))"
            hiRxnoByHospital["\(appId)\u{1F}\(hospRxno)"] = hiRxno
            prescriptions[hiRxno] = Prescription(appId: appId, hospRxno: hospRxno, status: nil)
        }
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var traceCode = ""
        repeat { traceCode = String((0..<20).map { _ in alphabet.randomElement()! }) } while traceCodes[traceCode] != nil
        traceCodes[traceCode] = (hiRxno, false)
        return .object([("rxTraceCode", .string(traceCode)), ("hiRxno", .string(hiRxno))])
    }

    private func upload(_ input: JSONValue, appId: String) throws(Refusal) -> JSONValue {
        guard let traceCode = input["rxTraceCode"]?.stringValue, let hiRxno = input["hiRxno"]?.stringValue else {
            throw Refusal(infcode: -2, message: "rxTraceCode and hiRxno are required")
        }
        guard let trace = traceCodes[traceCode], trace.hiRxno == hiRxno, prescriptions[hiRxno]?.appId == appId else {
            throw Refusal(infcode: -2, message: "rxTraceCode is not one issued for \(hiRxno)")
        }
        guard !trace.used else { throw Refusal(infcode: -2, message: "rxTraceCode was already used") }
        guard prescriptions[hiRxno]?.status == nil else { throw Refusal(infcode: -2, message: "\(hiRxno) is already uploaded") }
        traceCodes[traceCode]!.used = true
        prescriptions[hiRxno]!.status = "1"
        return Self.status(hiRxno, "1")
    }

    private func revoke(_ input: JSONValue, appId: String) throws(Refusal) -> JSONValue {
        let byHospital = input["hospRxno"]?.stringValue.flatMap { hiRxnoByHospital["\(appId)\u{1F}\($0)"] }
        guard let hiRxno = input["hiRxno"]?.stringValue ?? byHospital, !(input["undoRea"]?.scalarText?.isEmpty ?? true) else {
            throw Refusal(infcode: -2, message: "hiRxno (or a known hospRxno) and undoRea are required")
        }
        guard let prescription = prescriptions[hiRxno], prescription.appId == appId, let status = prescription.status else {
            throw Refusal(infcode: -2, message: "\(hiRxno) is not an uploaded prescription of this institution")
        }
        if status == "3" { return Self.status(hiRxno, status) }
        prescriptions[hiRxno]!.status = "3"
        return Self.status(hiRxno, "3")
    }

    private static func status(_ hiRxno: String, _ code: String) -> JSONValue {
        .object([("hiRxno", .string(hiRxno)), ("rxStasCodg", .string(code)), ("rxStasName", .string(code == "1" ? "有效" : code == "3" ? "已撤销" : "已失效"))])
    }
}
