import Foundation
import MedBusCore

/// Parsed prescription documents by prescription id. A document never changes once signed, so the answers
/// and events of a prescription's claim, review and dispense can share one parse instead of one each (on the
/// claim path the parse cost as much as the rest of the answer, and the event's is inside the store's writer).
/// Two generations bound it: when the newer is full it becomes the older, and the older is dropped.
final class RxDocumentCache: @unchecked Sendable {
    private let lock = NSLock()
    private let capacity: Int
    private var newer: [String: JSONValue] = [:]
    private var older: [String: JSONValue] = [:]

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// `record`'s document, parsed (`.null` if it does not parse, which a document the store wrote always does).
    func document(of record: RxRecord) -> JSONValue {
        if let hit = lock.withLock({ newer[record.id] ?? older[record.id] }) { return hit }
        let parsed = (try? JSONValue.parse(record.document)) ?? .null
        lock.withLock {
            if newer.count >= capacity {
                older = newer
                newer = [:]
            }
            newer[record.id] = parsed
        }
        return parsed
    }
}
