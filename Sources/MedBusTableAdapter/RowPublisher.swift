import Foundation
import Logging
import MedBusAdapterSDK
import MedBusCore

/// Turns rows into messages and publishes them through `DurableIngest`: rows of one key one after
/// another (so a patient's rows keep their order on the partition), different keys concurrently.
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
    /// published one. A key stops at its first failure; its later rows are not attempted.
    func publish(_ items: [Item], database: any TableDatabase) async -> [Int64: Result] {
        var byKey: [String: [Item]] = [:]
        var keys: [String] = []
        for item in items {
            let key = item.row[settings.keyColumn]?.text ?? ""
            if byKey[key] == nil { keys.append(key) }
            byKey[key, default: []].append(item)
        }
        return await withTaskGroup(of: [(Int64, Result)].self) { group in
            for key in keys {
                let sequence = byKey[key]!
                group.addTask {
                    var results: [(Int64, Result)] = []
                    for item in sequence {
                        let result = await publish(item, database: database)
                        results.append((item.id, result))
                        if result == .notDone { break }
                    }
                    return results
                }
            }
            var all: [Int64: Result] = [:]
            for await results in group { for (id, result) in results { all[id] = result } }
            return all
        }
    }

    private func publish(_ item: Item, database: any TableDatabase) async -> Result {
        let inbound: DurableIngest.Inbound
        do { inbound = try message(item) } catch {
            let envelope = MessageEnvelope(source: manifest.source, messageType: "table.unreadable", contentType: "application/json")
            await ingest.recordRejection(envelope: envelope, payload: item.row.jsonObject.jsonBytes, reason: "\(error)")
            logger.warning("row rejected", metadata: ["row": "\(item.id)", "message": "\(envelope.id)", "reason": "\(error)"])
            return .rejected
        }
        let messageId: String
        switch await ingest.ingest(inbound) {
        case .accepted(let id, _), .duplicate(let id, _):
            messageId = id
        case .notPublished(_, let reason), .notStored(let reason):
            logger.warning("row not yet on Kafka; retrying", metadata: ["row": "\(item.id)", "reason": "\(reason)"])
            return .notDone
        }
        if let statusUpdate = settings.statusUpdate {
            do { _ = try await database.execute(statusUpdate, [.number(String(item.id)), .text(messageId)]) } catch {
                // The row is on Kafka; it is offered again later and answered from the store,
                // so the write-back is retried without publishing twice.
                logger.warning("status write-back failed", metadata: ["row": "\(item.id)", "error": "\(error)"])
                return .notDone
            }
        }
        return .published(messageId: messageId)
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
