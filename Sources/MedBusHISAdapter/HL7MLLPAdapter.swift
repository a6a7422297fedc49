import Foundation
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusHL7
import MedBusMLLP
import MedBusTLS

/// The HIS adapter for HL7 v2 over MLLP: one listener per hospital (manifest kind `hl7v2-mllp`).
///
/// Per message: parse (charset from MSH-18), check the header, then `DurableIngest` — stored,
/// on `raw.his.<hospital>` keyed by patient id (PID-3), acknowledged by Kafka — and only then the
/// positive ACK (AA, or CA in enhanced mode). Anything else gets a negative ACK with a specific
/// ERR and is kept in the store as `rejected` (AR/CR for a sender whose client certificate or MSH-4 is not
/// the adapter's hospital); a message that is stored but not yet on Kafka gets
/// AE/CE (table 0357 code 207), so the sender retransmits it and nothing is lost. A retransmission
/// (same sending facility and MSH-10) gets the first ACK again and is not published twice.
public final class HL7MLLPAdapter: RunnableAdapter {
    public static let kind = "hl7v2-mllp"

    public let manifest: AdapterManifest
    private let server: MLLPServer

    public init(manifest: AdapterManifest, ingest: DurableIngest, logger: Logger = Logger(label: "medbus.adapter.hl7v2-mllp")) throws {
        var logger = logger
        logger[metadataKey: "adapter"] = "\(manifest.name)"
        let maxMessageBytes = try manifest.intOption("maxMessageBytes", default: 1 << 20)
        let tls = try manifest.tlsConfiguration()
        // With client certificates, a connection may only send as the hospital the adapter serves.
        let intake = try HL7Intake(manifest: manifest, maxMessageBytes: maxMessageBytes, requiredSender: manifest.requiredClientCommonName(tls),
                                   ingest: ingest, logger: logger)
        self.manifest = manifest
        self.server = MLLPServer(
            configuration: MLLPServer.Configuration(
                host: manifest.host, port: manifest.port, maxMessageBytes: maxMessageBytes,
                idleTimeout: .seconds(Int64(try manifest.intOption("idleTimeoutSeconds", default: 300))),
                tls: tls
            ),
            logger: logger
        ) { unit, peer in
            await intake.handle(unit, certificateCommonName: peer.certificateCommonName)
        }
    }

    /// Serves until `shutdown()`. `onBound` receives the listening port.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await server.run(onBound: onBound)
    }

    public func shutdown() { server.shutdown() }
}
