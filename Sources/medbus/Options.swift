import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusCrypto
import MedBusKafka
import MedBusStore

/// Where the SQLite store lives.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Directory of the SQLite store (created if missing).")
    var dataDirectory: String = "./data"

    @Option(name: .customLong("payload-key-file"), help: ArgumentHelp("Keys sealing payloads at rest: one id:base64key per line, the first (or $MEDBUS_PAYLOAD_KEY_CURRENT) current. Default: $MEDBUS_PAYLOAD_KEY_FILE, else DATA_DIR/payload.keys (serve and adapter create it when no key is configured).", valueName: "path"))
    var payloadKeyFile: String?

    /// Opens the store, turning its errors into one clear line. Writers (`serve`, `adapter`) pass
    /// `createKeyIfMissing`, so payloads are never stored in clear by default.
    func open(createKeyIfMissing: Bool = false, sync: StoreSync = .full) throws -> MessageStore {
        let keyring = try payloadKeyring(createIfMissing: createKeyIfMissing)
        do {
            return try MessageStore.open(directory: dataDirectory, keyring: keyring, sync: sync)
        } catch let error as StoreError {
            throw CommandFailure("store: \(error)")
        }
    }

    var defaultPayloadKeyFile: String { (dataDirectory as NSString).appendingPathComponent("payload.keys") }

    /// `--payload-key-file`, else the environment (`MEDBUS_PAYLOAD_KEY_FILE`, `MEDBUS_PAYLOAD_KEYS`),
    /// else `DATA_DIR/payload.keys`; when none exists and `createIfMissing`, a new key file there
    /// (0600), said once in the log.
    func payloadKeyring(createIfMissing: Bool) throws -> PayloadKeyring? {
        if createIfMissing {
            // The key file lives in the data directory: a directory that cannot be made is the store's error.
            do { try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true) } catch {
                throw CommandFailure("store: \(StoreError.directoryNotWritable(path: dataDirectory))")
            }
        }
        do {
            let resolution = try PayloadKeyring.resolve(explicitFile: payloadKeyFile, defaultFile: defaultPayloadKeyFile, createIfMissing: createIfMissing)
            if case .created(let keyring, let path) = resolution {
                Log.logger("medbus.store").notice("no payload key configured: generated one", metadata: [
                    "keyId": "\(keyring.currentKeyID)", "path": "\(path)",
                    "action": "back this file up; stored payloads cannot be read without it",
                ])
            }
            return resolution.keyring
        } catch {
            throw CommandFailure("payload key: \(error)")
        }
    }

    /// Written by `serve` while it runs its embedded cluster, so other commands can find it.
    var embeddedBootstrapFile: String { (dataDirectory as NSString).appendingPathComponent("embedded-kafka.bootstrap") }
}

/// `--store-sync`, for the commands that store inbound messages (`serve`, `adapter run`).
struct StoreSyncOption: ParsableArguments {
    @Option(name: .customLong("store-sync"), help: StoreSync.help) var level: StoreSync = .full

    /// `normal` leaves a message's survival of a power loss to Kafka's replicas; the embedded cluster keeps
    /// its records in memory, so there the store's fsync is all there is.
    func check(_ kafka: KafkaOptions) throws {
        if level == .normal && kafka.brokers == nil {
            throw CommandFailure("--store-sync normal needs an external Kafka cluster (--brokers): the embedded cluster keeps messages in memory, so the store is their only durable copy")
        }
    }
}

/// Which Kafka cluster to use.
struct KafkaOptions: ParsableArguments {
    @Option(name: .customLong("brokers"), help: "Bootstrap servers of an external Kafka cluster (host:port,...).")
    var brokers: String?

    @Option(name: .customLong("kafka-option"), help: ArgumentHelp("A librdkafka property passed through, e.g. security.protocol=SASL_SSL (repeatable).", valueName: "key=value"))
    var kafkaOptions: [String] = []

    func properties() throws -> [String: String] {
        do { return try KafkaConfig.parseProperties(kafkaOptions) } catch { throw CommandFailure("\(error)") }
    }

    /// The cluster named by --brokers, else the embedded cluster of a `medbus serve` running on
    /// the same data directory.
    func config(store: StoreOptions) throws -> KafkaConfig {
        if let brokers { return KafkaConfig(bootstrapServers: brokers, properties: try properties()) }
        guard let data = FileManager.default.contents(atPath: store.embeddedBootstrapFile) else {
            throw CommandFailure("no --brokers given and no running `medbus serve` found for data directory \(store.dataDirectory)")
        }
        return KafkaConfig(bootstrapServers: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), properties: try properties())
    }
}

/// Checks that a cluster answers, so a wrong address fails in seconds with a clear line.
func connect(_ config: KafkaConfig, timeout: Duration = .seconds(10)) async throws -> KafkaAdmin {
    let admin: KafkaAdmin
    do {
        admin = try KafkaAdmin(config: config, logger: Log.quietKafka)
        _ = try await admin.brokers(timeout: timeout)
    } catch let error as KafkaError {
        throw CommandFailure("Kafka cluster \(config.bootstrapServers) unreachable: \(error.message)")
    }
    return admin
}
