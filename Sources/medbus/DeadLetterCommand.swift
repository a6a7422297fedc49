import ArgumentParser
import Foundation
import MedBusAdmin
import MedBusCore
import MedBusKafka
import MedBusRouting

/// `medbus dlq list|show|replay`: inspect dead letters and re-drive them through the current
/// mappings once the cause is fixed (a code added, a mapping corrected). Reading and replaying
/// are `DeadLetterQueue` (MedBusAdmin), shared with the admin API's `/v1/dlq`; `list` and
/// `replay` also run against a remote admin API with `--server --token`.
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

        func selection() throws -> DeadLetterQueue.Selection {
            DeadLetterQueue.Selection(topic: topic, since: try since.map { try timestamp($0, "--since") }, reason: reason)
        }

        /// The query of `/v1/dlq` for the same selection.
        var query: [String: String?] { ["topic": topic, "since": since, "reason": reason] }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per dead letter (no payloads).")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var selection: Selection

        func run() async throws {
            let letters: [DeadLetterSummary]
            if let client = try remote.client() {
                letters = try await client.run("GET", "v1/dlq", query: selection.query, as: [String: [DeadLetterSummary]].self)["deadLetters"] ?? []
            } else {
                let (registry, trail) = try openAuditTrail(store)
                defer { try? registry.close() }
                let queue = DeadLetterQueue(kafka: try kafka.config(store: store), trail: trail, logger: Log.quietKafka)
                do { letters = try await queue.list(try selection.selection(), withError: true) } catch let failure as DeadLetterQueue.Failure {
                    throw CommandFailure("\(failure)")
                }
            }
            print(["POSITION", "REASON", "MAPPING", "RULE", "SOURCE", "MESSAGE ID", "REPLAYED", "ERROR"].joined(separator: "\t"))
            for letter in letters {
                print([
                    letter.position, letter.reason ?? "-", [letter.mapping, letter.mappingVersion].compactMap { $0 }.joined(separator: "@"),
                    letter.rule ?? "-", letter.source ?? "-", letter.messageId ?? "-", letter.replayed ? "yes" : "no", letter.error ?? "-",
                ].joined(separator: "\t"))
            }
            print("\(letters.count) dead letters")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every header of one dead letter; its payload only with --payload (audited).")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var selection: Selection
        @Argument(help: "Position as PARTITION:OFFSET (from `dlq list`).") var position: String
        @Flag(help: "Also print the payload (patient data: the operator is responsible for where it goes).") var payload = false

        func run() async throws {
            guard let wanted = DeadLetterPosition(position) else { throw ValidationError("'\(position)' is not a position PARTITION:OFFSET") }
            let (registry, trail) = try openAuditTrail(store)
            defer { try? registry.close() }
            let queue = DeadLetterQueue(kafka: try kafka.config(store: store), trail: trail, logger: Log.quietKafka)
            let records: [KafkaConsumerMessage]
            do { records = try await queue.read(try selection.selection()) } catch let failure as DeadLetterQueue.Failure { throw CommandFailure("\(failure)") }
            guard let record = records.first(where: { wanted.matches($0) }) else {
                throw CommandFailure("no dead letter at \(position) in \(selection.topic)")
            }
            for header in record.headers { print("\(header.key): \(header.stringValue ?? "")") }
            print("key: \(record.keyString ?? "")")
            print("payload bytes: \(record.value?.count ?? 0)")
            if payload, let value = record.value {
                try trail.record(actor: operatorName, action: "dlq.payload.view", object: "\(selection.topic)/\(record.partition)/\(record.offset)")
                FileHandle.standardOutput.write(Data(value))
                print()
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to the topic they came from, to be routed with the current mappings.",
            discussion: """
            Each dead letter is replayed at most once: replays are recorded in the audit log \
            (data directory), and a position already replayed is skipped. If it fails again it \
            returns to the dead-letter topic as a new record, which can be replayed in turn. With \
            --server, one position per request runs on that process with the token's role (operator).
            """
        )
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var selection: Selection
        @Argument(help: "Positions PARTITION:OFFSET to replay; none: every selected dead letter (local only).") var positions: [String] = []
        @Option(help: "Who (default: $USER; with --server the token's name).") var author: String?

        func run() async throws {
            let wanted = try positions.map { text in
                guard let position = DeadLetterPosition(text) else { throw ValidationError("'\(text)' is not a position PARTITION:OFFSET") }
                return position
            }
            var result = DeadLetterQueue.ReplayResult()
            if let client = try remote.client() {
                guard !wanted.isEmpty else { throw ValidationError("with --server, name the positions to replay") }
                for position in wanted {
                    let one = try await client.run("POST", "v1/dlq/\(position)/replay", query: ["topic": selection.topic], as: DeadLetterQueue.ReplayResult.self)
                    result.replayed += one.replayed
                    result.alreadyReplayed += one.alreadyReplayed
                    result.unreplayable += one.unreplayable
                }
            } else {
                let (registry, trail) = try openAuditTrail(store)
                defer { try? registry.close() }
                let queue = DeadLetterQueue(kafka: try kafka.config(store: store), trail: trail, logger: Log.quietKafka)
                do {
                    result = try await queue.replay(try selection.selection(), positions: wanted, actor: author ?? operatorName, role: "local")
                } catch let failure as DeadLetterQueue.Failure {
                    throw CommandFailure("\(failure)")
                }
            }
            for object in result.unreplayable { printError("\(object): no source topic recorded; skipped") }
            for object in result.notFound { printError("\(object): no such dead letter in the selection") }
            let skipped = result.alreadyReplayed.count
            print("replayed \(result.replayed.count) dead letters\(skipped > 0 ? "; \(skipped) already replayed before" : "")")
        }
    }
}
