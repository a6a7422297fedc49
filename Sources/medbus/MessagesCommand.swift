import ArgumentParser
import Foundation
import MedBusCore
import MedBusStore

/// `medbus messages list|show`: search the message store.
struct MessagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages",
        abstract: "Search and inspect messages in the store.",
        subcommands: [List.self, Show.self, Prune.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List messages, newest first (no payloads).")
        @OptionGroup var store: StoreOptions
        @Option(help: "Message id.") var id: String?
        @Option(help: "Source, e.g. his.h370102001.") var source: String?
        @Option(help: "Message type, e.g. ADT^A01.") var type: String?
        @Option(help: "Status: \(MessageStatus.allCases.map(\.rawValue).joined(separator: ", ")).") var status: MessageStatus?
        @Option(help: "Received at or after (RFC 3339, e.g. 2025-01-15T00:00:00Z).") var since: String?
        @Option(help: "Received before (RFC 3339).") var until: String?
        @Option(help: "Most rows to print.") var limit: Int = 50

        func run() throws {
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

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one message's metadata; its payload only with --payload.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Message id.") var id: String
        @Flag(help: "Also print the payload (patient data: the operator is responsible for where it goes).") var payload = false

        func run() throws {
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

private func timestamp(_ text: String, _ option: String) throws -> Date {
    guard let date = MessageEnvelope.parseTimestamp(text) else { throw ValidationError("\(option) '\(text)' is not an RFC 3339 timestamp") }
    return date
}
