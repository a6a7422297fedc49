import ArgumentParser
import Foundation
import Logging
import MedBusAdmin
import MedBusKafka
import MedBusRegistry
import MedBusStore

// The operator-facing side of MedBusAdmin: `medbus token`, `medbus audit`, `--server/--token` for
// commands that run against a remote admin API, and starting the admin server in a process.

/// `--server URL --token T`: run a command against a MedBus process's admin API instead of the
/// local data directory, with that token's role.
struct RemoteOptions: ParsableArguments {
    @Option(help: "Admin API of a running MedBus process, e.g. http://gw-1:8080: the command runs there, with --token's role.")
    var server: String?

    @Option(help: "API token for --server (default: $MEDBUS_TOKEN, which keeps it out of the process list and shell history).")
    var token: String?

    /// The client for `--server`, or nil to work on the local data directory.
    func client() throws -> AdminClient? {
        guard let server else {
            if token != nil { throw ValidationError("--token needs --server") }
            return nil
        }
        guard let url = URL(string: server), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ValidationError("--server '\(server)' is not an http(s) URL")
        }
        guard let token = token ?? ProcessInfo.processInfo.environment["MEDBUS_TOKEN"], !token.isEmpty else {
            throw ValidationError("--server needs --token or MEDBUS_TOKEN")
        }
        return AdminClient(server: url, token: token)
    }
}

extension AdminClient {
    /// `call`, with failures as one CLI error line (the token never in it).
    func run<T: Decodable>(_ method: String, _ path: String, query: [String: String?] = [:], json: Data? = nil, as type: T.Type) async throws -> T {
        do {
            return try await call(method, path, query: query, json: json, as: type)
        } catch let failure as AdminClient.Failure {
            throw CommandFailure("\(server.absoluteString): \(failure.detail) (HTTP \(failure.status))")
        } catch let error as DecodingError {
            throw CommandFailure("\(server.absoluteString): unexpected answer (\(error))")
        } catch {
            throw CommandFailure("\(server.absoluteString) unreachable: \(error.localizedDescription)")
        }
    }
}

/// The audit trail of the local data directory (the registry's audit log).
func openAuditTrail(_ store: StoreOptions) throws -> (MappingRegistry, AuditTrail) {
    let registry = try openRegistry(store)
    return (registry, AuditTrail(log: registry.auditLog))
}

func openTokenStore(_ store: StoreOptions) throws -> (AdminDatabase, TokenStore) {
    do {
        let database = try AdminDatabase(directory: store.dataDirectory)
        return (database, TokenStore(database: database))
    } catch {
        throw CommandFailure("\(error)")
    }
}

extension AdminRole: ExpressibleByArgument {}

