import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// The saga's decisions: which request comes next, what a reply or a timeout means.
///
/// Owned by one `SagaWorker` task, never shared. Every change of the record is committed to the
/// saga log before the message it leads to is sent, so after a crash the log says exactly which
/// request may be outstanding, and the new process re-sends those same bytes (same msgid).
final class SagaDriver {
    private(set) var saga: SagaRecord
    private let context: SagaContext
    private let registry: SagaRegistry
    private let logger: Logger
    private var timer: Task<Void, Never>?

    private var configuration: SettlementConfiguration { context.configuration }

    init(saga: SagaRecord, context: SagaContext, registry: SagaRegistry, logger: Logger) {
        self.saga = saga
        self.context = context
        self.registry = registry
        self.logger = logger
    }

    /// Handles one event. A failure of the saga log leaves the record as last committed and tries
    /// again from there after a step timeout.
    func handle(_ event: SagaEvent) async {
        do {
            switch event {
            case .start:
                try await resume()
            case .reply(let msgid, let body):
                guard let pending = saga.pending, pending.msgid == msgid else {
                    logger.debug("reply ignored: not the outstanding request", metadata: ["msgid": "\(msgid)", "state": "\(saga.state.rawValue)"])
                    return
                }
                try await apply(body, to: pending)
            case .timeout(let msgid, let attempt):
                guard let pending = saga.pending, pending.msgid == msgid, pending.attempt == attempt else { return }
                guard context.replies.readable(for: configuration.stepTimeout) else {
                    arm(event, after: configuration.stepTimeout)
                    return
                }
                try await timedOut(pending)
            case .cancel(let waiter):
                do {
                    try await cancel()
                    waiter.resume(returning: saga)
                } catch {
                    waiter.resume(throwing: error)
                }
            }
        } catch {
            // Shutdown interrupts a write: the next process resumes from the last commit.
            if Task.isCancelled { return }
            logger.error("saga step failed; retrying from the last committed state", metadata: ["state": "\(saga.state.rawValue)", "error": "\(error)"])
            if let committed = try? await context.store.load(id: saga.id) { saga = committed }
            arm(.start, after: configuration.stepTimeout)
        }
    }

    func cancelTimer() { timer?.cancel() }

    // MARK: - Starting and resuming

    private func resume() async throws {
        if let pending = saga.pending {
            logger.info("re-sending outstanding request", metadata: ["step": "\(pending.step.rawValue)", "msgid": "\(pending.msgid)"])
            await send(pending)
        } else if saga.state == .received {
            try await begin(.personLookup)
        } else if saga.state.isTerminal {
            if !saga.outputsPublished { try await publishOutputs() }
        } else if let next = saga.compensation.first {
            try await begin(next)
        }
    }

    /// Commits the move to `step` with a new msgid, then sends its request.
    private func begin(_ step: SagaStep, reason: String? = nil) async throws {
        let now = context.now()
        let msgid = try await context.store.nextMessageID(fixmedinsCode: saga.request.fixmedinsCode, at: now)
        let (topic, payload) = try request(for: step, msgid: msgid, at: now)
        let from = saga.state
        if step == .settlement { saga.settlementRounds += 1 }
        saga.state = step.state
        saga.pending = .init(step: step, msgid: msgid, topic: topic, payload: payload.jsonText, attempt: 1)
        saga.msgids[step.rawValue, default: []].append(msgid)
        saga.updatedAt = now
        try await context.store.commit(saga, from: from, reason: reason, newRequest: true)
        await send(saga.pending!)
    }

    /// The topic and body of `step`'s request.
    private func request(for step: SagaStep, msgid: String, at date: Date) throws -> (String, JSONValue) {
        switch step {
        case .commercialClaim, .commercialReversal:
            guard let leg = saga.commercial else { throw SettlementError.invalidRequest("commercial step without a commercial leg") }
            let body = CommercialMessages.request(type: step == .commercialClaim ? "claim" : "reversal", msgid: msgid,
                                                  claimId: leg.claimId, saga: saga, claimed: leg.claimed)
            return (SagaContext.commercialRequests(leg.insurerCode), body)
        default:
            let input = PlatformMessages.input(for: step, saga: saga)
            return (SagaContext.platformRequests,
                    PlatformMessages.request(infno: PlatformMessages.infno(of: step, for: saga), msgid: msgid, input: input, saga: saga,
                                             platform: configuration.platform, at: date))
        }
    }

