import Foundation
import MedBusCore

/// A visit's bill to settle one-stop: `settlement-request.schema.json` (topic `settlement.requests`).
///
/// Field names on the wire are the national platform's (`chrg_bchno`, `mdtrt_cert_type`, …), so a
/// request maps onto the 1101/2204/2206/2207 inputs without renaming. Amounts are `Money`; quantity
/// and unit price are `Decimal`, read from the JSON text (drug prices often have four decimals).
public struct SettlementRequest: Codable, Sendable, Hashable {
    public var chrgBchno: String
    public var encounterId: String
    public var patientId: String
    public var fixmedinsCode: String
    public var fixmedinsName: String?
    public var psnNo: String?
    public var mdtrtId: String?
    public var mdtrtCertType: String?
    public var mdtrtCertNo: String?
    /// The person's certificate (psn_cert_type 01: resident ID card) and its number.
    public var psnCertType: String?
    public var certno: String?
    /// The patient's identifiers as the HIS sends them (PID-3): where the resident ID card is
    /// when no certificate field names it.
    public var identifiers: [Identifier]?
    public var insuplcAdmdvs: String?
    public var mdtrtareaAdmvs: String?
    public var medType: String
    public var insutype: String?
    public var psnSetlway: String?
    public var acctUsedFlag: String?
    /// The total as the HIS states it; when absent, the sum of the fee lines.
    public var medfeeSumamt: Money?
    public var requestedAt: String?
    public var commercial: CommercialPolicy?
    public var feedetail: [FeeLine]

    /// The patient's commercial direct-pay policy.
    public struct CommercialPolicy: Codable, Sendable, Hashable {
        /// The insurer's id in topic names: `insurer.<insurerCode>.requests`.
        public var insurerCode: String
        public var policyNo: String?

        public init(insurerCode: String, policyNo: String? = nil) {
            self.insurerCode = insurerCode
            self.policyNo = policyNo
        }
    }

    /// One patient identifier: `type` as `codes/id-type.csv` names it, `system` its OID.
    public struct Identifier: Codable, Sendable, Hashable {
        public var value: String
        public var type: String?
        public var system: String?

        public init(value: String, type: String? = nil, system: String? = nil) {
            self.value = value
            self.type = type
            self.system = system
        }
    }

    /// One chargeable line (2204 `feedetail`).
    public struct FeeLine: Codable, Sendable, Hashable {
        public var feedetlSn: String
        public var feeOcurTime: String?
        public var medinsListCodg: String
        public var medListCodg: String?
        public var itemName: String?
        public var medChrgitmType: String?
        public var cnt: Decimal
        public var pric: Decimal
        public var detItemFeeSumamt: Money
        public var bilgDeptCodg: String?
        public var bilgDeptName: String?
        public var bilgDrCodg: String?
        public var bilgDrName: String?
        public var rxno: String?
        public var rxCircFlag: String?

        public init(feedetlSn: String, medinsListCodg: String, medListCodg: String? = nil, cnt: Decimal, pric: Decimal,
                    detItemFeeSumamt: Money, medChrgitmType: String? = nil, feeOcurTime: String? = nil) {
            self.feedetlSn = feedetlSn
            self.medinsListCodg = medinsListCodg
            self.medListCodg = medListCodg
            self.cnt = cnt
            self.pric = pric
            self.detItemFeeSumamt = detItemFeeSumamt
            self.medChrgitmType = medChrgitmType
            self.feeOcurTime = feeOcurTime
        }

        enum CodingKeys: String, CodingKey {
            case feedetlSn = "feedetl_sn", feeOcurTime = "fee_ocur_time", medinsListCodg = "medins_list_codg"
            case medListCodg = "med_list_codg", itemName, medChrgitmType = "med_chrgitm_type", cnt, pric
            case detItemFeeSumamt = "det_item_fee_sumamt", bilgDeptCodg = "bilg_dept_codg", bilgDeptName = "bilg_dept_name"
            case bilgDrCodg = "bilg_dr_codg", bilgDrName = "bilg_dr_name", rxno, rxCircFlag = "rx_circ_flag"
        }
    }

