import Foundation
import MedBusCore
import Yams

/// One adapter instance, as an operator describes it in `Adapters/<Kind>/manifests/<name>.yaml`:
///
/// ```yaml
/// kind: hl7v2-mllp            # which adapter
/// name: h37010200001-his      # unique per installation; used in logs and metrics
/// sender: H37010200001        # the sending party's code: source `his.H37010200001`, topic `raw.his.H37010200001`
/// listen: 0.0.0.0:2575
/// mappingSet: his-default     # mappings the router applies to this sender's messages
/// options:                    # kind-specific settings
///   maxMessageBytes: 1048576
///   idleTimeoutSeconds: 300
/// ```
public struct AdapterManifest: Sendable, Equatable {
    public var kind: String
    public var name: String
    public var sender: String
    public var host: String
    public var port: Int
    public var mappingSet: String?
    /// Kind-specific settings, as scalars written in the file.
    public var options: [String: String]
    /// The file it came from, for error messages.
    public var file: String

    public init(kind: String, name: String, sender: String, host: String, port: Int, mappingSet: String? = nil, options: [String: String] = [:], file: String = "<inline>") {
        self.kind = kind
        self.name = name
        self.sender = sender
        self.host = host
        self.port = port
        self.mappingSet = mappingSet
        self.options = options
        self.file = file
    }

    /// The source its messages are stored and published under, e.g. `his.H37010200001`.
    public var source: String {
        switch kind {
        case "hl7v2-mllp", "http-his", "hl7v2-file", "intermediate-table", "soap-his": "his.\(sender)"
        case "dispatch-120": "dispatch.\(sender)"
        default: "insurer.\(sender)"
        }
    }

    /// The Kafka topic this adapter publishes to, e.g. `raw.his.H37010200001`; a 120 dispatch
    /// adapter publishes straight to `dispatch.events` (keyed by task id, no mapping step).
    public var rawTopic: String {
        get throws {
            switch kind {
            case "hl7v2-mllp", "http-his", "hl7v2-file", "intermediate-table", "soap-his": try TopicName.rawHIS(hospital: sender)
            case "dispatch-120": TopicName.dispatchEvents
            default: try TopicName.rawInsurer(sender)
            }
        }
    }

    public func intOption(_ key: String, default value: Int) throws -> Int {
        guard let raw = options[key] else { return value }
        guard let number = Int(raw), number > 0 else { throw ManifestError(file: file, message: "options.\(key) must be a positive integer") }
        return number
    }

    /// Kinds that poll instead of listening, for which `listen` may be left out.
    public static let kindsWithoutListener: Set<String> = ["intermediate-table", "hl7v2-file"]

    /// Every `*.yaml` / `*.yml` manifest in a folder, sorted by file name; names must be unique
    /// (see `ManifestFolder`).
    public static func loadAll(directory: String) throws -> [AdapterManifest] {
        try loadAll(directories: [directory])
    }

    /// The manifests of several folders (`medbus serve --adapters A --adapters B`), folder by folder.
    public static func loadAll(directories: [String]) throws -> [AdapterManifest] {
        try ManifestFolder.loadAll(directories: directories, kind: "adapter", name: \.name, load: load(path:))
    }

    /// - Throws: `ManifestError` naming the file and the field.
    public static func load(path: String) throws -> AdapterManifest {
        guard let data = FileManager.default.contents(atPath: path) else { throw ManifestError(file: path, message: "cannot read file") }
        let root: Any?
        do { root = try Yams.load(yaml: String(decoding: data, as: UTF8.self)) } catch {
            throw ManifestError(file: path, message: "not valid YAML: \(error)")
        }
        guard let fields = root as? [String: Any] else { throw ManifestError(file: path, message: "expected a mapping") }
        let known: Set<String> = ["kind", "name", "sender", "listen", "mappingSet", "options"]
        let unknown = Set(fields.keys).subtracting(known)
        guard unknown.isEmpty else { throw ManifestError(file: path, message: "unknown keys \(unknown.sorted())") }
        func string(_ key: String) throws -> String {
            guard let value = fields[key] as? String, !value.isEmpty else { throw ManifestError(file: path, message: "'\(key)' is required") }
            return value
        }
        // A polling adapter (an intermediate table) listens nowhere: host "" and port 0.
        let listen = kindsWithoutListener.contains(fields["kind"] as? String ?? "") && fields["listen"] == nil ? ":0" : try string("listen")
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ManifestError(file: path, message: "'listen' must be host:port")
        }
        var options: [String: String] = [:]
        if let raw = fields["options"] {
            guard let map = raw as? [String: Any] else { throw ManifestError(file: path, message: "'options' must be a mapping") }
            for (key, value) in map { options[key] = "\(value)" }
        }
        let manifest = AdapterManifest(
            kind: try string("kind"), name: try string("name"), sender: try string("sender"),
            host: String(listen[..<colon]), port: port, mappingSet: fields["mappingSet"] as? String,
            options: options, file: path
        )
        do { _ = try manifest.rawTopic } catch { throw ManifestError(file: path, message: "sender: \(error)") }
        return manifest
    }
}

public struct ManifestError: Error, CustomStringConvertible {
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
