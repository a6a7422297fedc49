import Foundation
import Logging
import MedBusCore
@testable import MedBusInsurers
import MedBusKafka
import XCTest

final class CommercialInsurerTests: XCTestCase {
    static let policy = CommercialPolicy(name: "test-hmb", annualDeductible: Money(yuan: "1000")!, ratio: Ratio("0.80")!, annualCap: Money(yuan: "5000")!, exclusions: ["XX"])

    static func claim(_ claimId: String, msgid: String? = nil, psnNo: String = "P1", policyNo: String? = "HMB-1", type: String = "claim",
                      inscp: String = "3000.00", funds: String = "1500.00", owed: String = "1700.00", lines: [(String, String)] = []) -> JSONValue {
        .object([
            ("msgid", .string(msgid ?? "m-\(claimId)-\(type)")), ("claimId", .string(claimId)), ("settlementId", .string("S-\(claimId)")),
            ("type", .string(type)), ("fixmedins_code", .string("H37010200001")), ("psn_no", .string(psnNo)),
            ("certno", .string("370102000000000011")), ("psn_name", .string("测试")), ("policyNo", policyNo.map(JSONValue.string) ?? .null),
            ("mdtrt_id", .string("M1")), ("setl_id", .string("SETL1")), ("med_type", .string("11")),
            ("summary", .object([
                ("medfee_sumamt", .number("3200.00")), ("inscp_scp_amt", .number(inscp)), ("fulamt_ownpay_amt", .number("200.00")),
                ("overlmt_selfpay", .number("0")), ("preselfpay_amt", .number("0")), ("psn_part_amt", .number(owed)), ("fund_pay_sumamt", .number(funds)),
            ])),
            ("feedetail", .array(lines.map { .object([("med_list_codg", .string($0.0)), ("det_item_fee_sumamt", .number($0.1))]) })),
            ("diseinfo", .array([])),
        ])
    }

    /// The book alone: hand-computed amounts.
    func testDeductibleRatioCapExclusionsAndReversal() {
        var book = CommercialClaimBook(policy: Self.policy)
        // After basic 3000 − 1500 = 1500; 1000 deductible; 500 × 0.80 = 400.
        XCTAssertEqual(book.reply(to: Self.claim("C1"))["approvedAmount"]?.moneyValue, Money(yuan: "400"))
        // Deductible used up: 1500 × 0.80 = 1200.
        XCTAssertEqual(book.reply(to: Self.claim("C2"))["approvedAmount"]?.moneyValue, Money(yuan: "1200"))
        // Excluded line of 500 leaves 1000: 800.
        XCTAssertEqual(book.reply(to: Self.claim("C3", lines: [("XX1", "500.00")]))["approvedAmount"]?.moneyValue, Money(yuan: "800"))
        // Never more than the patient owes.
        XCTAssertEqual(book.reply(to: Self.claim("C4", owed: "100.00"))["approvedAmount"]?.moneyValue, Money(yuan: "100"))
        // Cap 5000: 2500 paid so far; a large claim gets the 2500 left.
        XCTAssertEqual(book.reply(to: Self.claim("C5", inscp: "99999.00", owed: "99999.00"))["approvedAmount"]?.moneyValue, Money(yuan: "2500"))
        XCTAssertEqual(book.paidThisYear(psnNo: "P1"), Money(yuan: "5000"))
        // No policy: declined.
        XCTAssertEqual(book.reply(to: Self.claim("C6", policyNo: nil))["status"]?.stringValue, "declined")
        // Reversal gives the amount back to the year's cap; reversing twice reverses nothing.
        let reversal = book.reply(to: Self.claim("C5", type: "reversal"))
        XCTAssertEqual(reversal["status"]?.stringValue, "reversed")
        XCTAssertEqual(reversal["approvedAmount"]?.moneyValue, Money(yuan: "2500"))
        XCTAssertEqual(book.paidThisYear(psnNo: "P1"), Money(yuan: "2500"))
        XCTAssertEqual(book.reply(to: Self.claim("C5", msgid: "other", type: "reversal"))["approvedAmount"]?.moneyValue, .zero)
        // Same msgid: same reply, nothing paid twice.
        XCTAssertEqual(book.reply(to: Self.claim("C1")), book.reply(to: Self.claim("C1")))
        XCTAssertEqual(book.paidThisYear(psnNo: "P1"), Money(yuan: "2500"))
    }

