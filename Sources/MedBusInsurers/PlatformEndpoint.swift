import Foundation
import Hummingbird
import Logging
import MedBusCore
import NIOCore

/// The platform endpoint: parse the envelope, apply the fault plan, run the transaction.
struct PlatformEndpoint: Sendable {
    let simulator: NHSAPlatformSimulator
    let faults: FaultPlan
    let dropHold: Duration
    let maxBodyBytes: Int
    let logger: Logger

    func handle(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: maxBodyBytes)
        let envelope: PlatformRequest
        do {
            envelope = try PlatformRequest(try JSONValue.parse(Array(buffer: body)))
        } catch {
            let response = PlatformResponse.make(infcode: PlatformResponse.businessError, refmsgid: "", received: Date(), errMsg: "invalid request envelope: \(error)")
            return NHSASimulatorServer.json(response)
        }
        let metadata: Logger.Metadata = ["infno": "\(envelope.infno)", "msgid": "\(envelope.msgid)"]
        let response: JSONValue
        switch faults.take(for: envelope.infno) {
        case nil:
            response = await simulator.handle(envelope)
        case .delay(let ms):
            try await Task.sleep(for: .milliseconds(ms))
            response = await simulator.handle(envelope)
        case .drop:
            logger.info("fault: dropping request unprocessed", metadata: metadata)
            return await hold()
        case .dropAfter:
            _ = await simulator.handle(envelope)
            logger.info("fault: dropping the answer of a processed request", metadata: metadata)
            return await hold()
        case .decline(let reason):
            response = await simulator.refusal(envelope, infcode: PlatformResponse.businessError, message: reason)
        case .systemError:
            response = await simulator.refusal(envelope, infcode: PlatformResponse.systemError, message: "系统异常 (simulated system error, nothing recorded)")
        case .systemErrorAfter:
            response = await simulator.handle(envelope, failAfterRecording: true)
        case .duplicate, .outOfOrder:
            // Kafka-side faults; over HTTP there is one answer per request.
            response = await simulator.handle(envelope)
        }
        logger.debug("answered", metadata: metadata.merging(["infcode": "\(PlatformResponse.infcode(of: response) ?? 0)"]) { $1 })
        return NHSASimulatorServer.json(response)
    }

    /// No answer within any sensible client timeout.
    private func hold() async -> Response {
        try? await Task.sleep(for: dropHold)
        return Response(status: .serviceUnavailable)
    }
}