    public init(chrgBchno: String, encounterId: String, patientId: String, fixmedinsCode: String, medType: String,
                feedetail: [FeeLine], mdtrtId: String? = nil, mdtrtCertType: String? = nil, mdtrtCertNo: String? = nil,
                insutype: String? = nil, medfeeSumamt: Money? = nil, commercial: CommercialPolicy? = nil) {
        self.chrgBchno = chrgBchno
        self.encounterId = encounterId
        self.patientId = patientId
        self.fixmedinsCode = fixmedinsCode
        self.medType = medType
        self.feedetail = feedetail
        self.mdtrtId = mdtrtId
        self.mdtrtCertType = mdtrtCertType
        self.mdtrtCertNo = mdtrtCertNo
        self.insutype = insutype
        self.medfeeSumamt = medfeeSumamt
        self.commercial = commercial
    }

    enum CodingKeys: String, CodingKey {
        case chrgBchno = "chrg_bchno", encounterId, patientId, fixmedinsCode = "fixmedins_code", fixmedinsName = "fixmedins_name"
        case psnNo = "psn_no", mdtrtId = "mdtrt_id", mdtrtCertType = "mdtrt_cert_type", mdtrtCertNo = "mdtrt_cert_no"
        case psnCertType = "psn_cert_type", certno, identifiers
        case insuplcAdmdvs = "insuplc_admdvs", mdtrtareaAdmvs = "mdtrtarea_admvs", medType = "med_type", insutype
        case psnSetlway = "psn_setlway", acctUsedFlag = "acct_used_flag", medfeeSumamt = "medfee_sumamt", requestedAt
        case commercial, feedetail
    }

    /// The certificate the visit is presented with (1101 looks the person up by it; 2201 / 2401,
    /// 2206 / 2207 and 2303 / 2304 repeat it): the stated `mdtrt_cert_type` / `mdtrt_cert_no`;
    /// else the resident ID card (02) — `certno` of a `psn_cert_type` 01, or the patient
    /// identifier of type national-id (OID 2.16.156.10011.1.3). Nil: the HIS sent none.
    public var certificate: (type: String, number: String)? {
        if let type = mdtrtCertType, let number = mdtrtCertNo, !number.isEmpty { return (type, number) }
        if psnCertType == "01", let certno, !certno.isEmpty { return ("02", certno) }
        let nationalID = identifiers?.first { $0.type == "national-id" || $0.system == "2.16.156.10011.1.3" }
        return nationalID.flatMap { $0.value.isEmpty ? nil : ("02", $0.value) }
    }

    /// Inpatient med_type (21–24 inpatient, 52 maternity inpatient): registered with 2401 admission.
    public var isInpatient: Bool { medType.hasPrefix("2") || medType == "52" }

    /// The sum of the fee lines, exact.
    public var feeLinesTotal: Money { feedetail.map(\.detItemFeeSumamt).sum() }

    /// The bill's total: the stated one, checked against the lines by `validate()`.
    public var total: Money { medfeeSumamt ?? feeLinesTotal }

    /// Checks what the saga relies on before anything is stored or sent.
    /// - Throws: `SettlementError.invalidRequest` naming the field (never its value).
    public func validate() throws {
        func require(_ condition: Bool, _ reason: String) throws {
            if !condition { throw SettlementError.invalidRequest(reason) }
        }
        try require(!chrgBchno.isEmpty, "chrg_bchno is empty")
        try require(fixmedinsCode.count == 12, "fixmedins_code must have 12 characters")
        try require(!feedetail.isEmpty, "feedetail is empty")
        // 1101 needs a certificate: the platform cannot look a person up by psn_no alone.
        try require(certificate != nil, "no certificate: mdtrt_cert_type and mdtrt_cert_no, psn_cert_type 01 and certno, or a national-id identifier")
        try require(feedetail.allSatisfy { $0.detItemFeeSumamt >= .zero }, "a det_item_fee_sumamt is negative")
        try require(Set(feedetail.map(\.feedetlSn)).count == feedetail.count, "feedetl_sn values are not unique")
        if let stated = medfeeSumamt {
            try require(stated == feeLinesTotal, "medfee_sumamt differs from the sum of feedetail")
        }
        if let commercial {
            try require(commercial.insurerCode.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } && !commercial.insurerCode.isEmpty,
                        "commercial.insurerCode is not a legal topic segment")
        }
    }
}
