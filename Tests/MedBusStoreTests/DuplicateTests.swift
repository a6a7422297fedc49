import Foundation
import Testing

@testable import MedBusStore

extension StoreTests {
    @Suite struct Duplicates {
        @Test func sameIdOrSameSourceMessageIdIsADuplicateOfTheOriginal() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            var original = makeMessage(id: "m-1", source: "his.a", sourceMessageId: "MSH10-1")
            original.ackPayload = Data("MSA|AA|MSH10-1".utf8)
            #expect(try await store.insert(original) == .inserted)

            let sameId = makeMessage(id: "m-1", source: "his.b", sourceMessageId: "other")
            #expect(try await store.insert(sameId) == .duplicate(existing: original))
            let retransmission = makeMessage(id: "m-2", source: "his.a", sourceMessageId: "MSH10-1")
            #expect(try await store.insert(retransmission) == .duplicate(existing: original))

            // The sender's id is unique per source only, and messages without one never collide.
            let otherSource = makeMessage(id: "m-3", source: "his.b", sourceMessageId: "MSH10-1")
            #expect(try await store.insert(otherSource) == .inserted)
            #expect(try await store.insert(makeMessage(id: "m-4", source: "his.a")) == .inserted)
            #expect(try await store.insert(makeMessage(id: "m-5", source: "his.a")) == .inserted)
            #expect(try store.count(MessageQuery()) == 4)
        }

        @Test func duplicatesInABatchDoNotFailTheOtherRows() throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            let original = makeMessage(id: "m-1", source: "his.a", sourceMessageId: "MSH10-1")
            #expect(try store.insertBatch([original]) == [.inserted])

            let fresh1 = makeMessage(id: "m-2", source: "his.a", sourceMessageId: "MSH10-2")
            let fresh2 = makeMessage(id: "m-3", source: "his.a", sourceMessageId: "MSH10-3")
            let outcomes = try store.insertBatch([
                fresh1,
                makeMessage(id: "m-1", source: "his.z"),
                fresh2,
                makeMessage(id: "m-9", source: "his.a", sourceMessageId: "MSH10-1"),
                makeMessage(id: "m-2", source: "his.q"),  // collides with a row of this same batch
            ])

            #expect(
                outcomes == [
                    .inserted, .duplicate(existing: original), .inserted, .duplicate(existing: original),
                    .duplicate(existing: fresh1),
                ])
            #expect(try store.message(id: "m-2") == fresh1)
            #expect(try store.message(id: "m-3") == fresh2)
            #expect(try store.message(id: "m-9") == nil)
            #expect(try store.count(MessageQuery()) == 3)
        }

        /// Duplicates racing each other through group commit: exactly one of each wins, the others get its row.
        @Test func concurrentRetransmissionsStoreOneRow() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            let senders = 10
            let copies = 20

            let outcomes = try await withThrowingTaskGroup(of: (Int, InsertOutcome).self) { group in
                for sender in 0..<senders {
                    for copy in 0..<copies {
                        group.addTask {
                            let message = makeMessage(
                                id: "m-\(sender)-\(copy)", source: "his.\(sender)", sourceMessageId: "MSH10-1")
                            return (sender, try await store.insert(message))
                        }
                    }
                }
                return try await group.reduce(into: [Int: [InsertOutcome]]()) { $0[$1.0, default: []].append($1.1) }
            }

            for sender in 0..<senders {
                let stored = try #require(try store.message(source: "his.\(sender)", sourceMessageId: "MSH10-1"))
                let forSender = try #require(outcomes[sender])
                #expect(forSender.filter { $0 == .inserted }.count == 1)
                #expect(forSender.filter { $0 == .duplicate(existing: stored) }.count == copies - 1)
            }
            #expect(try store.count(MessageQuery()) == senders)
        }
    }
}
