import Foundation
import MedBusCore
import MedBusSettlement
import XCTest

/// The certificate a HIS charge feed carries (DFT^P03 mapping: a national-id PID-3 repetition,
/// PID-19, IN1-49) reaches the platform's person lookup (1101), and a request without one is
/// refused before anything is stored.
final class SettlementCertificateTests: XCTestCase {
    /// A request as `Mappings/his/dft-charge-settlement.yaml` writes it, with `certificate` fields.
    private func request(_ batch: String, _ certificate: [String: JSONValue]) -> JSONValue {
        .object(certificate.merging([
            "chrg_bchno": .string(batch), "encounterId": .string("ENC-\(batch)"), "patientId": .string("ZY-\(batch)"),
            "fixmedins_code": .string("H37010200002"), "med_type": .string("21"), "insutype": .string("310"),
            "feedetail": .array([.object([
                "feedetl_sn": .string("SF1"), "medins_list_codg": .string("250403001"), "med_list_codg": .string("XA250403001"),
                "cnt": .number("1"), "pric": .number("260.00"), "det_item_fee_sumamt": .number("260.00"),
            ])]),
        ]) { $1 })
    }

    func testTheHISCertificateReachesThePersonLookup() async throws {
        let system = try await SettlementSystemFixture()
        let certno = "370102199001011234"
        let fromIdentifiers = request("CB-cert-pid3", ["identifiers": .array([
            .object(["system": .string("H37010200002"), "type": .string("medical-record-no"), "value": .string("ZY2025000123")]),
            .object(["system": .string("2.16.156.10011.1.3"), "type": .string("national-id"), "value": .string(certno)]),
        ])])
        let fromPID19 = request("CB-cert-pid19", ["psn_cert_type": .string("01"), "certno": .string(certno)])
        var ids: [String] = []
        for body in [fromIdentifiers, fromPID19] {
            let answer = try await system.submit(body, wait: "30s")
            XCTAssertEqual(answer.json["state"]?.stringValue, "completed", "\(answer.json)")
            ids.append(try XCTUnwrap(answer.json["settlementId"]?.stringValue))
        }
        // Both looked the person up by the resident ID card (mdtrt_cert_type 02, psn_cert_type 01).
        let requests = try await system.read("insurer.nhsa.requests", count: 10).map { ($0.keyString, try JSONValue.parse($0.value ?? [])) }
        for id in ids {
            let lookup = try XCTUnwrap(requests.first { $0.0 == id && $0.1["infno"]?.stringValue == "1101" }?.1["input"]?["data"])
            XCTAssertEqual(lookup["mdtrt_cert_type"]?.stringValue, "02")
            XCTAssertEqual(lookup["mdtrt_cert_no"]?.stringValue, certno)
            XCTAssertEqual(lookup["psn_cert_type"]?.stringValue, "01")
            XCTAssertEqual(lookup["certno"]?.stringValue, certno)
        }

        // psn_no alone (an untyped IN1-49) gives 1101 nothing to look up: refused, nothing stored.
        let psnNoOnly = try await system.submit(request("CB-cert-none", ["psn_no": .string("37000000000000012345")]))
        XCTAssertEqual(psnNoOnly.status, 422, "\(psnNoOnly.json)")
        XCTAssertTrue(psnNoOnly.json.jsonText.contains("no certificate"), "\(psnNoOnly.json)")
        let stored = try await system.orchestrator.list()
        XCTAssertEqual(stored.count, 2)
        await system.stop()
    }
}
