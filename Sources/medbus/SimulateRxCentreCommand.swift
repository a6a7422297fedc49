import ArgumentParser
import Foundation
import MedBusCrypto
import MedBusInsurers
import MedBusRxCentre

/// `medbus simulate rx-centre`: the reference insurance e-prescription centre the prescription
/// service uploads to (see Adapters/insurers/README.md and DOMAIN.md §2).
struct SimulateRxCentreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rx-centre",
        abstract: "Serve the insurance e-prescription centre's SM4/SM2 envelope (uploadChk, rxFileUpld, rxUndo).",
        discussion: """
        POST envelopes {appId, encType:"SM4", signType:"SM2", timestamp, encData, signData} to \
        http://HOST:PORT/fixmedins/uploadChk, /fixmedins/rxFileUpld and /fixmedins/rxUndo. Envelopes \
        with an unknown appId, a bad signature, undecryptable data or a stale timestamp are refused \
        with HTTP 400 {code: 4001–4004, message}. GET /_prescriptions lists hiRxno → status; \
        POST /_faults {"faults": ["rxFileUpld:drop@1"]} replaces the injected faults, DELETE /_faults \
        clears them. Everything is in memory.
        """
    )

    @Option(help: "Address to listen on, host:port (port 0: any free port, printed at start).")
    var listen: String = "127.0.0.1:8093"

    @Option(help: "The centre's SM2 private key (PEM); hospitals verify replies with its public key.")
    var key: String

    @Option(name: .customLong("app"), help: ArgumentHelp("A registered hospital (repeatable): its appId (≥ 16 characters), a file holding its appSecret, and its SM2 public key or certificate (PEM).", valueName: "APPID:SECRET_FILE:HOSPITAL_KEY_PEM"))
    var apps: [String] = []

    @Option(name: .customLong("fault"), help: ArgumentHelp("Inject a fault (repeatable): delay=MS, drop, drop-after, decline[=REASON], error, error-after; OPERATION is uploadChk, rxFileUpld or rxUndo.", valueName: "[OPERATION:]ACTION[=ARG][@COUNT]"))
    var faults: [String] = []

    @Option(help: "Largest accepted difference between an envelope's timestamp and this clock, in seconds.")
    var maxClockSkew: Int = 300

    func run() async throws {
        let logger = Log.logger("medbus.simulate.rx-centre")
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen must be host:port")
        }
        guard !apps.isEmpty else { throw ValidationError("register at least one hospital with --app APPID:SECRET_FILE:HOSPITAL_KEY_PEM") }
        let host = String(listen[..<colon])
        let server: RxCentreSimulatorServer
        do {
            let centreKey = try SM2PrivateKey(pemFile: key)
            let registered = try apps.map(Self.app)
            server = try RxCentreSimulatorServer(apps: registered, centreKey: centreKey, faults: FaultPlan(try faults.map(SimulatorFault.init(parsing:))),
                                                 host: host, port: port, maxClockSkew: .seconds(maxClockSkew), logger: logger)
        } catch let error as CryptoError {
            throw CommandFailure("\(error)")
        } catch let error as RxCentreError {
            throw CommandFailure("\(error)")
        } catch let error as SimulatorFaultError {
            throw CommandFailure("\(error)")
        }
        try await runUntilTerminated(nil, background: [{
            try await withTaskCancellationHandler {
                try await server.run { port in
                    print("e-prescription centre simulator listening on http://\(host):\(port)/fixmedins/")
                    fflush(nil)
                }
            } onCancel: { server.shutdown() }
        }], logger: logger)
    }

    private static func app(_ text: String) throws -> RxCentreApp {
        let parts = text.split(separator: ":", maxSplits: 2).map(String.init)
        guard parts.count == 3 else { throw CommandFailure("--app '\(text)': expected APPID:SECRET_FILE:HOSPITAL_KEY_PEM") }
        guard let secret = try? String(contentsOfFile: parts[1], encoding: .utf8) else { throw CommandFailure("--app \(parts[0]): cannot read \(parts[1])") }
        guard let pem = try? String(contentsOfFile: parts[2], encoding: .utf8) else { throw CommandFailure("--app \(parts[0]): cannot read \(parts[2])") }
        let key = pem.contains("BEGIN CERTIFICATE") ? try SM2PublicKey(certificatePEM: pem) : try SM2PublicKey(pem: pem)
        return RxCentreApp(appId: parts[0], appSecret: secret.trimmingCharacters(in: .whitespacesAndNewlines), hospitalKey: key)
    }
}
