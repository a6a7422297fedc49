import Foundation
import MedBusCore
import MedBusKafka
import MedBusSettlement
import XCTest

/// `POST /v1/settlements`, `GET /v1/settlements/{id}`, `POST …/cancel` over a live port.
final class SettlementAPITests: XCTestCase {
    func testSubmitWaitCancelAndSpecificProblems() async throws {
        let system = try await SettlementSystemFixture()
        var generator = SystemRandomNumberGenerator()
        let visit = Visit.make(0, runID: "api", generator: &generator)

        let submitted = try await system.submit(visit.request, wait: "30s")
        XCTAssertEqual(submitted.status, 200, "\(submitted.json)")
        XCTAssertEqual(submitted.json["state"]?.stringValue, "completed", "\(submitted.json["result"]?.jsonText ?? "")")
        XCTAssertEqual(submitted.json["result"]?["status"]?.stringValue, "settled")
        let id = try XCTUnwrap(submitted.json["settlementId"]?.stringValue)
        let status = try await system.http("GET", "/v1/settlements/\(id)")
        XCTAssertEqual(status.status, 200)
        XCTAssertEqual(status.json["result"], submitted.json["result"])
        // A repeat answers the same settlement.
        let again = try await system.submit(visit.request)
        XCTAssertEqual(again.json["settlementId"]?.stringValue, id)

        // Without wait: 202 with the id, final later.
        let other = Visit.make(1, runID: "api", generator: &generator)
        let accepted = try await system.submit(other.request)
        XCTAssertEqual(accepted.status, 202)
        let otherID = try XCTUnwrap(accepted.json["settlementId"]?.stringValue)
        _ = try await system.orchestrator.status(otherID, waitingUpTo: .seconds(30))

        // Cancel: 2208 on the platform, state cancelled.
        let cancel = try await system.http("POST", "/v1/settlements/\(id)/cancel")
        XCTAssertTrue([200, 202].contains(cancel.status), "\(cancel.json)")
        let cancelled = try await system.orchestrator.status(id, waitingUpTo: .seconds(30))
        XCTAssertEqual(cancelled.state, .cancelled)
        let ledger = try await system.ledger()
        XCTAssertEqual(ledger.first { $0["chrg_bchno"] == visit.request["chrg_bchno"] }?["status"]?.stringValue, "cancelled")
        let cancelAgain = try await system.http("POST", "/v1/settlements/\(otherID)-x/cancel")
        XCTAssertEqual(cancelAgain.status, 404)

        // Specific problems, nothing stored for them.
        var missing = visit.request
        if case .object(var fields) = missing { fields.removeAll { $0.0 == "chrg_bchno" }; missing = .object(fields) }
        let unknownHospital = other.request.setting("fixmedins_code", .string("H99999999999")).setting("chrg_bchno", .string("CB-unknown"))
        let badLine = other.request.setting("chrg_bchno", .string("CB-bad")).setting("feedetail", .array([.object([
            "feedetl_sn": .string("1"), "medins_list_codg": .string("X"), "cnt": .string("one"), "pric": .number("1"), "det_item_fee_sumamt": .number("1")])]))
        let mismatch = other.request.setting("chrg_bchno", .string("CB-sum")).setting("medfee_sumamt", .number("0.01"))
        let cases: [(body: [UInt8], target: String, status: Int, reason: String, mentions: String)] = [
            (Array("{not json".utf8), "/v1/settlements", 400, "not-json", "JSON"),
            (missing.jsonBytes, "/v1/settlements", 400, "missing-field", "chrg_bchno"),
            (badLine.jsonBytes, "/v1/settlements", 400, "bad-field", "feedetail.0.cnt"),
            (unknownHospital.jsonBytes, "/v1/settlements", 422, "unknown-hospital", "H99999999999"),
            (mismatch.jsonBytes, "/v1/settlements", 422, "invalid-request", "medfee_sumamt"),
            (other.request.jsonBytes, "/v1/settlements?wait=forever", 400, "bad-parameter", "wait"),
        ]
        for item in cases {
            let answer = try await system.http("POST", item.target, body: item.body)
            XCTAssertEqual(answer.status, item.status, "\(item.reason): \(answer.json)")
            XCTAssertEqual(answer.contentType, "application/problem+json")
            XCTAssertEqual(answer.json["type"]?.stringValue?.split(separator: "/").last.map(String.init), item.reason)
            XCTAssertTrue(answer.json["detail"]?.stringValue?.contains(item.mentions) == true, "\(item.reason): \(answer.json)")
        }
        let notFound = try await system.http("GET", "/v1/settlements/stl-nope")
        XCTAssertEqual(notFound.status, 404)
        XCTAssertEqual(notFound.contentType, "application/problem+json")
        let list = try await system.http("GET", "/v1/settlements")
        XCTAssertEqual(list.json["settlements"]?.arrayValue?.count, 2)
        await system.stop()
    }

    /// 100 concurrent POSTs of one request: one settlement id, one 2207 on the platform.
    func testHundredConcurrentDuplicateSubmissionsMakeOneSettlement() async throws {
        let system = try await SettlementSystemFixture()
        var generator = SystemRandomNumberGenerator()
        let visit = Visit.make(4, runID: "dup", generator: &generator)
        let ids = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<100 {
                group.addTask { try await system.submit(visit.request, wait: "30s").json["settlementId"]?.stringValue }
            }
            var ids: [String?] = []
            for try await id in group { ids.append(id) }
            return ids
        }
        XCTAssertEqual(ids.count, 100)
        XCTAssertEqual(Set(ids.compactMap { $0 }).count, 1)
        let status = try await system.orchestrator.status(ids[0]!, waitingUpTo: .seconds(30))
        XCTAssertEqual(status.state, .completed)
        let ledger = try await system.ledger()
        XCTAssertEqual(ledger.count, 1, "one 2207 on the platform")
        let all = try await system.orchestrator.list()
        XCTAssertEqual(all.count, 1)
        await system.stop()
    }
}