/// `medbus token create|list|revoke`: API tokens of the admin API.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke API tokens of the admin API.",
        discussion: """
        Roles: viewer (metrics and states, no patient data), operator (also payloads, replays), \
        auditor (also the audit log), admin (also tokens). A token is shown once, at creation; \
        only a salted SHA-256 of it is stored (<data-dir>/admin.sqlite). Every change is audited.
        """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token and print it (once).")
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions
        @Option(help: "viewer, operator, auditor or admin.") var role: AdminRole
        @Option(help: "Who or what uses it, e.g. grafana or alice; the audit log's actor.") var name: String

        func run() async throws {
            let created: CreatedToken
            if let client = try remote.client() {
                let body = try JSONSerialization.data(withJSONObject: ["name": name, "role": role.rawValue])
                created = try await client.run("POST", "v1/tokens", json: body, as: CreatedToken.self)
            } else {
                let (database, tokens) = try openTokenStore(store)
                defer { try? database.close() }
                let (registry, trail) = try openAuditTrail(store)
                defer { try? registry.close() }
                do {
                    let made = try tokens.create(name: name, role: role, createdBy: operatorName)
                    created = CreatedToken(token: made.token, info: made.info)
                } catch let failure as TokenStore.Failure {
                    throw CommandFailure("\(failure)")
                }
                try trail.record(actor: operatorName, action: "token.create", object: "token:\(created.info.id)",
                                 detail: "name \(created.info.name), role \(role.rawValue)")
            }
            print(created.token)
            printError("token \(created.info.id) '\(created.info.name)' (\(created.info.role.rawValue)) created; it is shown only this once")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every token: id, name, role, creation, revocation (never the secret).")
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions

        func run() async throws {
            let tokens: [APITokenInfo]
            if let client = try remote.client() {
                tokens = try await client.run("GET", "v1/tokens", as: [String: [APITokenInfo]].self)["tokens"] ?? []
            } else {
                let (database, store) = try openTokenStore(store)
                defer { try? database.close() }
                tokens = try store.list()
            }
            print(["ID", "NAME", "ROLE", "CREATED", "BY", "REVOKED"].joined(separator: "\t"))
            for token in tokens {
                print([token.id, token.name, token.role.rawValue, timestamp(token.createdAt), token.createdBy, token.revokedAt.map(timestamp) ?? "-"].joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by id or name; it stops working at once.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "Token id (tok_…) or name.") var token: String

        func run() async throws {
            let revoked: APITokenInfo
            if let client = try remote.client() {
                revoked = try await client.run("DELETE", "v1/tokens/\(token)", as: APITokenInfo.self)
            } else {
                let (database, tokens) = try openTokenStore(store)
                defer { try? database.close() }
                let (registry, trail) = try openAuditTrail(store)
                defer { try? registry.close() }
                do { revoked = try tokens.revoke(token) } catch let failure as TokenStore.Failure { throw CommandFailure("\(failure)") }
                try trail.record(actor: operatorName, action: "token.revoke", object: "token:\(revoked.id)", detail: "name \(revoked.name)")
            }
            print("revoked \(revoked.id) '\(revoked.name)'")
        }
    }
}

/// `medbus audit list`: the audit log, oldest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read the audit log of operator actions.",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entries oldest first: time, actor, role, action, object, outcome, detail.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions
        @Option(help: "Only entries at or after this time (RFC 3339).") var since: String?
        @Option(help: "Only this actor (operator or token name).") var actor: String?
        @Option(help: "Most entries to print.") var limit: Int = 1000
        @Flag(help: "One JSON object per line (as on the medbus.audit topic).") var json = false

        func run() async throws {
            let from = try since.map { try timestamp($0, "--since") }
            let entries: [AuditRecord]
            if let client = try remote.client() {
                entries = try await client.run("GET", "v1/audit", query: [
                    "since": from.map { ISO8601DateFormatter().string(from: $0) }, "actor": actor, "limit": String(limit),
                ], as: [String: [AuditRecord]].self)["entries"] ?? []
            } else {
                let (registry, _) = try openAuditTrail(store)
                defer { try? registry.close() }
                entries = try registry.auditLog.entries(since: from ?? .distantPast, actor: actor, limit: limit).map(AuditRecord.init)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .iso8601
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                for entry in entries { print(String(decoding: try encoder.encode(entry), as: UTF8.self)) }
                return
            }
            print(["ID", "AT", "ACTOR", "ROLE", "ACTION", "OBJECT", "OUTCOME", "DETAIL"].joined(separator: "\t"))
            for e in entries {
                print([String(e.id), timestamp(e.at), e.actor, e.role, e.action, e.object, e.outcome, e.detail].joined(separator: "\t"))
            }
            printError("\(entries.count) entries")
        }
    }
}

/// `--admin-port`: where a process serves its admin API.
struct AdminOptions: ParsableArguments {
    static let defaultAddress = "127.0.0.1:8080"

    @Option(name: .customLong("admin-port"), help: ArgumentHelp(
        "Admin API (health, readiness, metrics, search, DLQ, audit): PORT or HOST:PORT, 'off' to run without (default \(defaultAddress)).",
        valueName: "[host:]port"))
    var adminPort: String?

    /// nil for `off`.
    func configuration() throws -> AdminServer.Configuration? {
        let address = adminPort ?? Self.defaultAddress
        if address == "off" { return nil }
        let parts = address.split(separator: ":", omittingEmptySubsequences: false)
        let host = parts.count == 2 ? String(parts[0]) : "127.0.0.1"
        guard parts.count <= 2, !host.isEmpty, let port = Int(parts.last ?? ""), (0...65_535).contains(port) else {
            throw ValidationError("--admin-port '\(address)' is not PORT or HOST:PORT")
        }
        return AdminServer.Configuration(host: host, port: port)
    }
}

