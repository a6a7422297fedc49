import Foundation
import Hummingbird
import Logging
import MedBusAdapterSDK
import MedBusHTTPServer

/// The HIS adapter for SOAP/WebService callers (manifest kind `soap-his`): HL7 v3 interactions in
/// SOAP 1.1 or 1.2 requests from one hospital onto `raw.his.<hospital>`, through `DurableIngest`
/// like every adapter, as records identical to the `http-his` adapter's v3 records.
///
/// Routes, at `options.path` (default `/services/HIPMessageService`):
/// - `POST`: a SOAP request (see `SOAPRequest` for the accepted forms, `SOAPIntake` for the answers);
/// - `GET ?wsdl`: the WSDL 1.1, both bindings at this listener's address.
///
/// Options: `path`; `operation` (default `HIPMessageServer`, the wrapping element's local name);
/// `maxBodyBytes` (default 4 MiB); `retryAfterSeconds` (default 5, sent with a Receiver fault);
/// `wsSecurityUsers` (a `username:password` file: every request must then carry a valid
/// UsernameToken) with `wsSecurityWindowSeconds` (default 300); `publicURL` (the WSDL's address
/// when callers reach the listener through a proxy); TLS as for every listener.
public final class SOAPHISAdapter: RunnableAdapter {
    public static let kind = "soap-his"
    public static let defaultPath = "/services/HIPMessageService"

    public let manifest: AdapterManifest
    private let listener: HTTPListener<PeerRequestContext>

    /// - Throws: `ManifestError` for a bad option or an unreadable credentials file; the topic
    ///   naming error for a sender that makes no valid topic name.
    public init(manifest: AdapterManifest, ingest: DurableIngest, logger: Logger = Logger(label: "medbus.adapter.soap-his")) throws {
        var logger = logger
        logger[metadataKey: "adapter"] = "\(manifest.name)"
        let path = "/" + (manifest.options["path"] ?? Self.defaultPath).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let tls = try manifest.tlsConfiguration()
        let security = try manifest.options["wsSecurityUsers"].map {
            try WSSecurity(credentialsFile: $0, windowSeconds: try manifest.intOption("wsSecurityWindowSeconds", default: 300), manifestFile: manifest.file)
        }
        let intake = SOAPIntake(
            source: manifest.source, topic: try manifest.rawTopic,
            operation: manifest.options["operation"] ?? "HIPMessageServer",
            maxBodyBytes: try manifest.intOption("maxBodyBytes", default: 4 << 20),
            retryAfterSeconds: try manifest.intOption("retryAfterSeconds", default: 5),
            requiredCommonName: manifest.requiredClientCommonName(tls), security: security, ingest: ingest, logger: logger)
        let scheme = tls == nil ? "http" : "https"
        let fallbackHost = "\(manifest.host):\(manifest.port)"

        let router = Router(context: PeerRequestContext.self)
        router.post(RouterPath(path)) { request, context in await intake.handle(request, peer: context.tlsPeer) }
        router.get(RouterPath(path)) { request, _ in
            guard (request.uri.query ?? "").split(separator: "&").contains(where: { $0.lowercased() == "wsdl" || $0.lowercased().hasPrefix("wsdl=") }) else {
                return Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: "GET \(path)?wsdl for the WSDL; POST SOAP requests here\n")))
            }
            let address = manifest.options["publicURL"] ?? "\(scheme)://\(request.head.authority ?? fallbackHost)\(path)"
            let wsdl = WSDL.document(operation: intake.operation, address: address)
            return Response(status: .ok, headers: [.contentType: "text/xml; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: wsdl)))
        }

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
