import Foundation
import Logging
import MedBusAdapterSDK
import MedBusCore

/// Turns rows into messages and publishes a polled batch of them through `DurableIngest` at once:
/// one store transaction and one produce call for all rows. Rows of one key are handed over in
/// order, so the idempotent producer keeps them in that order on their partition.
struct RowPublisher: Sendable {
    let manifest: AdapterManifest
    let settings: TableAdapterSettings
    let topic: String
    let ingest: DurableIngest
    let logger: Logger

    /// A row to publish, with its id and (for `republish`) the version it is published with.
    struct Item: Sendable {
        var id: Int64
        var row: TableRow
        var version: String?
    }

    /// What became of each item: published (or already on Kafka), with the MedBus message id;
    /// rejected (cannot become a message, kept in the store); or not done (retry later).
    enum Result: Sendable, Equatable {
        case published(messageId: String)
        case rejected
        case notDone
    }

    /// Publishes `items` (in the order given per key) and runs the status write-back for each
    /// published one. Within a key, everything after the first row that is not done counts as not
    /// done, even if Kafka took it: the poller's mark stops before that row, and the rows after it
    /// are offered again later and answered from the store, never published twice. (Kafka keeps a
    /// key's rows in order unless one fails for good while a later one succeeds — a permanent
    /// per-record error such as an oversized row, which then blocks the key anyway.)
    func publish(_ items: [Item], database: any TableDatabase) async -> [Int64: Result] {
        var results: [Int64: Result] = [:]
        var messages: [(item: Item, inbound: DurableIngest.Inbound)] = []
        for item in items {
            do { messages.append((item, try message(item))) } catch {
                let envelope = MessageEnvelope(source: manifest.source, messageType: "table.unreadable", contentType: "application/json")
                await ingest.recordRejection(envelope: envelope, payload: item.row.jsonObject.jsonBytes, reason: "\(error)")
                logger.warning("row rejected", metadata: ["row": "\(item.id)", "message": "\(envelope.id)", "reason": "\(error)"])
                results[item.id] = .rejected
            }
        }
        let outcomes = await ingest.ingest(messages.map(\.inbound))

        // Per key, in order: rows on Kafka get their write-back; the first row that is not done
        // stops its key.
        var byKey: [String: [(id: Int64, messageId: String?)]] = [:]
        var keys: [String] = []
        for ((item, inbound), outcome) in zip(messages, outcomes) {
            let key = inbound.key ?? ""
            if byKey[key] == nil { keys.append(key) }
            switch outcome {
            case .accepted(let id, _), .duplicate(let id, _):
                byKey[key, default: []].append((item.id, id))
            case .notPublished(_, let reason), .notStored(let reason):
                logger.warning("row not yet on Kafka; retrying", metadata: ["row": "\(item.id)", "reason": "\(reason)"])
                byKey[key, default: []].append((item.id, nil))
            }
        }
        return await withTaskGroup(of: [(Int64, Result)].self) { group in
            for key in keys {
                let sequence = byKey[key]!
                group.addTask {
                    var done: [(Int64, Result)] = []
                    for (index, row) in sequence.enumerated() {
                        guard let messageId = row.messageId, await writeBack(row.id, messageId: messageId, database: database) else {
                            return done + sequence[index...].map { ($0.id, .notDone) }
                        }
                        done.append((row.id, .published(messageId: messageId)))
                    }
                    return done
                }
            }
            for await keyResults in group { for (id, result) in keyResults { results[id] = result } }
            return results
        }
    }

    /// Runs the manifest's status write-back, if any, for a row that is on Kafka.
    /// - Returns: false if it failed (the row is offered again later and answered from the store,
    ///   so the write-back is retried without publishing twice).
    private func writeBack(_ rowId: Int64, messageId: String, database: any TableDatabase) async -> Bool {
        guard let statusUpdate = settings.statusUpdate else { return true }
        do {
            _ = try await database.execute(statusUpdate, [.number(String(rowId)), .text(messageId)])
            return true
        } catch {
            logger.warning("status write-back failed", metadata: ["row": "\(rowId)", "error": "\(error)"])
            return false
        }
    }

    /// - Throws: `RowError` when the row lacks what a message needs.
    func message(_ item: Item) throws -> DurableIngest.Inbound {
        let row = item.row
        let type: String
        if let fixed = settings.messageType { type = fixed } else {
            guard let column = settings.messageTypeColumn, let value = row[column]?.text, !value.isEmpty else {
                throw RowError("column '\(settings.messageTypeColumn ?? "")' (the message type) is missing or null")
            }
            type = value
        }
        let payload: [UInt8]
        if let column = settings.payloadColumn {
            switch row[column] {
            case nil: throw RowError("column '\(column)' (the payload) is not in the query's result")
            case .null?: throw RowError("column '\(column)' (the payload) is null")
            case .bytes(let bytes)?: payload = bytes
            case let value?: payload = Array((value.text ?? "").utf8)
            }
        } else {
            payload = row.jsonObject.jsonBytes
        }
        let sourceMessageId = item.version.map { "\(manifest.name):\(item.id)@\($0)" } ?? "\(manifest.name):\(item.id)"
        let envelope = MessageEnvelope(source: manifest.source, sourceMessageId: sourceMessageId, messageType: type, contentType: settings.contentType)
        return DurableIngest.Inbound(envelope: envelope, topic: topic, key: row[settings.keyColumn]?.text ?? String(item.id), payload: payload)
    }
}

struct RowError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
