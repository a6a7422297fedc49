import Foundation
import MedBusCore
@testable import MedBusSettlement
import XCTest

/// The saga record's stored form (`SagaRecordCoding.swift`) and the in-memory msgid sequence.
final class SagaRecordStorageTests: XCTestCase {
    /// Every field survives a write and a read; the platform's outputs keep number text and order.
    func testEveryFieldRoundTrips() throws {
        var record = try SagaRecord(id: "stl-1", request: makeRequest("RT-1", commercial: true), at: Date(timeIntervalSince1970: 1_795_000_000.123456))
        record.state = .commercialReversal
        record.pending = .init(step: .commercialReversal, msgid: "H370102000012026112417000001", topic: "insurer.hmb.requests", payload: #"{"a":"b\n"}"#, attempt: 3)
        record.msgids = ["1101": ["m1"], "2207": ["m2", "m3"]]
        record.person = .init(psnNo: "P1", insutype: "310", insuplcAdmdvs: nil, psnName: "张三", certno: "370102")
        record.registeredMdtrtId = "MDT9"
        record.preSettlement = try JSONValue.parse(#"{"z":1,"setlinfo":{"medfee_sumamt":356.50,"psn_cash_pay":12.30}}"#)
        record.settlement = try JSONValue.parse(#"{"setlinfo":{"psn_cash_pay":12.30},"setldetail":[{"fund_payamt":1.00}]}"#)
        record.reversalTarget = .init(msgid: "m2", infno: "2207")
        record.settlementRounds = 2
        record.commercial = .init(insurerCode: "hmb", claimId: "stl-1-claim", claimed: Money(fen: 1_230), approved: Money(fen: 1_000),
                                  status: .partiallyApproved, rejectReason: "cap", claimQueued: true)
        record.compensation = [.settlementCancel, .feeUploadCancel]
        record.ending = .cancelled
        record.failureReason = "timeout-2207"
        record.errMsg = "系统繁忙"
        var result = SettlementResult(settlementId: "stl-1", request: record.request, status: .cancelled)
        result.setlinfo = try JSONValue.parse(#"{"psn_cash_pay":12.30}"#)
        result.patientPayable = Money(fen: 230)
        result.completedAt = "2026-11-24T09:00:00Z"
        record.result = result
        record.claimRecord = try JSONValue.parse(#"{"claimId":"stl-1-claim","claimedAmount":12.30}"#)
        record.outputsPublished = true
        record.updatedAt = Date(timeIntervalSince1970: 1_795_000_009.654321)

        let read = try SagaRecord(stored: record.storedBytes)
        XCTAssertEqual(read.storedBytes, record.storedBytes)
        XCTAssertEqual(read.request, record.request)
        XCTAssertEqual(read.updatedAt, record.updatedAt)
        XCTAssertEqual(read.createdAt, record.createdAt)
        XCTAssertEqual(read.pending?.payload, #"{"a":"b\n"}"#)
        XCTAssertEqual(read.commercial?.approved, Money(fen: 1_000))
        XCTAssertEqual(read.compensation, [.settlementCancel, .feeUploadCancel])
        XCTAssertEqual(read.preSettlement?.jsonText, #"{"z":1,"setlinfo":{"medfee_sumamt":356.50,"psn_cash_pay":12.30}}"#)
        XCTAssertEqual(read.result?.jsonValue, result.jsonValue, "the result as published (amounts with two decimals)")

        let status = try SettlementStatus(stored: record.storedBytes, fixmedinsCode: "H37010200001", chrgBchno: "RT-1")
        XCTAssertEqual(status.state, .commercialReversal)
        XCTAssertNil(status.result, "a status shows the result only once the saga is final")
        XCTAssertEqual(status.failureReason, "timeout-2207")
        record.state = .cancelled
        let final = try SettlementStatus(stored: record.storedBytes, fixmedinsCode: "H37010200001", chrgBchno: "RT-1")
        XCTAssertEqual(final.result, result)
        XCTAssertEqual(final.result?.setlinfo?.jsonText, #"{"psn_cash_pay":12.30}"#)
    }

    /// A record as the earlier encoding (`JSONEncoder` over the synthesized `Codable`) wrote it:
    /// amounts through `Decimal` (356.5), dates as seconds since 2001, members of JSON values sorted.
    func testRecordOfTheEarlierEncodingLoads() throws {
        let request = makeRequest("OLD-1", commercial: true)
        let requestText = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        let stored = """
            {"id":"stl-old","request":\(requestText),"state":"commercial-claim","pending":{"step":"claim","msgid":"H370102000012026112417000005",\
            "topic":"insurer.hmb.requests","payload":"{}","attempt":1},"msgids":{"1101":["a"],"claim":["H370102000012026112417000005"]},\
            "person":{"psnNo":"P1","insutype":"310"},"settlement":{"setlinfo":{"psn_cash_pay":356.5}},"settlementRounds":1,\
            "commercial":{"insurerCode":"hmb","claimId":"stl-old-claim","claimed":356.5,"approved":0,"status":"pending","claimQueued":false},\
            "compensation":[],"outputsPublished":false,"createdAt":785667600.25,"updatedAt":785667601.5}
            """
        let record = try SagaRecord(stored: Array(stored.utf8))
        XCTAssertEqual(record.request, request)
        XCTAssertEqual(record.state.rawValue, "commercial-claim")
        XCTAssertEqual(record.pending?.step, .commercialClaim)
        XCTAssertEqual(record.commercial?.claimed, Money(fen: 35_650))
        XCTAssertEqual(record.settlement?["setlinfo"]?["psn_cash_pay"]?.moneyValue, Money(fen: 35_650))
        XCTAssertEqual(record.createdAt, Date(timeIntervalSinceReferenceDate: 785_667_600.25))
        XCTAssertEqual(record.settlementRounds, 1)
        XCTAssertNil(record.result)
    }

    /// A damaged record names the field, never a value.
    func testUnreadableRecordNamesTheField() throws {
        let stored = try SagaRecord(id: "stl-2", request: makeRequest("BAD-1"), at: Date()).storedBytes
        let damaged = JSONWriter.compact(try JSONValue.parse(stored).setting("state", .string("nonsense")))
        XCTAssertThrowsError(try SagaRecord(stored: damaged)) { error in
            XCTAssertEqual("\(error)", "\(SettlementError.store("unreadable saga record (field state)"))")
        }
        XCTAssertThrowsError(try SagaRecord(stored: Array("[1]".utf8)))
    }

    /// msgids continue after the saga log's largest (told once per hospital), count on in memory,
    /// never go back with the clock, and borrow the next second after 8,999.
    func testMessageIDSequence() throws {
        let sequence = MessageIDSequence()
        let hospital = "H37010200001"
        let now = Date()
        let second = PlatformMessages.msgidTimePart(now)
        XCTAssertNil(sequence.next(fixmedinsCode: hospital, at: now), "unknown until started")
        sequence.start(hospital, after: nil)
        XCTAssertEqual(sequence.next(fixmedinsCode: hospital, at: now), hospital + second + "0001")
        sequence.start(hospital, after: hospital + second + "0500")
        XCTAssertEqual(sequence.next(fixmedinsCode: hospital, at: now), hospital + second + "0002", "a later start is ignored")
        XCTAssertEqual(sequence.next(fixmedinsCode: hospital, at: now.addingTimeInterval(-30)), hospital + second + "0003")

        // After a restart: the log's largest is in a later second (a previous process borrowed it).
        let later = PlatformMessages.msgidTimePart(now.addingTimeInterval(2))
        let restarted = MessageIDSequence()
        restarted.start(hospital, after: hospital + later + "0041")
        XCTAssertEqual(restarted.next(fixmedinsCode: hospital, at: now), hospital + later + "0042")

        // A full second: the next msgid is the next second's first.
        let full = MessageIDSequence()
        full.start(hospital, after: hospital + second + "8999")
        let next = PlatformMessages.msgidTimePart(now.addingTimeInterval(1))
        XCTAssertEqual(full.next(fixmedinsCode: hospital, at: now), hospital + next + "0001")
        XCTAssertEqual(full.next(fixmedinsCode: hospital, at: now), hospital + next + "0002")
    }
}
