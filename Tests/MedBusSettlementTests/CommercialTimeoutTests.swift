import Foundation
import MedBusCore
import MedBusInsurers
import MedBusKafka
@testable import MedBusSettlement
import XCTest

/// The commercial claim gets no answer within `maxAttempts`: the insurer may still have approved
/// it (only its reply was lost or is late), so the saga reverses the claim before the visit
/// completes with the patient paying that share — never a share paid by both. Run against the
/// reference commercial insurer (`CommercialInsurerSimulator`, real claim book) with injected
/// faults; the basic platform is the test responder.
final class CommercialTimeoutTests: XCTestCase {
    /// Every claim send is approved and recorded, but no reply comes back: the reversal gives the
    /// approved amount back, the book shows the claim reversed and nothing paid this year.
    func testApprovedClaimWithLostRepliesIsReversed() async throws {
        let run = try await GiveUpRun(batch: "CB-LOST", faults: ["claim:drop-after"], replies: 1)
        let claim = try XCTUnwrap(run.book[run.claimId], "the insurer recorded the claim")
        XCTAssertGreaterThan(claim.approved, .zero, "the insurer had approved a share")
        XCTAssertTrue(claim.reversed)
        XCTAssertEqual(claim.claimMsgids.count, 1, "every claim send reused one msgid")
        XCTAssertEqual(run.paidThisYear, .zero)
        XCTAssertEqual(Set(run.replies.map { $0["status"]?.stringValue }), ["reversed"])
        XCTAssertEqual(run.replies.first?["approvedAmount"]?.moneyValue, claim.approved)
        await run.stop()
    }

    /// The claim never reached the insurer: the reversal is answered `reversed` with 0.00
    /// ("nothing to reverse"), and the visit completes the same way.
    func testClaimThatNeverArrivedIsReversedAsNothing() async throws {
        let run = try await GiveUpRun(batch: "CB-NEVER", faults: ["claim:drop"], replies: 1)
        XCTAssertTrue(run.book.isEmpty, "no claim reached the insurer")
        XCTAssertEqual(Set(run.replies.map { $0["status"]?.stringValue }), ["reversed"])
        XCTAssertEqual(run.replies.first?["approvedAmount"]?.moneyValue, .zero)
        XCTAssertEqual(run.replies.first?["reason"]?.stringValue, "nothing to reverse")
        await run.stop()
    }

    /// The first claim's approval is held back and produced right after the reversal's reply: the
    /// late approval changes nothing (state, result, history, queued claim).
    func testLateApprovalAfterReversalIsIgnored() async throws {
        let run = try await GiveUpRun(batch: "CB-LATE", faults: ["claim:out-of-order@1", "claim:drop-after"], replies: 2)
        // Re-sent reversals (same msgid) are answered again; the approval follows the first answer.
        XCTAssertEqual(Array(run.replies.map { $0["status"]?.stringValue }.prefix(2)), ["reversed", "approved"])
        XCTAssertGreaterThan(run.replies[1]["approvedAmount"]?.moneyValue ?? .zero, .zero)
        try await Task.sleep(for: .seconds(2))
        let after = try await run.orchestrator.status(run.id)
        XCTAssertEqual(after.state, .completed)
        XCTAssertEqual(after.result?.commercial?.approvedAmount, .zero)
        XCTAssertEqual(after.result?.patientPayable, run.result.patientPayable)
        let history = try await run.orchestrator.history(run.id)
        XCTAssertEqual(history.filter { $0.to == .completed }.count, 1)
        XCTAssertEqual(try XCTUnwrap(run.book[run.claimId]).reversed, true)
        await run.stop()
    }
}

/// One commercial settlement whose claim goes unanswered under `faults`, run to completion, with
/// the checks every give-up path shares: patient pays the share, one result and one claim queued
/// (reason `timeout`, schema-valid), the reversal committed and sent (one msgid, however often)
/// only after the last claim send.
private struct GiveUpRun {
    let cluster: EmbeddedKafkaCluster
    let orchestrator: SettlementOrchestrator
    let id: String
    let claimId: String
    let result: SettlementResult
    let book: [String: CommercialClaimBook.Claim]
    let paidThisYear: Money
    /// The commercial insurer's replies, in the order produced.
    let replies: [JSONValue]
    private let responder: InsurerResponder
    private let simulator: CommercialInsurerSimulator
    private let tasks: [Task<Void, any Error>]

