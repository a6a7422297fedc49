import Foundation
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusHTTPClient
import MedBusKafka
import MedBusTLS
import NIOCore
import NIOPosix
import Yams

/// One outbound destination, as an operator describes it in `Adapters/destinations/<name>.yaml`:
///
/// ```yaml
/// kind: mllp-out                         # mllp-out | http-out
/// name: ed-his-h37010200001              # unique per installation; in logs, dead letters, the group id
/// topic: dispatch.prearrival.H37010200001
/// connect: 10.20.0.15:2575               # mllp-out: the receiver's host:port
/// # url: https://10.20.0.16:8443/medbus  # http-out: the endpoint POSTed to
/// tls:                                   # mllp-out: MLLP over TLS; http-out: for an https url
///   caFile: /etc/medbus/tls/his-ca.pem   # the only CA trusted (default: the system trust store)
///   certificateFile: /etc/medbus/tls/medbus-client.pem   # mutual TLS: our certificate…
///   privateKeyFile: /etc/medbus/tls/medbus-client.key    # …and its key
///   serverName: his.h37010200001.example # checked against the server's certificate (default: the host)
/// options:
///   timeoutSeconds: 10                   # one attempt: connect + send + ACK/response
///   maxAttempts: 10                      # then the record is dead-lettered
///   initialBackoffMilliseconds: 200      # doubles per attempt, with jitter…
///   maxBackoffSeconds: 30                # …up to this
/// ```
///
/// Optional keys: `group` (consumer group, default `medbus-out.<name>`), `deadLetterTopic`
/// (default `dlq.outbound`), `headers` (http-out: a mapping of extra request headers), and the
/// option `maxAckBytes` (mllp-out). Unknown keys and options are errors, so a typo never turns
/// into a silent default.
public struct DestinationManifest: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case mllpOut = "mllp-out"
        case httpOut = "http-out"
    }

    /// Where records go.
    public enum Target: Sendable, Equatable {
        case mllp(host: String, port: Int)
        case http(url: String)
    }

    public var kind: Kind
    public var name: String
    public var topic: String
    public var target: Target
    public var groupID: String
    public var deadLetterTopic: String
    public var policy: DeliveryPolicy
    /// mllp-out: largest ACK accepted.
    public var maxAckBytes: Int
    /// http-out: extra request headers, sorted by name.
    public var headers: [String: String]
    /// MLLP over TLS, or the TLS settings of an `https` url; nil for plain MLLP and `http`.
    public var tls: TLSClientConfiguration?
    /// The file it came from, for error messages.
    public var file: String

    static let keys: Set<String> = ["kind", "name", "topic", "connect", "url", "group", "deadLetterTopic", "headers", "options", "tls"]
    static let commonOptions: Set<String> = ["timeoutSeconds", "maxAttempts", "initialBackoffMilliseconds", "maxBackoffSeconds"]

    /// - Throws: `ManifestError` naming the file and the field at fault.
    public static func load(path: String) throws -> DestinationManifest {
        guard let data = FileManager.default.contents(atPath: path) else { throw ManifestError(file: path, message: "cannot read file") }
        return try parse(yaml: String(decoding: data, as: UTF8.self), file: path)
    }

    /// Every `*.yaml` / `*.yml` manifest in a folder, sorted by file name; names must be unique
    /// (see `ManifestFolder`).
    public static func loadAll(directory: String) throws -> [DestinationManifest] {
        try ManifestFolder.loadAll(directory: directory, kind: "destination", name: \.name, load: load(path:))
    }

    /// - Throws: `ManifestError`.
    public static func parse(yaml: String, file: String = "<inline>") throws -> DestinationManifest {
        func fail(_ message: String) -> ManifestError { ManifestError(file: file, message: message) }
        let root: Any?
        do { root = try Yams.load(yaml: yaml) } catch { throw fail("not valid YAML: \(error)") }
        guard let fields = root as? [String: Any] else { throw fail("expected a mapping") }
        let unknown = Set(fields.keys).subtracting(keys)
        guard unknown.isEmpty else { throw fail("unknown keys \(unknown.sorted())") }
        func string(_ key: String) throws -> String {
            guard let value = fields[key] else { throw fail("'\(key)' is required") }
            guard let text = value as? String, !text.isEmpty else { throw fail("'\(key)' must be a non-empty string") }
            return text
        }
        func optionalString(_ key: String) throws -> String? { fields[key] == nil ? nil : try string(key) }

        guard let kind = Kind(rawValue: try string("kind")) else {
            throw fail("'kind' must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let name = try string("name")
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
            throw fail("'name' may hold only letters, digits, '-', '_' and '.'")
        }
        let topic = try string("topic")
        guard TopicName.isValid(topic) else { throw fail("'topic' is not a valid Kafka topic name") }
        let deadLetterTopic = try optionalString("deadLetterTopic") ?? "dlq.outbound"
        guard TopicName.isValid(deadLetterTopic) else { throw fail("'deadLetterTopic' is not a valid Kafka topic name") }
        guard deadLetterTopic != topic else { throw fail("'deadLetterTopic' must differ from 'topic'") }

        var options: [String: String] = [:]
        if let raw = fields["options"] {
            guard let map = raw as? [String: Any] else { throw fail("'options' must be a mapping") }
            for (key, value) in map { options[key] = "\(value)" }
        }
        let allowed = commonOptions.union(kind == .mllpOut ? ["maxAckBytes"] : [])
        let unknownOptions = Set(options.keys).subtracting(allowed)
        guard unknownOptions.isEmpty else { throw fail("unknown options \(unknownOptions.sorted()) for kind \(kind.rawValue)") }
        func positive(_ key: String, default value: Int) throws -> Int {
            guard let raw = options[key] else { return value }
            guard let number = Int(raw), number > 0 else { throw fail("options.\(key) must be a positive integer") }
            return number
        }
        let defaults = DeliveryPolicy()
        let initialBackoff = Duration.milliseconds(try positive("initialBackoffMilliseconds", default: 200))
        let maxBackoff = Duration.seconds(try positive("maxBackoffSeconds", default: 30))
        guard maxBackoff >= initialBackoff else { throw fail("options.maxBackoffSeconds must not be below initialBackoffMilliseconds") }
        let policy = DeliveryPolicy(
            maxAttempts: try positive("maxAttempts", default: defaults.maxAttempts),
            initialBackoff: initialBackoff,
            maxBackoff: maxBackoff,
            attemptTimeout: .seconds(try positive("timeoutSeconds", default: 10))
        )

        var tls: TLSClientConfiguration?
        if let raw = fields["tls"] {
            guard let map = raw as? [String: Any] else { throw fail("'tls' must be a mapping ({} for the system trust store)") }
            do {
                let configuration = try TLSClientConfiguration(manifest: map.mapValues { "\($0)" })
                _ = try configuration.makeContext()
                tls = configuration
            } catch { throw fail("tls: \(error)") }
        }

        let target: Target
        var headers: [String: String] = [:]
        switch kind {
        case .mllpOut:
            guard fields["url"] == nil else { throw fail("'url' belongs to http-out; mllp-out uses 'connect: host:port'") }
            guard fields["headers"] == nil else { throw fail("'headers' belongs to http-out") }
            let connect = try string("connect")
            guard let colon = connect.lastIndex(of: ":"), colon != connect.startIndex,
                  let port = Int(connect[connect.index(after: colon)...]), (1...65535).contains(port)
            else { throw fail("'connect' must be host:port with a port from 1 to 65535") }
            target = .mllp(host: String(connect[..<colon]), port: port)
        case .httpOut:
            guard fields["connect"] == nil else { throw fail("'connect' belongs to mllp-out; http-out uses 'url'") }
            let url = try string("url")
            let endpoint: HTTPEndpoint
            do { endpoint = try HTTPEndpoint(url) } catch { throw fail("'url' \(error)") }
            guard endpoint.usesTLS || tls == nil else { throw fail("'tls' needs an https url") }
            if endpoint.usesTLS, tls == nil { tls = TLSClientConfiguration() }
            target = .http(url: url)
            if let raw = fields["headers"] {
                guard let map = raw as? [String: Any] else { throw fail("'headers' must be a mapping of header name to value") }
                for (key, value) in map {
                    let text = "\(value)"
                    guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }),
                          HTTPDestination.isSafeHeaderValue(text)
                    else { throw fail("headers.\(key) is not a valid header") }
                    headers[key] = text
                }
            }
        }
        return DestinationManifest(
            kind: kind, name: name, topic: topic, target: target,
            groupID: try optionalString("group") ?? "medbus-out.\(name)", deadLetterTopic: deadLetterTopic,
            policy: policy, maxAckBytes: try positive("maxAckBytes", default: 1 << 20), headers: headers, tls: tls, file: file)
    }

    /// The transport for this destination, its timeout from `options.timeoutSeconds`.
    public func makeTransport(group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "medbus.outbound")) throws -> any OutboundTransport {
        let context = try tls?.makeContext()
        switch target {
        case .mllp(let host, let port):
            return MLLPDestination(host: host, port: port, tls: context, timeout: policy.attemptTimeout, maxAckBytes: maxAckBytes, group: group, logger: logger)
        case .http(let url):
            return try HTTPDestination(url: url, tls: context, timeout: policy.attemptTimeout, headers: headers.sorted { $0.key < $1.key }, group: group, logger: logger)
        }
    }

    /// A dispatcher delivering `topic` to this destination; `run()` it.
    public func makeDispatcher(kafka: KafkaConfig, logger: Logger = Logger(label: "medbus.outbound")) throws -> OutboundDispatcher {
        OutboundDispatcher(
            kafka: kafka, topic: topic, groupID: groupID, transport: try makeTransport(logger: logger), policy: policy,
            deadLetterTopic: deadLetterTopic, destinationName: name, logger: logger)
    }
}
