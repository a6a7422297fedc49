import ArgumentParser
import Foundation
import MedBusAdmin
import MedBusCore
import MedBusKafka
import MedBusStore

/// `medbus messages list|show`: search the message store.
struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages",
        abstract: "Search and inspect messages in the store.",
        subcommands: [List.self, Show.self, Prune.self, Replay.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List messages, newest first (no payloads).")
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions
        @Option(help: "Message id.") var id: String?
        @Option(help: "Source, e.g. his.h370102001.") var source: String?
        @Option(help: "Message type, e.g. ADT^A01.") var type: String?
        @Option(help: "Status: \(MessageStatus.allCases.map(\.rawValue).joined(separator: ", ")).") var status: MessageStatus?
        @Option(help: "Received at or after (RFC 3339, e.g. 2025-01-15T00:00:00Z).") var since: String?
        @Option(help: "Received before (RFC 3339).") var until: String?
        @Option(help: "Most rows to print.") var limit: Int = 50

        func run() async throws {
            if let client = try remote.client() {
                return try await RemoteMessages.list(client, query: [
                    "id": id, "source": source, "type": type, "status": status?.rawValue, "from": since, "to": until, "limit": String(limit),
                ])
            }
            let query = MessageQuery(id: id, source: source, type: type, status: status,
                                     from: try since.map { try timestamp($0, "--since") },
                                     to: try until.map { try timestamp($0, "--until") }, limit: limit)
            let messageStore = try store.open()
            let rows = try messageStore.search(query)
            print(["RECEIVED", "ID", "SOURCE", "TYPE", "STATUS", "KAFKA", "BYTES"].joined(separator: "\t"))
            for row in rows {
                let kafka = row.topic.map { "\($0)[\(row.partition ?? -1)]@\(row.offset ?? -1)" } ?? "-"
                print([MessageEnvelope.formatTimestamp(row.receivedAt), row.id, row.source, row.type, row.status.rawValue, kafka, "\(row.payloadSize)"].joined(separator: "\t"))
            }
            print("\(rows.count) of \(try messageStore.count(query)) matching")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one message's metadata; its payload only with --payload (audited).")
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "Message id.") var id: String
        @Flag(help: "Also print the payload (patient data: the operator is responsible for where it goes).") var payload = false

        func run() async throws {
            if let client = try remote.client() { return try await RemoteMessages.show(client, id: id, payload: payload) }
            guard let message = try store.open().message(id: id) else { throw CommandFailure("no message with id '\(id)'") }
            let fields: [(String, String?)] = [
                ("id", message.id), ("source", message.source), ("source message id", message.sourceMessageId),
                ("type", message.type), ("content type", message.contentType), ("status", message.status.rawValue),
                ("received", MessageEnvelope.formatTimestamp(message.receivedAt)), ("updated", MessageEnvelope.formatTimestamp(message.updatedAt)),
                ("correlation id", message.correlationId), ("topic", message.topic),
                ("partition", message.partition.map { "\($0)" }), ("offset", message.offset.map { "\($0)" }),
                ("error", message.error), ("payload bytes", "\(message.payload.count)"),
            ]
            for case let (name, value?) in fields { print("\(name): \(value)") }
            if payload {
                let (registry, trail) = try openAuditTrail(store)
                defer { try? registry.close() }
                try trail.record(actor: operatorName, action: "message.payload.view", object: "message:\(message.id)", detail: "\(message.payload.count) bytes")
                print("payload:")
                FileHandle.standardOutput.write(message.payload)
                print()
            }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete messages received before a cut-off and return the disk space.")
        @OptionGroup var store: StoreOptions
        @Option(name: .customLong("older-than"), help: "Age, e.g. 30d, 12h, 90m.") var olderThan: RetentionAge

        func run() throws {
            let result = try store.open().prune(olderThan: Date().addingTimeInterval(-olderThan.seconds))
            print("deleted \(result.deletedRows) messages; store \(result.fileBytesBefore) → \(result.fileBytesAfter) bytes")
        }
    }
}

extension MessagesCommand {
    /// Re-drives stored messages through the current mappings: each is produced again to its raw
    /// topic with its original envelope (same message id) and a `medbus-replay` header. The router
    /// routes it like any raw record, so targets get it again: replay is for re-processing after
    /// a mapping fix, and downstream consumers deduplicate by message id if they must.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Produce stored messages of a raw topic again, to be routed with the current mappings.")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @Option(help: "Raw topic, e.g. raw.his.H37010200001.") var topic: String
        @Option(help: "Received at or after (RFC 3339).") var from: String
        @Option(help: "Received before (RFC 3339).") var to: String
        @Option(help: "Most messages to replay.") var limit: Int = 100_000

        func run() async throws {
            let query = MessageQuery(status: .published, from: try timestamp(from, "--from"), to: try timestamp(to, "--to"), limit: limit)
            let messageStore = try store.open()
            let selected = try messageStore.search(query).filter { $0.topic == topic }.reversed()
            let producer = try KafkaProducer(config: try kafka.config(store: store), logger: Log.quietKafka)
            var replayed = 0
            for summary in selected {
                guard let message = try messageStore.message(id: summary.id) else { continue }
                let envelope = MessageEnvelope(id: message.id, source: message.source, sourceMessageId: message.sourceMessageId,
                                               messageType: message.type, contentType: message.contentType, receivedAt: message.receivedAt,
                                               correlationId: message.correlationId)
                let record = KafkaProducerMessage(topic: topic, partition: message.partition, key: nil, value: Array(message.payload),
                                                  headers: envelope.headers + [KafkaHeader(key: "medbus-replay", string: "true")])
                let report = try await producer.send(record)
                if let error = report.error { throw CommandFailure("replay of \(message.id) failed: \(error.message)") }
                replayed += 1
            }
            await producer.shutdown()
            print("replayed \(replayed) messages from the store onto \(topic)")
        }
    }
}

/// An age such as `30d`, `12h` or `90m`.
struct RetentionAge: ExpressibleByArgument {
    let seconds: TimeInterval

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
        guard let unit = argument.last.flatMap({ units[$0] }), let count = Double(argument.dropLast()), count >= 0 else { return nil }
        seconds = count * unit
    }
}

extension MessageStatus: ExpressibleByArgument {}

func timestamp(_ text: String, _ option: String) throws -> Date {
    guard let date = MessageEnvelope.parseTimestamp(text) else { throw ValidationError("\(option) '\(text)' is not an RFC 3339 timestamp") }
    return date
}