    init(batch: String, faults: [String], replies expected: Int, file: StaticString = #filePath, line: UInt = #line) async throws {
        cluster = try makeSettlementCluster()
        responder = try InsurerResponder(config: testConfig(cluster), topics: ["insurer.nhsa.requests"])
        let policy = CommercialPolicy(name: "惠民保", annualDeductible: .zero, ratio: try XCTUnwrap(Ratio("0.8")), annualCap: Money(fen: 10_000_000))
        simulator = try CommercialInsurerSimulator(insurer: insurer, policy: policy, kafka: testConfig(cluster),
                                                   faults: FaultPlan(try faults.map(SimulatorFault.init(parsing:))))
        let simulator = simulator
        let simulatorTask = Task { try await simulator.run() }
        let (orchestrator, orchestratorTask) = try startOrchestrator(cluster, directory: temporaryDirectory(),
                                                                     configuration: testConfiguration(stepTimeout: .seconds(1), maxAttempts: 3))
        self.orchestrator = orchestrator
        tasks = [simulatorTask, orchestratorTask]

        let request = makeRequest(batch, commercial: true)
        id = try await orchestrator.submit(request)
        let status = try await waitFor(orchestrator, id, .completed, file: file, line: line)
        result = try XCTUnwrap(status.result, file: file, line: line)
        let commercial = try XCTUnwrap(result.commercial, file: file, line: line)
        claimId = try XCTUnwrap(commercial.claimId, file: file, line: line)
        let shares = InsurerResponder.shares(request.total)
        XCTAssertEqual(commercial.status, .pending, file: file, line: line)
        XCTAssertEqual(commercial.approvedAmount, .zero, file: file, line: line)
        XCTAssertEqual(commercial.claimQueued, true, file: file, line: line)
        XCTAssertEqual(result.patientPayable, shares.patient, "the patient pays the commercial share", file: file, line: line)
        XCTAssertEqual(result.amount("fund_pay_sumamt") + (result.patientPayable ?? .zero), request.total, file: file, line: line)

        let history = try await orchestrator.history(id)
        let reversal = try XCTUnwrap(history.firstIndex { $0.to == .commercialReversal }, "reversal committed", file: file, line: line)
        XCTAssertEqual(history[reversal].reason, "timeout-claim", file: file, line: line)
        XCTAssertFalse(history[reversal...].contains { $0.to == .commercialClaim }, file: file, line: line)
        XCTAssertEqual(history.last?.to, .completed, file: file, line: line)

        let requestsTopic = "insurer.\(insurer).requests", repliesTopic = "insurer.\(insurer).replies", claimsTopic = "settlement.claims.\(insurer)"
        let records = try await readTopics(cluster, [requestsTopic: 4, repliesTopic: expected, claimsTopic: 1, "settlement.results": 1])
        let sent = try records[requestsTopic, default: []].map { try JSONValue.parse($0.value!) }
        let types = sent.map { $0["type"]?.stringValue ?? "" }
        XCTAssertEqual(Array(types.prefix(4)), ["claim", "claim", "claim", "reversal"], "three claim sends, then the reversal", file: file, line: line)
        XCTAssertEqual(Set(types.dropFirst(3)), ["reversal"], file: file, line: line)
        XCTAssertEqual(Set(sent.prefix(3).map { $0["msgid"]?.stringValue }).count, 1, file: file, line: line)
        XCTAssertEqual(Set(sent.dropFirst(3).map { $0["msgid"]?.stringValue }).count, 1, "a re-sent reversal keeps its msgid", file: file, line: line)
        XCTAssertEqual(sent.last?["claimId"]?.stringValue, claimId, file: file, line: line)
        replies = try records[repliesTopic, default: []].map { try JSONValue.parse($0.value!) }
        XCTAssertEqual(records["settlement.results", default: []].count, 1, file: file, line: line)

        let claims = records[claimsTopic, default: []]
        XCTAssertEqual(claims.count, 1, "claim queued once", file: file, line: line)
        try validate(claims.map { $0.valueString! }, schema: "settlement-claim.schema.json", file: file, line: line)
        XCTAssertEqual(try claims.first.map { try JSONValue.parse($0.value!)["reason"]?.stringValue }, "timeout", file: file, line: line)
        XCTAssertEqual(try claims.first.map { try JSONValue.parse($0.value!)["paidByPatient"]?.moneyValue }, shares.patient, file: file, line: line)

        book = await simulator.claims
        paidThisYear = await simulator.paidThisYear(psnNo: "37000000000000012345")
    }

    func stop() async {
        tasks[1].cancel()
        _ = await tasks[1].result
        await simulator.shutdown()
        _ = await tasks[0].result
        await responder.stop()
    }
}