/// The admin server of a process (and, in `medbus serve`, the audit feed to `medbus.audit`), as
/// background services for `runUntilTerminated`. Installs the Prometheus metrics backend, so
/// every module's metrics are recorded from here on, and samples `medbus_dlq_depth` of
/// `deadLetterTopics` every 30 s. A process without a message store (the router) is ready when
/// Kafka answers, and has no `/v1/messages`.
///
/// An explicit `--admin-port` that cannot be bound ends the process; the default one (several
/// MedBus processes on one machine) only logs a warning, and the process runs without it.
func adminServices(_ options: AdminOptions, store: StoreOptions, messageStore: MessageStore?, kafka: KafkaConfig,
                   extraRoutes: [any AdminRoutes] = [], deadLetterTopics: [String] = [],
                   forwardAuditTo producer: KafkaProducer? = nil) throws -> [@Sendable () async throws -> Void] {
    guard let configuration = try options.configuration() else { return [] }
    AdminMetrics.bootstrap()
    let logger = Log.logger("medbus.admin")
    let (database, tokens) = try openTokenStore(store)
    let (registry, trail) = try openAuditTrail(store)
    let kafkaAdmin: KafkaAdmin
    do { kafkaAdmin = try KafkaAdmin(config: kafka, logger: Log.quietKafka) } catch { throw CommandFailure("\(error)") }
    let deadLetters = DeadLetterQueue(kafka: kafka, trail: trail, logger: logger)
    let server = AdminServer(
        configuration: configuration, tokens: tokens, trail: trail,
        readiness: .standard(kafka: kafkaAdmin, store: messageStore),
        routes: (messageStore.map { [MessageRoutes(store: $0)] } ?? []) + [RegistryRoutes(registry: registry), DeadLetterRoutes(queue: deadLetters)]
            + extraRoutes,
        logger: logger)
    let explicit = options.adminPort != nil
    var services: [@Sendable () async throws -> Void] = [{
        let bound = ManagedAtomicFlag()
        do {
            try await server.run { port in
                bound.set()
                print("Admin API: http://\(configuration.host):\(port) (/healthz, /readyz, /metrics, /v1/…)")
                fflush(nil)
            }
        } catch where !explicit && !bound.isSet {
            logger.warning("admin API not started; pass --admin-port", metadata: ["address": "\(configuration.host):\(configuration.port)", "error": "\(error)"])
        }
    }]
    if !deadLetterTopics.isEmpty { services.append { await deadLetters.sampleDepth(of: deadLetterTopics) } }
    if let producer {
        let forwarder = AuditForwarder(trail: trail, database: database, producer: producer, logger: logger)
        services.append { try await forwarder.run() }
    }
    return services
}

/// Set once, read from another task.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// `medbus messages list|show --server`: the same output as on the local store, from `/v1/messages`
/// (identifiers masked and payloads refused unless the token's role sees patient data).
enum RemoteMessages {
    static func list(_ client: AdminClient, query: [String: String?]) async throws {
        let rows = try await client.run("GET", "v1/messages", query: query, as: [String: [MessageRoutes.Message]].self)["messages"] ?? []
        print(["RECEIVED", "ID", "SOURCE", "TYPE", "STATUS", "KAFKA", "BYTES"].joined(separator: "\t"))
        for row in rows {
            let kafka = row.topic.map { "\($0)[\(row.partition ?? -1)]@\(row.offset ?? -1)" } ?? "-"
            print([timestamp(row.receivedAt), row.id, row.source, row.type, row.status, kafka, "\(row.payloadBytes)"].joined(separator: "\t"))
        }
        print("\(rows.count) matching (from \(client.server.absoluteString))")
    }

    static func show(_ client: AdminClient, id: String, payload: Bool) async throws {
        let path = "v1/messages/" + (id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id)
        let m = try await client.run("GET", path, query: ["payload": payload ? "true" : nil], as: MessageRoutes.Message.self)
        let fields: [(String, String?)] = [
            ("id", m.id), ("source", m.source), ("source message id", m.sourceMessageId), ("type", m.type), ("content type", m.contentType),
            ("status", m.status), ("received", timestamp(m.receivedAt)), ("updated", timestamp(m.updatedAt)), ("correlation id", m.correlationId),
            ("topic", m.topic), ("partition", m.partition.map { "\($0)" }), ("offset", m.offset.map { "\($0)" }), ("error", m.error),
            ("payload bytes", "\(m.payloadBytes)"),
        ]
        for case let (name, value?) in fields { print("\(name): \(value)") }
        if let text = m.payload {
            print("payload:")
            if m.payloadEncoding == "base64", let data = Data(base64Encoded: text) { FileHandle.standardOutput.write(data) } else { print(text, terminator: "") }
            print()
        }
    }
}
