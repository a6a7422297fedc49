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
        case insuplcAdmdvs = "insuplc_admdvs", mdtrtareaAdmvs = "mdtrtarea_admvs", medType = "med_type", insutype
        case psnSetlway = "psn_setlway", acctUsedFlag = "acct_used_flag", medfeeSumamt = "medfee_sumamt", requestedAt
        case commercial, feedetail
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