    /// Sends the outstanding request and arms its timeout. A failed send is left to the timeout.
    private func send(_ pending: SagaRecord.PendingRequest) async {
        let headers = [
            KafkaHeader(key: MessageEnvelope.Header.id, string: pending.msgid),
            KafkaHeader(key: SagaContext.settlementIDHeader, string: saga.id),
            KafkaHeader(key: MessageEnvelope.Header.messageType, string: PlatformMessages.infno(of: pending.step, for: saga)),
            KafkaHeader(key: MessageEnvelope.Header.contentType, string: "application/json"),
        ]
        do {
            try await context.producer.send(KafkaProducerMessage(topic: pending.topic, key: saga.id, value: pending.payload, headers: headers))
            logger.debug("request sent", metadata: ["step": "\(pending.step.rawValue)", "msgid": "\(pending.msgid)", "attempt": "\(pending.attempt)"])
        } catch {
            logger.warning("request not sent; will retry", metadata: ["step": "\(pending.step.rawValue)", "msgid": "\(pending.msgid)", "error": "\(error)"])
        }
        arm(.timeout(msgid: pending.msgid, attempt: pending.attempt), after: timeout(for: pending))
    }

    /// Compensation steps back off (up to 8 timeouts) because they retry without limit.
    private func timeout(for pending: SagaRecord.PendingRequest) -> Duration {
        guard pending.step.isCompensation else { return configuration.stepTimeout }
        return configuration.stepTimeout * min(1 << min(pending.attempt - 1, 3), 8)
    }

