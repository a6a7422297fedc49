import Foundation
import MedBusCore

/// The operations of the pharmacy API, named the same over HTTP (`POST /v1/prescriptions/{rxId}/<name>`)
/// and as Kafka commands (`"action": "<name>"`), with the same body fields.
public enum RxOperation: String, Sendable, CaseIterable {
    /// `{pharmacyCode}`: take the prescription; of concurrent claims exactly one wins.
    case claim
    /// `{pharmacyCode}`: give a claim back.
    case release
    /// `{pharmacyCode, decision, rxChkOpnn, pharCode, …}` (see `RxReview`).
    case review
    /// `{pharmacyCode, seltdelts[…], …}` (see `RxDispenseReport`).
    case dispense
    /// `{reason}`: the hospital withdraws the prescription (refused once dispensed).
    case revoke

    /// The request this operation makes of a body (the body's other members, such as a command's
    /// `commandId` and `action`, are removed by the caller).
    func request(_ body: JSONValue, now: Date) throws(RxProblem) -> RxRequest {
        switch self {
        case .claim: .claim(pharmacy: try RequestBody(body, allowed: ["pharmacyCode"]).text("pharmacyCode"))
        case .release: .release(pharmacy: try RequestBody(body, allowed: ["pharmacyCode"]).text("pharmacyCode"))
        case .review: .review(pharmacy: try RequestBody(body, allowed: RxReview.fields).text("pharmacyCode"), try RxReview(body: body, now: now))
        case .dispense:
            .dispense(pharmacy: try RequestBody(body, allowed: RxDispenseReport.fields).text("pharmacyCode"), try RxDispenseReport(body: body, now: now))
        case .revoke: .revoke(reason: try RequestBody(body, allowed: ["reason"]).text("reason"))
        }
    }
}

extension PrescriptionService {
    /// Parses `body` for `operation` and performs it (see `perform(_:on:command:)`); a body that does not parse
    /// is answered with its problem.
    public func perform(_ operation: RxOperation, body: JSONValue, on lookup: Lookup, command: RxCommand? = nil) async -> Answer {
        do {
            return await perform(try operation.request(body, now: clock.now()), on: lookup, command: command)
        } catch {
            return Answer(status: error.kind.httpStatus, body: error.json)
        }
    }
}

/// Makes a request idempotent: the same command id gets the first answer again, whatever is asked the second
/// time (the answer is stored in the transaction of the change it made). Kafka commands also publish every
/// answer on `rx.command-results`, keyed by the id; HTTP `Idempotency-Key`s only replay it.
public struct RxCommand: Sendable {
    public var id: String
    public var publishesResult: Bool

    public static func kafka(_ id: String) -> RxCommand { RxCommand(id: id, publishesResult: true) }
    public static func http(idempotencyKey: String) -> RxCommand { RxCommand(id: idempotencyKey, publishesResult: false) }

    /// Kafka command ids and HTTP keys are chosen by different clients: they never answer for each other.
    var storeKey: String { (publishesResult ? "kafka:" : "http:") + id }

    /// `{commandId, status, rxId, result}` or `{commandId, status, problem}`.
    func result(_ answer: PrescriptionService.Answer) -> JSONValue {
        var members: [(String, JSONValue)] = [("commandId", .string(id)), ("status", .int(answer.status))]
        if answer.status >= 400 {
            members.append(("problem", answer.body))
        } else {
            if let rxID = answer.body["rxId"] { members.append(("rxId", rxID)) }
            members.append(("result", answer.body))
        }
        return .object(members)
    }

    /// The answer a stored result gives again.
    static func answer(fromResult result: JSONValue) -> PrescriptionService.Answer {
        let status = result["status"]?.intValue ?? 200
        return PrescriptionService.Answer(status: status, body: result[status >= 400 ? "problem" : "result"] ?? .null)
    }

    /// The record publishing a result on `rx.command-results`.
    func resultRecord(_ result: JSONValue) -> RxOutboxRecord {
        RxOutboxRecord(topic: RxTopics.commandResults, key: id, value: result.jsonBytes, messageID: "\(id)-result", messageType: "rx.command-result")
    }
}
