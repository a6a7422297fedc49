import Foundation
import Hummingbird
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusHTTPServer
import MedBusTLS

/// The HIS adapter for HTTP (manifest kind `http-his`): FHIR R4 JSON and HL7 v3 XML interactions
/// from one hospital onto `raw.his.<hospital>`, through the same `DurableIngest` path as MLLP.
///
/// Routes:
/// - `POST /fhir/{resourceType}` and `POST /fhir` (a Bundle): see `FHIRIntake`.
/// - `POST /hl7v3` (a v3 interaction, bare or in a SOAP 1.1/1.2 envelope): see `HL7v3Intake`.
///
/// A positive answer (FHIR 201/200, v3 `AA`) goes out only once the message is stored and on
/// Kafka; a message that is not yet safe gets 503 with `Retry-After`, so the sender retries and
/// nothing acknowledged is lost. Every refused request is kept in the store as `rejected`.
///
/// Options: `maxBodyBytes` (default 4 MiB; larger bodies get 413), `retryAfterSeconds` (default 5,
/// sent with 503), and TLS as for every listener (`AdapterManifest.tlsConfiguration()`): with
/// client certificates required, a request whose certificate does not name the manifest's sender
/// is refused with 403 and kept as `rejected`.
public final class HTTPHISAdapter: RunnableAdapter {
    public static let kind = "http-his"

    public let manifest: AdapterManifest
    private let listener: HTTPListener<PeerRequestContext>

    /// - Throws: `ManifestError` for a bad option; the topic naming error for a sender that makes no valid topic name.
    public init(manifest: AdapterManifest, ingest: DurableIngest, logger: Logger = Logger(label: "medbus.adapter.http-his")) throws {
        var logger = logger
        logger[metadataKey: "adapter"] = "\(manifest.name)"
        let reader = HTTPBodyReader(maxBodyBytes: try manifest.intOption("maxBodyBytes", default: 4 << 20))
        let retryAfter = try manifest.intOption("retryAfterSeconds", default: 5)
        let topic = try manifest.rawTopic
        let tls = try manifest.tlsConfiguration()
        let settings = HTTPIntakeSettings(
            source: manifest.source, topic: topic, reader: reader, retryAfterSeconds: retryAfter,
            requiredCommonName: manifest.requiredClientCommonName(tls), ingest: ingest, logger: logger)
        let fhir = FHIRIntake(settings)
        let v3 = HL7v3Intake(settings)

        let router = Router(context: PeerRequestContext.self)
        router.post("fhir") { request, context in await fhir.handle(request, pathType: nil, peer: context.tlsPeer) }
        router.post("fhir/{resourceType}") { request, context in
            await fhir.handle(request, pathType: context.parameters.get("resourceType") ?? "", peer: context.tlsPeer)
        }
        router.post("hl7v3") { request, context in await v3.handle(request, peer: context.tlsPeer) }

        self.manifest = manifest
        self.listener = HTTPListener(router: router, host: manifest.host, port: manifest.port, tls: try tls?.makeContext(), logger: logger)
    }

    /// Serves until `shutdown()` (see `HTTPListener`). `onBound` receives the listening port.
    /// - Throws: when the address cannot be bound or the server fails.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await listener.run(onBound: onBound)
    }

    /// Starts a graceful shutdown; `run` returns once requests in flight are answered.
    public func shutdown() { listener.shutdown() }
}

/// What both intakes (FHIR and HL7 v3) need from the adapter's manifest and runtime.
struct HTTPIntakeSettings: Sendable {
    /// Source the messages are stored and published under, e.g. `his.H37010200001`.
    var source: String
    var topic: String
    var reader: HTTPBodyReader
    /// Sent with 503, so a sender knows when to retry a message that is not yet safe.
    var retryAfterSeconds: Int
    /// With mutual TLS: the only client certificate common name that may send.
    var requiredCommonName: String?
    var ingest: DurableIngest
    var logger: Logger
}

extension HTTPIntakeSettings {
    /// Why a caller may not send as this adapter's hospital, or `nil` when it may.
    func refusal(of peer: TLSHandshakeCompleted?) -> String? {
        guard let requiredCommonName, peer?.peerCommonName != requiredCommonName else { return nil }
        return "client certificate does not identify sender \(requiredCommonName)"
    }
}
