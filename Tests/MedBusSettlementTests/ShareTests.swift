import Foundation
import MedBusCore
@testable import MedBusSettlement
import XCTest

/// Money itself is tested in MedBusCoreTests; these check that the settlement's shares add up.
final class ShareTests: XCTestCase {
    /// Many random fee lines: the orchestrator's total and the responder's split add up to the fen.
    func testSharesAddUpExactlyOverRandomFeeLines() {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<2_000 {
            let lines = (0..<Int.random(in: 1...60, using: &generator)).map { _ in Money(fen: Int64.random(in: 1...5_000_000, using: &generator)) }
            let total = lines.sum()
            XCTAssertEqual(total.fen, lines.reduce(0) { $0 + $1.fen })
            let shares = InsurerResponder.shares(total)
            let commercial = Money(fen: shares.patient.fen / 3)
            let setlinfo = JSONValue.object([
                "medfee_sumamt": .money(total), "fund_pay_sumamt": .money(shares.funds), "psn_part_amt": .money(shares.patient),
                "psn_cash_pay": .money(shares.patient), "hosp_part_amt": .money(.zero),
            ])
            let check = ShareCheck(setlinfo: setlinfo, commercialApproved: commercial)
            XCTAssertTrue(check.addsUp(to: total), "round \(round)")
            XCTAssertEqual(check.funds + check.commercial + check.patient, total)
            XCTAssertFalse(ShareCheck(setlinfo: setlinfo, commercialApproved: commercial).addsUp(to: total + Money(fen: 1)))
        }
    }

    func testInconsistentSharesAreDetected() {
        let setlinfo = JSONValue.object(["medfee_sumamt": .number("100.00"), "fund_pay_sumamt": .number("60.00"), "psn_part_amt": .number("39.99")])
        XCTAssertFalse(ShareCheck(setlinfo: setlinfo, commercialApproved: .zero).addsUp(to: Money(fen: 10000)))
        let over = JSONValue.object(["medfee_sumamt": .number("100.00"), "fund_pay_sumamt": .number("60.00"), "psn_part_amt": .number("40.00")])
        XCTAssertFalse(ShareCheck(setlinfo: over, commercialApproved: Money(fen: 4001)).addsUp(to: Money(fen: 10000)), "commercial above the patient's part")
    }

    func testRequestValidation() throws {
        var request = makeRequest("CB1")
        XCTAssertNoThrow(try request.validate())
        request.medfeeSumamt = request.feeLinesTotal + Money(fen: 1)
        XCTAssertThrowsError(try request.validate())
        let json = #"{"chrg_bchno":"CB2","encounterId":"E","patientId":"P","fixmedins_code":"H37010200001","med_type":"11","medfee_sumamt":10.10,"feedetail":[{"feedetl_sn":"1","medins_list_codg":"X","cnt":1,"pric":10.1,"det_item_fee_sumamt":10.10}]}"#
        var decoded = try JSONDecoder().decode(SettlementRequest.self, from: Data(json.utf8))
        XCTAssertEqual(decoded.total, Money(fen: 1010))
        XCTAssertThrowsError(try decoded.validate(), "no certificate: 1101 would have nothing to look up") { error in
            XCTAssertTrue("\(error)".contains("no certificate"), "\(error)")
        }
        // The certificate, in the order the request states it (DFT^P03: IN1-49, PID-19, PID-3).
        decoded.identifiers = [.init(value: "MR1", type: "medical-record-no"), .init(value: "370102199001011234", system: "2.16.156.10011.1.3")]
        XCTAssertEqual(decoded.certificate?.type, "02")
        XCTAssertEqual(decoded.certificate?.number, "370102199001011234")
        XCTAssertNoThrow(try decoded.validate())
        decoded.psnCertType = "01"
        decoded.certno = "370102198505051228"
        XCTAssertEqual(decoded.certificate?.number, "370102198505051228")
        decoded.mdtrtCertType = "03"
        decoded.mdtrtCertNo = "J370102"
        XCTAssertEqual(decoded.certificate?.type, "03")
        XCTAssertEqual(decoded.certificate?.number, "J370102")
    }
}
