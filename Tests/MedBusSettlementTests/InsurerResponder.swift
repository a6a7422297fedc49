import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusSettlement

/// The insurer side for tests: consumes `insurer.nhsa.requests` and commercial
/// `insurer.<id>.requests` and answers per a script, keeping a ledger of what it settled.
///
/// Its basic shares are a fixed split of the total in integer fen (pooling 60 %, serious illness
/// 5 %, assistance 2 %, the rest the patient's), so a test can recompute them independently. The
/// same msgid gets the same answer (as the contract requires of insurers).
actor InsurerResponder {
    /// What to do with one request.
    enum Action: Sendable {
        case answer
        /// Process it (a 2207 settles) but send no reply.
        case processSilently
        case drop
        case reply(infcode: Int, errMsg: String)
        /// Answer twice (duplicate reply).
        case answerTwice
        case declineClaim(String)
    }

    typealias Script = @Sendable (_ step: String, _ attempt: Int, _ round: Int) -> Action

    private var script: Script
    private let producer: KafkaProducer
    private var task: Task<Void, Never>?
    private var consumer: KafkaConsumer?
    /// Every request seen: step (infno or claim/reversal), msgid.
    private(set) var received: [(step: String, msgid: String)] = []
    /// msgid → reply already given (a retry with the same msgid gets it again).
    private var answered: [String: String] = [:]
    /// setl_id by 2207 msgid, for settlements in force (reversed and cancelled ones removed).
    private(set) var settlements: [String: String] = [:]
    private(set) var settledEver = 0
    private(set) var claims: [String: String] = [:]
    private var sent: [String: Int] = [:]
    private var rounds: [String: Int] = [:]
    private var sequence = 0

    init(config: KafkaConfig, topics: [String], script: @escaping Script = { _, _, _ in .answer }) throws {
        self.script = script
        producer = try KafkaProducer(config: config)
        let consumer = try KafkaConsumer(config: config, groupID: "responder-\(UUID().uuidString.prefix(8))", topics: topics)
        self.consumer = consumer
        let me = self
        Task { await me.start(consumer) }
    }

    private func start(_ consumer: KafkaConsumer) {
        task = Task {
            while !Task.isCancelled {
                guard let batch = try? await consumer.nextBatch(maxCount: 100), !batch.isEmpty else { return }
                for message in batch { await self.handle(message) }
            }
        }
    }

    func setScript(_ script: @escaping Script) { self.script = script }

    func stop() async {
        task?.cancel()
        await consumer?.close()
        await producer.shutdown()
    }

    /// Settlements in force now.
    var activeSettlements: Int { settlements.count }

    func count(_ step: String) -> Int { received.filter { $0.step == step }.count }

    private func handle(_ message: KafkaConsumerMessage) async {
        guard let body = try? JSONValue.parse(message.value ?? []) else { return }
        let commercial = message.topic != "insurer.nhsa.requests"
        let msgid = body["msgid"]?.stringValue ?? ""
        let step = commercial ? (body["type"]?.stringValue ?? "claim") : (body["infno"]?.stringValue ?? "")
        received.append((step, msgid))
        sent[msgid, default: 0] += 1
        let settlementID = message.keyString ?? ""
        if sent[msgid] == 1 { rounds["\(settlementID)/\(step)", default: 0] += 1 }
        let action = script(step, sent[msgid]!, rounds["\(settlementID)/\(step)"]!)
        if case .drop = action { return }
        let replyBody: String
        if let previous = answered[msgid] {
            replyBody = previous
        } else {
            switch action {
            case .reply(let infcode, let errMsg):
                replyBody = JSONValue.object(["infcode": .int(infcode), "err_msg": .string(errMsg), "output": .object([:])]).jsonText
            case .declineClaim(let reason):
                replyBody = JSONValue.object(["msgid": .string(msgid), "claimId": body["claimId"] ?? .null, "status": .string("declined"),
                                              "approvedAmount": .money(.zero), "reason": .string(reason)]).jsonText
            default:
                replyBody = commercial ? claimReply(body, msgid: msgid) : platformReply(step, body: body, msgid: msgid)
            }
            answered[msgid] = replyBody
        }
        if case .processSilently = action { return }
        let replyTopic = message.topic.replacingOccurrences(of: ".requests", with: ".replies")
        let reply = KafkaProducerMessage(topic: replyTopic, key: message.keyString, value: replyBody,
                                         headers: [KafkaHeader(key: "medbus-correlation-id", string: msgid)])
        _ = try? await producer.send(reply)
        if case .answerTwice = action { _ = try? await producer.send(reply) }
    }

    /// The platform's answer, with the ledger kept.
    private func platformReply(_ infno: String, body: JSONValue, msgid: String) -> String {
        let data = body["input"]?["data"] ?? .object([:])
        var output: JSONValue = .object([:])
        switch infno {
        case "1101":
            output = .object(["baseinfo": .object(["psn_no": .string("37000000000000012345"), "psn_name": .string("测试"), "certno": .string("X")]),
                              "insuinfo": .array([.object(["insutype": .string("390"), "insuplc_admdvs": .string("370105")])])])
        case "2206", "2207":
            let total = data["medfee_sumamt"]?.moneyValue ?? .zero
            let shares = Self.shares(total)
            var setlinfo: [String: JSONValue] = [
                "mdtrt_id": data["mdtrt_id"] ?? .string("MDT"), "medfee_sumamt": .money(total), "hifp_pay": .money(shares.hifp),
                "hifmi_pay": .money(shares.hifmi), "maf_pay": .money(shares.maf), "fund_pay_sumamt": .money(shares.funds),
                "psn_part_amt": .money(shares.patient), "acct_pay": .money(.zero), "psn_cash_pay": .money(shares.patient),
                "hosp_part_amt": .money(.zero), "fulamt_ownpay_amt": .money(.zero), "overlmt_selfpay": .money(.zero),
                "preselfpay_amt": .money(.zero), "inscp_scp_amt": .money(total), "insutype": data["insutype"] ?? .null, "balc": .money(.zero),
            ]
            if infno == "2207" {
                sequence += 1
                let setlID = "SETL\(sequence)"
                setlinfo["setl_id"] = .string(setlID)
                settlements[msgid] = setlID
                settledEver += 1
            } else {
                setlinfo["setl_id"] = .string("PRE")
            }
            output = .object(["setlinfo": .object(setlinfo), "setldetail": .array([
                .object(["fund_pay_type": .string("390100"), "fund_payamt": .money(shares.hifp)]),
                .object(["fund_pay_type": .string("390200"), "fund_payamt": .money(shares.hifmi)]),
                .object(["fund_pay_type": .string("610100"), "fund_payamt": .money(shares.maf)]),
            ])])
        case "2601":
            if let original = data["omsgid"]?.stringValue { settlements[original] = nil }
        case "2208":
            let setlID = data["setl_id"]?.stringValue
            if let key = settlements.first(where: { $0.value == setlID })?.key { settlements[key] = nil }
        default:
            break
        }
        return JSONValue.object(["infcode": .int(0), "inf_refmsgid": .string("370102" + msgid.suffix(18)), "err_msg": .null, "output": output]).jsonText
    }

    /// Commercial: approves half the claimed amount (rounded down to the fen).
    private func claimReply(_ body: JSONValue, msgid: String) -> String {
        let claimID = body["claimId"]?.stringValue ?? ""
        if body["type"]?.stringValue == "reversal" {
            claims[claimID] = nil
            return JSONValue.object(["msgid": .string(msgid), "claimId": .string(claimID), "status": .string("reversed"), "approvedAmount": .money(.zero)]).jsonText
        }
        let claimed = body["claimedAmount"]?.moneyValue ?? .zero
        let approved = Money(fen: claimed.fen / 2)
        claims[claimID] = approved.description
        return JSONValue.object(["msgid": .string(msgid), "claimId": .string(claimID), "status": .string("approved"), "approvedAmount": .money(approved)]).jsonText
    }

    /// The test's own share computation, integer fen.
    static func shares(_ total: Money) -> (hifp: Money, hifmi: Money, maf: Money, funds: Money, patient: Money) {
        let hifp = Money(fen: total.fen * 60 / 100)
        let hifmi = Money(fen: total.fen * 5 / 100)
        let maf = Money(fen: total.fen * 2 / 100)
        let funds = hifp + hifmi + maf
        return (hifp, hifmi, maf, funds, total - funds)
    }
}