    func testOverKafkaWithDeclineDuplicateOutOfOrderAndReversal() async throws {
        let kafka = try KafkaFixture(insurers: ["hmb"])
        var logger = Logger(label: "test.commercial")
        logger.logLevel = .warning
        let faults = FaultPlan()
        let simulator = try CommercialInsurerSimulator(insurer: "hmb", policy: Self.policy, kafka: kafka.kafka, faults: faults, group: "sim-\(UUID().uuidString.prefix(6))", logger: logger)
        let running = Task { try await simulator.run() }
        let replies = try kafka.reader("insurer.hmb.replies")
        func send(_ request: JSONValue, key: String = "S-1") async throws {
            try await kafka.produce("insurer.hmb.requests", key: key, value: request.jsonBytes, msgid: request["msgid"]!.stringValue!)
        }
        func bodies(_ records: [KafkaConsumerMessage]) throws -> [JSONValue] { try records.map { try JSONValue.parse($0.value ?? []) } }

        // Claim approved; the same msgid again (a retry) gets the same reply and pays nothing more.
        try await send(Self.claim("K1"))
        try await send(Self.claim("K1"))
        var got = try await kafka.read(replies, count: 2)
        XCTAssertEqual(got.map { $0.headers.string("medbus-correlation-id") }, ["m-K1-claim", "m-K1-claim"])
        XCTAssertEqual(try bodies(got).map { $0["approvedAmount"]?.moneyValue }, [Money(yuan: "400"), Money(yuan: "400")])
        XCTAssertEqual(Set(got.map(\.keyString)), ["S-1"])
        var paid = await simulator.paidThisYear(psnNo: "P1")
        XCTAssertEqual(paid, Money(yuan: "400"))

        // Decline fault.
        faults.replace(with: [try SimulatorFault(parsing: "claim:decline=not covered@1")])
        try await send(Self.claim("K2", psnNo: "P2"), key: "S-2")
        got = try await kafka.read(replies, count: 1)
        XCTAssertEqual(try bodies(got).first?["status"]?.stringValue, "declined")
        XCTAssertEqual(try bodies(got).first?["reason"]?.stringValue, "not covered")

        // Reversal of K1.
        try await send(Self.claim("K1", type: "reversal"))
        got = try await kafka.read(replies, count: 1)
        XCTAssertEqual(try bodies(got).first?["status"]?.stringValue, "reversed")
        paid = await simulator.paidThisYear(psnNo: "P1")
        XCTAssertEqual(paid, .zero)

        // Duplicate reply, then out of order: K4's reply comes after K5's.
        faults.replace(with: [try SimulatorFault(parsing: "claim:duplicate@1")])
        try await send(Self.claim("K3", psnNo: "P3"), key: "S-3")
        got = try await kafka.read(replies, count: 2)
        XCTAssertEqual(got.map { $0.headers.string("medbus-correlation-id") }, ["m-K3-claim", "m-K3-claim"])
        faults.replace(with: [try SimulatorFault(parsing: "claim:out-of-order@1")])
        try await send(Self.claim("K4", psnNo: "P4"), key: "S-4")
        try await Task.sleep(for: .milliseconds(300))
        try await send(Self.claim("K5", psnNo: "P4"), key: "S-4")
        got = try await kafka.read(replies, count: 2)
        XCTAssertEqual(got.map { $0.headers.string("medbus-correlation-id") }, ["m-K5-claim", "m-K4-claim"])

        // Dropped: no reply at all, nothing recorded.
        faults.replace(with: [try SimulatorFault(parsing: "drop@1")])
        try await send(Self.claim("K6", psnNo: "P6"), key: "S-6")
        try await send(Self.claim("K7", psnNo: "P7"), key: "S-6")
        got = try await kafka.read(replies, count: 1)
        XCTAssertEqual(got.map { $0.headers.string("medbus-correlation-id") }, ["m-K7-claim"])
        let claims = await simulator.claims
        XCTAssertNil(claims["K6"])

        await simulator.shutdown()
        try await running.value
        await replies.close()
    }
}
