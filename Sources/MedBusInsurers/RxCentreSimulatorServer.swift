import Foundation
import Hummingbird
import Logging
import MedBusCore
import MedBusCrypto
import MedBusHTTPServer
import MedBusRxCentre

/// `medbus simulate rx-centre`: the simulated insurance e-prescription centre over HTTP.
///
/// Routes: `POST /fixmedins/uploadChk`, `/fixmedins/rxFileUpld`, `/fixmedins/rxUndo` take and
/// answer `RxCentreEnvelope`s. Each request's envelope is checked (known appId, fresh timestamp,
/// decryptable `encData`, `signData` verifying with the hospital's public key); a failed check is
/// answered HTTP 400 with an unsigned `{code: 400x, message}` and nothing else happens. A read
/// request is answered HTTP 200 with an envelope encrypted for the app and signed with the
/// centre's key, whose data is `{infcode, output}` or `{infcode, err_msg}`.
/// `GET /_prescriptions` lists `hiRxno → status`; `GET|POST|DELETE /_faults` as for the NHSA
/// simulator, fault keys being the operations (`uploadChk`, `rxFileUpld`, `rxUndo`).
/// Logs carry appId, operation and codes, never the bodies.
public final class RxCentreSimulatorServer: Sendable {
    public let simulator: RxCentreSimulator
    public let faults: FaultPlan
    public let host: String
    public let port: Int
    private let listener: HTTPListener<BasicRequestContext>

    /// - Throws: `RxCentreError.configuration` for an app whose id or secret cannot derive a key.
    public init(apps: [RxCentreApp], centreKey: SM2PrivateKey, simulator: RxCentreSimulator = RxCentreSimulator(), faults: FaultPlan = FaultPlan(),
                host: String, port: Int, paths: RxCentrePaths = RxCentrePaths(), maxClockSkew: Duration = .seconds(300),
                dropHold: Duration = .seconds(30), logger: Logger = Logger(label: "medbus.simulate.rx-centre")) throws(RxCentreError) {
        self.simulator = simulator
        self.faults = faults
        self.host = host
        self.port = port
        var sessions: [String: RxCentreSession] = [:]
        for app in apps {
            sessions[app.appId] = try RxCentreSession(appId: app.appId, appSecret: app.appSecret, ownKey: centreKey, peerKey: app.hospitalKey, maxClockSkew: maxClockSkew)
        }
        let endpoint = RxCentreEndpoint(sessions: sessions, simulator: simulator, faults: faults, dropHold: dropHold, logger: logger)
        let router = Router()
        for (operation, path) in [(RxCentreSimulator.Operation.uploadCheck, paths.uploadCheck), (.upload, paths.upload), (.revoke, paths.revoke)] {
            router.post(RouterPath(path)) { request, _ in
                let body = try await request.body.collect(upTo: 4 << 20)
                return await endpoint.handle(operation, body: Array(buffer: body))
            }
        }
        router.get("_prescriptions") { _, _ in await FaultPlan.json(simulator.statusJSON()) }
        faults.addAdminRoutes(to: router, logger: logger)
        listener = HTTPListener(router: router, host: host, port: port, serverName: "MedBus-RxCentre-Simulator", logger: logger)
    }

    /// Serves until `shutdown()` (see `HTTPListener`); `onBound` receives the listening port.
    /// - Throws: when the address cannot be bound.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await listener.run(onBound: onBound)
    }

    /// Graceful shutdown: the listener closes, requests in flight are answered, `run` returns.
    public func shutdown() { listener.shutdown() }
}

/// One operation's request: check the envelope, apply the fault plan, run the rule, seal the reply.
private struct RxCentreEndpoint: Sendable {
    let sessions: [String: RxCentreSession]
    let simulator: RxCentreSimulator
    let faults: FaultPlan
    let dropHold: Duration
    let logger: Logger

    func handle(_ operation: RxCentreSimulator.Operation, body: [UInt8]) async -> Response {
        let envelope: RxCentreEnvelope
        do {
            envelope = try RxCentreEnvelope(bytes: body)
        } catch {
            return refuse(.malformed, "\(error)", appId: "")
        }
        var metadata: Logger.Metadata = ["appId": "\(envelope.appId)", "operation": "\(operation.rawValue)"]
        guard let session = sessions[envelope.appId] else {
            return refuse(.unknownAppID, "unknown appId '\(envelope.appId)'", appId: envelope.appId, metadata)
        }
        let input: JSONValue
        do {
            input = try session.open(envelope)
        } catch {
            let code: RxCentreEnvelope.Refusal = switch error {
            case .badSignature: .badSignature
            case .decryptionFailed: .decryptionFailed
            case .staleTimestamp: .staleTimestamp
            default: .malformed
            }
            return refuse(code, "\(error)", appId: envelope.appId, metadata)
        }
        let data: JSONValue
        switch faults.take(for: operation.rawValue) {
        case nil, .duplicate, .outOfOrder:
            data = await outcome(operation, input, session.appId)
        case .delay(let ms):
            try? await Task.sleep(for: .milliseconds(ms))
            data = await outcome(operation, input, session.appId)
        case .drop:
            logger.info("fault: dropping request unprocessed", metadata: metadata)
            return await hold()
        case .dropAfter:
            _ = await outcome(operation, input, session.appId)
            logger.info("fault: dropping the answer of a processed request", metadata: metadata)
            return await hold()
        case .decline(let reason):
            data = Self.failure(-2, reason)
        case .systemError:
            data = Self.failure(-1, "系统异常 (simulated system error, nothing recorded)")
        case .systemErrorAfter:
            _ = await outcome(operation, input, session.appId)
            data = Self.failure(-1, "系统异常 (simulated system error after recording)")
        }
        metadata["infcode"] = "\(data["infcode"]?.intValue ?? 0)"
        do {
            let reply = try session.seal(data, extraFields: [("code", "0"), ("message", "success")])
            logger.debug("answered", metadata: metadata)
            return FaultPlan.json(reply.json)
        } catch {
            logger.error("cannot seal the reply", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return Response(status: .internalServerError)
        }
    }

    private func outcome(_ operation: RxCentreSimulator.Operation, _ input: JSONValue, _ appId: String) async -> JSONValue {
        do {
            let output = try await simulator.handle(operation, input: input, appId: appId)
            return .object([("infcode", .int(0)), ("output", output)])
        } catch {
            return Self.failure(error.infcode, error.message)
        }
    }

    private static func failure(_ infcode: Int, _ message: String) -> JSONValue {
        .object([("infcode", .int(infcode)), ("err_msg", .string(message))])
    }

    private func refuse(_ code: RxCentreEnvelope.Refusal, _ message: String, appId: String, _ metadata: Logger.Metadata = [:]) -> Response {
        logger.info("envelope refused", metadata: metadata.merging(["code": "\(code.rawValue)"]) { $1 })
        return FaultPlan.json(RxCentreEnvelope.refusal(code, message: message, appId: appId).json, status: .badRequest)
    }

    /// No answer within any sensible client timeout.
    private func hold() async -> Response {
        try? await Task.sleep(for: dropHold)
        return Response(status: .serviceUnavailable)
    }
}