    private func arm(_ event: SagaEvent, after delay: Duration) {
        timer?.cancel()
        let registry = self.registry
        let id = saga.id
        timer = Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await registry.deliver(id, event)
        }
    }

    /// Sends the same request again (same msgid), counting the attempt in the log first.
    private func resend(_ pending: SagaRecord.PendingRequest, reason: String) async throws {
        saga.pending?.attempt = pending.attempt + 1
        saga.updatedAt = context.now()
        try await context.store.commit(saga, from: saga.state, reason: reason)
        await send(saga.pending!)
    }

    // MARK: - Timeouts

    private func timedOut(_ pending: SagaRecord.PendingRequest) async throws {
        logger.info("step timed out", metadata: ["step": "\(pending.step.rawValue)", "msgid": "\(pending.msgid)", "attempt": "\(pending.attempt)"])
        switch pending.step {
        case .settlement:
            // The platform may have settled: reverse before trying again, never settle twice.
            try await reverse(pending, reason: "timeout-\(PlatformMessages.infno(of: pending.step, for: saga))")
        case .commercialClaim where configuration.commercialFallback == .queueClaim && pending.attempt >= configuration.maxAttempts:
            // The insurer may have approved and only its reply was lost or is late: reverse the
            // claim before the patient pays its share, or the share would be paid twice.
            try await begin(.commercialReversal, reason: "timeout-claim")
        case _ where pending.step.isCompensation || pending.step == .commercialClaim:
            try await resend(pending, reason: "retry")
        default:
            if pending.attempt < configuration.maxAttempts {
                try await resend(pending, reason: "retry")
            } else {
                try await fail("timeout-\(PlatformMessages.infno(of: pending.step, for: saga))", errMsg: nil)
            }
        }
    }

    // MARK: - Replies

    private func apply(_ body: JSONValue, to pending: SagaRecord.PendingRequest) async throws {
        if pending.step.isCommercial {
            try await applyCommercial(try CommercialMessages.Reply(body), to: pending)
            return
        }
        let reply = try PlatformMessages.Reply(body)
        logger.debug("reply", metadata: ["step": "\(pending.step.rawValue)", "msgid": "\(pending.msgid)", "infcode": "\(reply.infcode)"])
        if reply.infcode == -1 {
            // System-level failure: the outcome is unknown.
            if pending.step == .settlement {
                try await reverse(pending, reason: "infcode-1-\(PlatformMessages.infno(of: pending.step, for: saga))")
            } else if pending.step.isCompensation || pending.attempt < configuration.maxAttempts {
                arm(.timeout(msgid: pending.msgid, attempt: pending.attempt), after: configuration.retryDelay)
            } else {
                try await fail("platform-error-\(PlatformMessages.infno(of: pending.step, for: saga))", errMsg: reply.errMsg)
            }
            return
        }
        if pending.step.isCompensation || pending.step == .reversal {
            try await compensationDone(pending.step, reply: reply)
            return
        }
        guard reply.infcode == 0 else {
            try await fail("rejected-\(PlatformMessages.infno(of: pending.step, for: saga))", errMsg: reply.errMsg)
            return
        }
        switch pending.step {
        case .personLookup:
            saga.person = Self.person(from: reply.output, insutype: saga.request.insutype)
            if saga.request.mdtrtId == nil {
                try await begin(saga.request.isInpatient ? .admission : .registration)
            } else {
                try await begin(.feeUpload)
            }
        case .registration, .admission:
            let registered = reply.output["data"] ?? reply.output["result"] ?? reply.output
            guard let mdtrtId = registered["mdtrt_id"]?.stringValue, !mdtrtId.isEmpty else {
                try await fail("registration-without-mdtrt_id", errMsg: nil)
                return
            }
            saga.registeredMdtrtId = mdtrtId
            try await begin(.feeUpload)
        case .feeUpload:
            try await begin(.preSettlement)
        case .preSettlement:
            saga.preSettlement = reply.output
            try await begin(.settlement)
        case .settlement:
            try await settled(reply.output)
        default:
            break
        }
    }

    /// 1101 output: the person number, and the insurance the visit uses.
    private static func person(from output: JSONValue, insutype: String?) -> SagaRecord.Person {
        let base = output["baseinfo"] ?? .object([:])
        let insurances = output["insuinfo"]?.arrayValue ?? []
        let insurance = insurances.first { insutype != nil && $0["insutype"]?.stringValue == insutype } ?? insurances.first
        return SagaRecord.Person(
            psnNo: base["psn_no"]?.stringValue, insutype: insurance?["insutype"]?.stringValue ?? insutype,
            insuplcAdmdvs: insurance?["insuplc_admdvs"]?.stringValue, psnName: base["psn_name"]?.stringValue,
            certno: base["certno"]?.stringValue)
    }

    /// 2207 succeeded: check the basic shares, then the commercial leg or completion.
    private func settled(_ output: JSONValue) async throws {
        saga.settlement = output
        saga.reversalTarget = nil
        let setlinfo = output["setlinfo"] ?? .object([:])
        guard ShareCheck(setlinfo: setlinfo, commercialApproved: .zero).addsUp(to: saga.request.total) else {
            try await fail("shares-do-not-add-up", errMsg: nil)
            return
        }
        if let policy = saga.request.commercial {
            let owed = setlinfo["psn_cash_pay"]?.moneyValue ?? setlinfo["psn_part_amt"]?.moneyValue ?? .zero
            saga.commercial = .init(insurerCode: policy.insurerCode, claimId: "\(saga.id)-claim", claimed: owed)
            if owed > .zero {
                try await begin(.commercialClaim)
                return
            }
            saga.commercial?.status = .approved
        }
        try await complete()
    }

    private func applyCommercial(_ reply: CommercialMessages.Reply, to pending: SagaRecord.PendingRequest) async throws {
        logger.debug("commercial reply", metadata: ["step": "\(pending.step.rawValue)", "msgid": "\(pending.msgid)", "status": "\(reply.status.rawValue)"])
        if pending.step == .commercialReversal && saga.ending == nil {
            try await unansweredClaimReversed(reply, pending: pending)
            return
        }
        if pending.step == .commercialReversal {
            saga.commercial?.status = .cancelled
            try await compensationDone(.commercialReversal, reply: nil)
            return
        }
        guard let claimed = saga.commercial?.claimed else { return }
        switch reply.status {
        case .approved where reply.approvedAmount >= .zero && reply.approvedAmount <= claimed:
            saga.commercial?.approved = reply.approvedAmount
            saga.commercial?.status = reply.approvedAmount == claimed ? .approved : .partiallyApproved
            try await complete()
        case .approved:
            try await commercialUnavailable(reason: "declined", insurerReason: "approvedAmount-outside-claim")
        case .declined:
            try await commercialUnavailable(reason: "declined", insurerReason: reply.reason)
        case .reversed:
            logger.warning("unexpected reversal reply to a claim", metadata: ["msgid": "\(pending.msgid)"])
        }
    }

    /// The reversal sent after the last claim timeout (no `ending`: not a cancel or a failure) is
    /// answered. `reversed` (with 0.00 when the claim never arrived) means the insurer's book holds
    /// nothing for this visit, so the patient pays the share; a late approval of the claim's msgid
    /// is ignored from here on (it is no longer the outstanding request). Any other answer is no
    /// proof: the same reversal is sent again after the compensation back-off.
    private func unansweredClaimReversed(_ reply: CommercialMessages.Reply, pending: SagaRecord.PendingRequest) async throws {
        guard reply.status == .reversed else {
            logger.warning("claim reversal not confirmed; will re-send", metadata: ["msgid": "\(pending.msgid)", "status": "\(reply.status.rawValue)"])
            arm(.timeout(msgid: pending.msgid, attempt: pending.attempt), after: timeout(for: pending))
            return
        }
        logger.info("unanswered claim reversed", metadata: ["msgid": "\(pending.msgid)", "reversedAmount": "\(reply.approvedAmount)"])
        try await commercialUnavailable(reason: "timeout", insurerReason: nil)
    }

    /// The insurer declined or did not answer: the patient pays its share now, and a claim is
    /// queued on `settlement.claims.<insurer>` for reimbursement.
    private func commercialUnavailable(reason: String, insurerReason: String?) async throws {
        guard var leg = saga.commercial else { return }
        leg.approved = .zero
        leg.status = reason == "declined" ? .rejected : .pending
        leg.rejectReason = insurerReason ?? reason
        leg.claimQueued = true
        saga.commercial = leg
        saga.claimRecord = CommercialMessages.claimRecord(saga: saga, insurer: leg.insurerCode, claimId: leg.claimId, claimed: leg.claimed,
                                                          reason: reason, insurerReason: insurerReason, at: context.now())
        try await complete()
    }

    // MARK: - Unknown outcome of 2207

    /// Commits and sends a 2601 reversal naming the 2207 whose outcome is unknown.
    private func reverse(_ pending: SagaRecord.PendingRequest, reason: String) async throws {
        saga.reversalTarget = .init(msgid: pending.msgid, infno: PlatformMessages.infno(of: pending.step, for: saga))
        try await begin(.reversal, reason: reason)
    }

    // MARK: - Compensation, failure, cancellation

    /// A compensation step (or the 2601 reversal) has its answer. A business error means there was
    /// nothing to undo (the original never took effect), except a refused 2208 during a cancel.
    private func compensationDone(_ step: SagaStep, reply: PlatformMessages.Reply?) async throws {
        switch step {
        case .reversal:
            saga.reversalTarget = nil
            if saga.settlementRounds < configuration.maxSettlementRounds {
                try await begin(.settlement, reason: "reversed")
            } else {
                try await fail("settlement-outcome-unknown", errMsg: nil)
            }
            return
        case .settlementCancel where saga.ending == .cancelled && (reply?.infcode ?? 0) != 0:
            // The platform refused to cancel: the settlement stands.
            let from = saga.state
            saga.state = .completed
            saga.pending = nil
            saga.compensation = []
            saga.ending = nil
            saga.updatedAt = context.now()
            try await context.store.commit(saga, from: from, reason: "cancel-refused")
            return
        default:
            if !saga.compensation.isEmpty { saga.compensation.removeFirst() }
            try await continueCompensation()
        }
    }

    /// Decides what must be undone, then fails.
    private func fail(_ reason: String, errMsg: String?) async throws {
        logger.info("settlement failing", metadata: ["reason": "\(reason)", "state": "\(saga.state.rawValue)"])
        saga.failureReason = reason
        saga.errMsg = errMsg
        saga.ending = .failed
        var undo: [SagaStep] = []
        if saga.settlement != nil { undo.append(.settlementCancel) }
        if (saga.commercial?.approved ?? .zero) > .zero { undo.append(.commercialReversal) }
        if saga.msgids[SagaStep.feeUpload.rawValue] != nil { undo.append(.feeUploadCancel) }
        // A visit MedBus registered is cancelled last (its fee lines first).
        if saga.registeredMdtrtId != nil { undo.append(saga.request.isInpatient ? .admissionCancel : .registrationCancel) }
        saga.compensation = undo
        try await continueCompensation()
    }

    private func cancel() async throws {
        switch saga.state {
        case .completed:
            saga.ending = .cancelled
            saga.compensation = [.settlementCancel] + ((saga.commercial?.approved ?? .zero) > .zero ? [.commercialReversal] : [])
            try await begin(saga.compensation[0], reason: "cancel")
        case .cancelled:
            return
        case .settlementCancel where saga.ending == .cancelled, .commercialReversal where saga.ending == .cancelled:
            return
        default:
            throw SettlementError.notCancellable(id: saga.id, state: saga.state)
        }
    }

    private func continueCompensation() async throws {
        if let next = saga.compensation.first {
            try await begin(next, reason: saga.failureReason)
        } else {
            try await end()
        }
    }

    // MARK: - Results

    /// Builds the result, checks the shares once more, commits, publishes.
    private func complete() async throws {
        let setlinfo = (saga.settlement?["setlinfo"] ?? .object([:])).keeping(SettlementResult.setlinfoFields)
        let check = ShareCheck(setlinfo: setlinfo, commercialApproved: saga.commercial?.approved ?? .zero)
        guard check.addsUp(to: saga.request.total) else {
            try await fail("shares-do-not-add-up", errMsg: nil)
            return
        }
        var result = SettlementResult(settlementId: saga.id, request: saga.request, status: .settled)
        result.setlinfo = setlinfo
        result.setldetail = (saga.settlement?["setldetail"]?.arrayValue ?? []).map { $0.keeping(SettlementResult.setldetailFields) }
        result.commercial = saga.commercial.map(Self.commercialResult)
        result.patientPayable = check.patientCash
        try await finish(.completed, result: result)
    }

    private func end() async throws {
        let ending = saga.ending ?? .failed
        var result = SettlementResult(settlementId: saga.id, request: saga.request, status: ending == .cancelled ? .cancelled : .failed)
        if ending == .failed {
            result.failureReason = saga.failureReason
            result.errMsg = saga.errMsg
        } else {
            result.setlinfo = saga.result?.setlinfo
            result.setldetail = saga.result?.setldetail
            result.commercial = saga.commercial.map(Self.commercialResult)
        }
        saga.claimRecord = nil
        try await finish(ending == .cancelled ? .cancelled : .failed, result: result)
    }

    private static func commercialResult(_ leg: SagaRecord.CommercialLeg) -> SettlementResult.Commercial {
        SettlementResult.Commercial(insurerCode: leg.insurerCode, claimId: leg.claimId, status: leg.status, claimedAmount: leg.claimed,
                                    approvedAmount: leg.approved, rejectReason: leg.rejectReason, claimQueued: leg.claimQueued)
    }

    private func finish(_ state: SettlementState, result: SettlementResult) async throws {
        var result = result
        let now = context.now()
        result.completedAt = now.formatted(.iso8601)
        let from = saga.state
        saga.state = state
        saga.pending = nil
        saga.compensation = []
        saga.result = result
        saga.outputsPublished = false
        saga.updatedAt = now
        timer?.cancel()
        try await context.store.commit(saga, from: from, reason: state == .failed ? saga.failureReason : nil)
        logger.info("settlement finished", metadata: ["state": "\(state.rawValue)"])
        await context.finished.signal(saga.id, true)
        try await publishOutputs()
    }

    /// Publishes the committed result (and queued claim), then records that they are out. A crash
    /// in between publishes them again on restart: consumers key on the settlement id.
    private func publishOutputs() async throws {
        guard let result = saga.result else { return }
        var messages = [KafkaProducerMessage(topic: SagaContext.resultsTopic, key: saga.id, value: result.jsonValue.jsonText, headers: [
            KafkaHeader(key: MessageEnvelope.Header.id, string: "\(saga.id)-\(result.status.rawValue)"),
            KafkaHeader(key: SagaContext.settlementIDHeader, string: saga.id),
            KafkaHeader(key: MessageEnvelope.Header.contentType, string: "application/json"),
        ])]
        if let claim = saga.claimRecord, let insurer = saga.commercial?.insurerCode {
            messages.append(KafkaProducerMessage(topic: SagaContext.claims(insurer), key: saga.id, value: claim.jsonText, headers: [
                KafkaHeader(key: MessageEnvelope.Header.id, string: saga.commercial?.claimId ?? saga.id),
                KafkaHeader(key: SagaContext.settlementIDHeader, string: saga.id),
                KafkaHeader(key: MessageEnvelope.Header.contentType, string: "application/json"),
            ]))
        }
        let reports = try await context.producer.sendBatch(messages)
        if let error = reports.compactMap(\.error).first {
            logger.warning("result not published; will retry", metadata: ["error": "\(error)"])
            arm(.start, after: configuration.stepTimeout)
            return
        }
        saga.outputsPublished = true
        try await context.store.commit(saga, from: saga.state)
    }
}
