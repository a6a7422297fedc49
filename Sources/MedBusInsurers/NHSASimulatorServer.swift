import Foundation
import Hummingbird
import Logging
import MedBusCore
import NIOCore
import MedBusHTTPServer
import MedBusTLS

/// `medbus simulate nhsa`: the simulated national platform over HTTP.
///
/// Routes:
/// - `POST <path>` (default `/fsi/api/rsfComIfsService/callService`): body = request envelope,
///   answer = response envelope (HTTP 200 whatever the infcode, as the platform does).
/// - `GET /_ledger`: settlements and per-person accumulators as JSON, so tests can check that
///   nothing was settled twice.
/// - `GET /_faults`, `POST /_faults` (`{"faults": ["2207:error-after@1", …]}` replaces the plan),
///   `DELETE /_faults`; `POST /_signins/expire` makes every sign_no invalid.
///
/// Faults (`SimulatorFault`) apply around the transaction logic of `NHSAPlatformSimulator`:
/// `drop` and `drop-after` hold the request without answering for `dropHold`, so the client sees
/// a timeout. Logs carry infno and msgid, never the bodies.
public final class NHSASimulatorServer: Sendable {
    public static let defaultPath = "/fsi/api/rsfComIfsService/callService"

    public let simulator: NHSAPlatformSimulator
    public let faults: FaultPlan
    public let host: String
    public let port: Int
    private let listener: HTTPListener<BasicRequestContext>

    public init(simulator: NHSAPlatformSimulator, faults: FaultPlan = FaultPlan(), host: String, port: Int, path: String = NHSASimulatorServer.defaultPath,
                dropHold: Duration = .seconds(30), maxBodyBytes: Int = 4 << 20, tls: TLSContext? = nil, logger: Logger = Logger(label: "medbus.simulate.nhsa")) {
        self.simulator = simulator
        self.faults = faults
        self.host = host
        self.port = port
        let router = Router()
        let endpoint = PlatformEndpoint(simulator: simulator, faults: faults, dropHold: dropHold, maxBodyBytes: maxBodyBytes, logger: logger)
        router.post(RouterPath(path)) { request, _ in try await endpoint.handle(request) }
        router.get("_ledger") { _, _ in await Self.json(simulator.ledgerJSON()) }
        faults.addAdminRoutes(to: router, logger: logger)
        router.post("_signins/expire") { _, _ in
            await simulator.expireSignIns()
            return Self.json(.object([("expired", .bool(true))]))
        }
        self.listener = HTTPListener(router: router, host: host, port: port, tls: tls, serverName: "MedBus-NHSA-Simulator", logger: logger)
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.jsonBytes)))
    }

    /// Serves until `shutdown()` (see `HTTPListener`); `onBound` receives the listening port.
    /// - Throws: when the address cannot be bound.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await listener.run(onBound: onBound)
    }

    /// Graceful shutdown: the listener closes, requests in flight are answered, `run` returns.
    public func shutdown() { listener.shutdown() }
}
