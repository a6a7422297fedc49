import Foundation
import Testing

@testable import MedBusStore

/// The root of every MedBusStore suite. Serialized because several suites write 50–100 MB of real SQLite
/// data and time it: on two cores, running them side by side would only make each slower.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct StoreTests {}

/// A fresh directory under the system temp directory, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("medbus-store-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func subdirectory(_ name: String) -> String {
        URL(fileURLWithPath: path).appendingPathComponent(name).path
    }
}

/// Builds a message with a 1 KiB payload; the fields tests do not care about get plausible values.
func makeMessage(
    id: String,
    source: String = "his.h370102001",
    sourceMessageId: String? = nil,
    type: String = "ADT^A01",
    status: MessageStatus = .received,
    receivedAt: Date = Date(),
    payloadSize: Int = 1024
) -> StoredMessage {
    StoredMessage(
        id: id,
        source: source,
        sourceMessageId: sourceMessageId,
        type: type,
        contentType: "application/hl7-v2",
        status: status,
        receivedAt: receivedAt,
        correlationId: "corr-\(id)",
        payload: Data(repeating: UInt8(truncatingIfNeeded: id.hashValue), count: payloadSize))
}

/// Size of the database file plus its WAL, read from the file system: checked independently of what the
/// store reports about itself.
func databaseBytesOnDisk(_ store: MessageStore) -> Int64 {
    [store.databasePath, store.databasePath + "-wal"].reduce(0) { total, path in
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        return total + (size ?? 0)
    }
}

extension MessageSummary {
    /// What `search` should return for a stored message.
    init(_ message: StoredMessage) {
        self.init(
            id: message.id,
            source: message.source,
            sourceMessageId: message.sourceMessageId,
            type: message.type,
            contentType: message.contentType,
            status: message.status,
            receivedAt: message.receivedAt,
            updatedAt: message.updatedAt,
            correlationId: message.correlationId,
            topic: message.topic,
            partition: message.partition,
            offset: message.offset,
            error: message.error,
            payloadSize: message.payload.count)
    }
}
