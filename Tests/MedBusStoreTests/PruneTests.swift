import Foundation
import Testing

@testable import MedBusStore

extension StoreTests {
    @Suite struct Pruning {
        @Test func pruneDeletesOldRowsAndShrinksTheFiles() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            let now = Date()
            let cutoff = now.addingTimeInterval(-30 * 86_400)
            let old = (0..<50_000).map { i in
                makeMessage(
                    id: "old-\(i)", sourceMessageId: "o-\(i)", receivedAt: cutoff.addingTimeInterval(-Double(i + 1)))
            }
            let recent = (0..<1_000).map { i in
                makeMessage(id: "new-\(i)", sourceMessageId: "n-\(i)", receivedAt: now.addingTimeInterval(-Double(i)))
            }
            for chunk in stride(from: 0, to: old.count, by: 5_000) {
                _ = try store.insertBatch(Array(old[chunk..<chunk + 5_000]))
            }
            for message in recent {
                #expect(try await store.insert(message) == .inserted)
            }
            // A message received exactly at the cutoff is kept: only older ones go.
            #expect(try await store.insert(makeMessage(id: "at-cutoff", receivedAt: cutoff)) == .inserted)
            let bytesBefore = databaseBytesOnDisk(store)

            let clock = ContinuousClock()
            var result: PruneResult?
            let elapsed = try clock.measure { result = try store.prune(olderThan: cutoff) }
            let pruned = try #require(result)
            let bytesAfter = databaseBytesOnDisk(store)
            print(
                "prune: deleted \(pruned.deletedRows) rows in \(elapsed); database + WAL "
                    + "\(pruned.fileBytesBefore) -> \(pruned.fileBytesAfter) bytes")

            #expect(pruned.deletedRows == 50_000)
            #expect(pruned.fileBytesBefore == bytesBefore)
            #expect(pruned.fileBytesAfter == bytesAfter)
            #expect(bytesAfter < bytesBefore / 2, "\(bytesBefore) -> \(bytesAfter) bytes")
            #expect(try store.count(MessageQuery()) == 1_001)
            #expect(try store.message(id: "old-0") == nil)
            #expect(try store.message(id: "old-49999") == nil)
            #expect(try store.message(id: "at-cutoff") != nil)
            #expect(try store.search(MessageQuery(limit: 2_000)).map(\.id).filter { $0.hasPrefix("new-") }
                == recent.map(\.id))
            #expect(try store.integrityCheck())

            // The freed sender ids can be used again, and the store goes on working.
            #expect(try await store.insert(makeMessage(id: "again", sourceMessageId: "o-0")) == .inserted)
            #expect(try store.prune(olderThan: cutoff).deletedRows == 0)
        }
    }
}
