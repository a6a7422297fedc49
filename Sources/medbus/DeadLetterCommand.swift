import ArgumentParser
import Foundation
import MedBusCore
import MedBusKafka
import MedBusRegistry
import MedBusRouting

/// `medbus dlq list|show|replay`: inspect dead letters and re-drive them through the current
/// mappings once the cause is fixed (a code added, a mapping corrected).
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show and replay dead letters.",
        subcommands: [List.self, Show.self, Replay.self]
    )

    /// Which dead letters: topic, time window, reason.
    struct Selection: ParsableArguments {
        @Option(help: "Dead-letter topic.") var topic: String = "dlq.routing"
        @Option(help: "Only records dead-lettered at or after this time (RFC 3339); default: the last 7 days.") var since: String?
        @Option(help: "Only this reason, e.g. missing-code.") var reason: String?

        func read(_ config: KafkaConfig) async throws -> [KafkaConsumerMessage] {
            let from = try since.map { try timestamp($0, "--since") } ?? Date().addingTimeInterval(-7 * 86_400)
            let records: [KafkaConsumerMessage]
            do {
                records = try await KafkaTopicReader.read(config: config, topic: topic, since: from, logger: Log.quietKafka)
            } catch let error as KafkaError {
                throw CommandFailure("cannot read \(topic): \(error.message)")
            }
            return records.filter { reason == nil || $0.headers.string(RoutingHeader.errorReason) == reason }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per dead letter (no payloads).")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var selection: Selection

        func run() async throws {
            let records = try await selection.read(try kafka.config(store: store))
            print(["POSITION", "REASON", "MAPPING", "RULE", "SOURCE", "MESSAGE ID", "ERROR"].joined(separator: "\t"))
            for record in records {
                let h = record.headers
                print([
                    "\(record.partition):\(record.offset)", h.string(RoutingHeader.errorReason) ?? "-",
                    [h.string(RoutingHeader.errorMapping), h.string(RoutingHeader.errorMappingVersion)].compactMap { $0 }.joined(separator: "@"),
                    h.string(RoutingHeader.errorRule) ?? "-", h.string(MessageEnvelope.Header.source) ?? "-",
                    h.string(MessageEnvelope.Header.id) ?? "-", h.string(RoutingHeader.errorMessage) ?? "-",
                ].joined(separator: "\t"))
            }
            print("\(records.count) dead letters")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every header of one dead letter; its payload only with --payload.")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var selection: Selection
        @Argument(help: "Position as PARTITION:OFFSET (from `dlq list`).") var position: String
        @Flag(help: "Also print the payload (patient data: the operator is responsible for where it goes).") var payload = false

        func run() async throws {
            let wanted = try DeadLetterPosition(position)
            guard let record = try await selection.read(try kafka.config(store: store)).first(where: { wanted.matches($0) }) else {
                throw CommandFailure("no dead letter at \(position) in \(selection.topic)")
            }
            for header in record.headers { print("\(header.key): \(header.stringValue ?? "")") }
            print("key: \(record.keyString ?? "")")
            print("payload bytes: \(record.value?.count ?? 0)")
            if payload, let value = record.value {
                FileHandle.standardOutput.write(Data(value))
                print()
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to the topic they came from, to be routed with the current mappings.",
            discussion: """
            Each dead letter is replayed at most once: replays are recorded in the registry's \
            audit log (data directory), and a position already replayed is skipped. If it fails \
            again it returns to the dead-letter topic as a new record, which can be replayed in turn.
            """
        )
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var selection: Selection
        @Argument(help: "Positions PARTITION:OFFSET to replay; none: every selected dead letter.") var positions: [String] = []
        @Option(help: "Who (default: $USER).") var author: String?

        func run() async throws {
            let config = try kafka.config(store: store)
            let wanted = try positions.map(DeadLetterPosition.init)
            let registry = try openRegistry(store)
            let records = try await selection.read(config).filter { record in wanted.isEmpty || wanted.contains { $0.matches(record) } }
            let producer = try KafkaProducer(config: config, logger: Log.quietKafka)
            var replayed = 0, skipped = 0
            for record in records {
                let object = "\(selection.topic)/\(record.partition)/\(record.offset)"
                if try registry.auditLog.contains(action: "dlq.replay", object: object) { skipped += 1; continue }
                guard let original = RoutingHeader.original(of: record) else {
                    printError("\(object): no source topic recorded; skipped")
                    continue
                }
                let report = try await producer.send(original)
                if let error = report.error { throw CommandFailure("replay of \(object) failed: \(error.message)") }
                try registry.auditLog.record(actor: author ?? operatorName, action: "dlq.replay", object: object,
                                          detail: "to \(original.topic) partition \(report.partition) offset \(report.offset ?? -1)")
                replayed += 1
            }
            await producer.shutdown()
            print("replayed \(replayed) dead letters\(skipped > 0 ? "; \(skipped) already replayed before" : "")")
        }
    }
}

/// PARTITION:OFFSET of a dead letter.
struct DeadLetterPosition {
    let partition: Int32
    let offset: Int64

    init(_ text: String) throws {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let partition = Int32(parts[0]), let offset = Int64(parts[1]) else {
            throw ValidationError("'\(text)' is not a position PARTITION:OFFSET")
        }
        self.partition = partition
        self.offset = offset
    }

    func matches(_ record: KafkaConsumerMessage) -> Bool { record.partition == partition && record.offset == offset }
}
