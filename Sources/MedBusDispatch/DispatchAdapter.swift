import Foundation
import Hummingbird
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusTLS
import NIOCore
import MedBusHTTPServer

/// The 120 dispatch adapter (manifest kind `dispatch-120`): CAD events of one centre over a
/// persistent TCP connection (newline-delimited JSON, one acknowledgement line per event) and over
/// HTTP (`POST /dispatch/events`, one event per request), onto `dispatch.events` keyed by task id.
///
/// Options: `maxLineBytes` (64 KiB; also the HTTP body limit), `idleTimeoutSeconds` (300),
/// `maxInFlight` (256 lines per connection in progress), `httpListen` (host:port; no HTTP
/// listener without it), `retryAfterSeconds` (5), `vitalSigns` (the vital-sign table, default
/// `Mappings/dispatch/vital-signs.csv`), and TLS for the TCP listener as for MLLP: `tlsCertificate`,
/// `tlsKey`, `tlsClientCA`, `tlsClientCertificate` (`required` / `optional` / `none`).
public final class DispatchAdapter: RunnableAdapter {
    public static let kind = "dispatch-120"
    public static let defaultVitalSigns = "Mappings/dispatch/vital-signs.csv"

    public let manifest: AdapterManifest
    public let intake: DispatchIntake
    private let lines: LineServer
    private let http: DispatchHTTPEndpoint?

    /// - Throws: `ManifestError` for a bad option, `VitalSigns.LoadError`, `TLSError` for bad TLS files.
    public init(manifest: AdapterManifest, ingest: DurableIngest, logger: Logger = Logger(label: "medbus.adapter.dispatch-120")) throws {
        var logger = logger
        logger[metadataKey: "adapter"] = "\(manifest.name)"
        let maxLineBytes = try manifest.intOption("maxLineBytes", default: 64 << 10)
        let vitalSigns = try VitalSigns.load(path: manifest.options["vitalSigns"] ?? Self.defaultVitalSigns)
        let intake = DispatchIntake(
            parser: DispatchEventParser(centre: manifest.sender, vitalSigns: vitalSigns), ingest: ingest,
            source: manifest.source, topic: try manifest.rawTopic, maxLineBytes: maxLineBytes, logger: logger
        )
        let tls = try manifest.tlsConfiguration()
        let requiredCommonName = manifest.requiredClientCommonName(tls)
        self.manifest = manifest
        self.intake = intake
        lines = LineServer(
            configuration: LineServer.Configuration(
                host: manifest.host, port: manifest.port, maxLineBytes: maxLineBytes,
                idleTimeout: .seconds(Int64(try manifest.intOption("idleTimeoutSeconds", default: 300))),
                maxInFlight: try manifest.intOption("maxInFlight", default: 256), tls: tls
            ),
            logger: logger
        ) { unit, peer in
            if let requiredCommonName, peer.certificateCommonName != requiredCommonName {
                return Task { DispatchAck(eventId: nil, status: .rejected, error: DispatchIssue(.wrongCentre, "client certificate does not identify centre \(requiredCommonName)")).json }
            }
            let answer = intake.submit(unit)
            return Task { await answer.value.json }
        }
        if let listen = manifest.options["httpListen"] {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw ManifestError(file: manifest.file, message: "options.httpListen must be host:port")
            }
            http = DispatchHTTPEndpoint(
                host: String(listen[..<colon]), port: port, intake: intake, maxBodyBytes: maxLineBytes,
                retryAfterSeconds: try manifest.intOption("retryAfterSeconds", default: 5), logger: logger
            )
        } else {
            http = nil
        }
    }

    /// Serves TCP (and HTTP when configured) until `shutdown()`. `onBound` gets the TCP port,
    /// `onHTTPBound` the HTTP port (useful with port 0).
    public func run(onBound: @escaping @Sendable (Int) -> Void, onHTTPBound: @escaping @Sendable (Int) -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.lines.run(onBound: onBound) }
            if let http { group.addTask { try await http.run(onBound: onHTTPBound) } }
            try await group.waitForAll()
        }
    }

    /// `run` for hosts that know only one port per adapter: the TCP one.
    public func run(onBound: @escaping @Sendable (Int) -> Void) async throws {
        try await run(onBound: onBound, onHTTPBound: { _ in })
    }

    /// Graceful: stops reading, answers what was read, then `run` returns.
    public func shutdown() {
        lines.shutdown()
        http?.shutdown()
    }
}

/// `POST /dispatch/events` (Hummingbird): one event per request, answered with the same JSON
/// acknowledgement as on TCP. 201 accepted, 200 duplicate, 400 rejected, 413 too large, 415 not
/// JSON, 503 with `Retry-After` when the event is not yet safe.
final class DispatchHTTPEndpoint: Sendable {
    private let listener: HTTPListener<BasicRequestContext>

    init(host: String, port: Int, intake: DispatchIntake, maxBodyBytes: Int, retryAfterSeconds: Int, logger: Logger) {
        let router = Router()
        router.post("dispatch/events") { request, _ -> Response in
            let mediaType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard mediaType == "application/json" || mediaType == "application/x-ndjson" else {
                let ack = DispatchAck(eventId: nil, status: .rejected, error: DispatchIssue(.malformedJSON, "Content-Type must be application/json"))
                return Self.response(ack, status: .unsupportedMediaType)
            }
            var request = request
            let body: [UInt8]
            do { body = Array(try await request.collectBody(upTo: maxBodyBytes).readableBytesView) } catch let error as HTTPResponseError where error.status == .contentTooLarge {
                let ack = await intake.submit(.oversize(size: request.headers[.contentLength].flatMap(Int.init) ?? maxBodyBytes + 1)).value
                return Self.response(ack, status: .contentTooLarge)
            }
            let ack = await intake.submit(body).value
            switch ack.status {
            case .accepted: return Self.response(ack, status: .created)
            case .duplicate: return Self.response(ack, status: .ok)
            case .rejected: return Self.response(ack, status: .badRequest)
            case .retry: return Self.response(ack, status: .serviceUnavailable, headers: [.retryAfter: "\(retryAfterSeconds)"])
            }
        }
        listener = HTTPListener(router: router, host: host, port: port, logger: logger)
    }

    static func response(_ ack: DispatchAck, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: ack.json)))
    }

    func run(onBound: @escaping @Sendable (Int) -> Void) async throws {
        try await listener.run(onBound: onBound)
    }

    func shutdown() { listener.shutdown() }
}
