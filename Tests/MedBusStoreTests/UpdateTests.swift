import Foundation
import Testing

@testable import MedBusStore

extension StoreTests {
    @Suite struct Updates {
        @Test func statusTransitionsAreStoredAndStamped() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            let received = Date(timeIntervalSinceNow: -60)
            let message = makeMessage(id: "m-1", receivedAt: received)
            #expect(try await store.insert(message) == .inserted)

            try await store.markPublished(id: "m-1", topic: "medbus.inbound.adt", partition: 3, offset: 42)
            var stored = try #require(try store.message(id: "m-1"))
            #expect(stored.status == .published)
            #expect(stored.topic == "medbus.inbound.adt")
            #expect(stored.partition == 3)
            #expect(stored.offset == 42)
            #expect(stored.receivedAt == message.receivedAt)
            #expect(stored.updatedAt > received)

            try await store.markFailed(id: "m-1", error: "PID-3 missing")
            stored = try #require(try store.message(id: "m-1"))
            #expect(stored.status == .failed)
            #expect(stored.error == "PID-3 missing")

            try await store.setStatus(id: "m-1", status: .deadLettered, error: "retries exhausted")
            #expect(try store.message(id: "m-1")?.status == .deadLettered)
            try await store.setStatus(id: "m-1", status: .routed)
            stored = try #require(try store.message(id: "m-1"))
            #expect(stored.status == .routed)
            #expect(stored.error == nil)

            let ack = Data("MSH|^~\\&|MEDBUS\rMSA|AA|m-1".utf8)
            try await store.setAck(id: "m-1", ack: ack)
            stored = try #require(try store.message(id: "m-1"))
            #expect(stored.ackPayload == ack)
            #expect(stored.payload == message.payload)
        }

        /// Bulk bookkeeping: locations and acknowledgements of many messages in one write; an unknown id
        /// is reported and changes nothing else.
        @Test func deliveriesAreRecordedInBulk() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            #expect(try await store.insert([makeMessage(id: "d-1"), makeMessage(id: "d-2"), makeMessage(id: "d-3")]) == [.inserted, .inserted, .inserted])

            let missing = try await store.record([
                Delivery(id: "d-1", kafka: .init(topic: "raw.his.h1", partition: 2, offset: 7), ack: Data("ACK-1".utf8)),
                Delivery(id: "d-2", kafka: .init(topic: "raw.his.h1", partition: 0, offset: 8)),
                Delivery(id: "nope", kafka: .init(topic: "raw.his.h1", partition: 0, offset: 9)),
                Delivery(id: "d-3", ack: Data("ACK-3".utf8)),
            ])
            #expect(missing == ["nope"])
            let first = try #require(try store.message(id: "d-1"))
            #expect(first.status == .published && first.partition == 2 && first.offset == 7 && first.ackPayload == Data("ACK-1".utf8))
            let second = try #require(try store.message(id: "d-2"))
            #expect(second.status == .published && second.offset == 8 && second.ackPayload == nil)
            let third = try #require(try store.message(id: "d-3"))
            #expect(third.status == .received && third.ackPayload == Data("ACK-3".utf8))
        }

        @Test func updatingAMissingRowThrowsNotFound() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }

            await #expect(throws: StoreError.notFound(id: "nope")) {
                try await store.markPublished(id: "nope", topic: "t", partition: 0, offset: 0)
            }
            await #expect(throws: StoreError.notFound(id: "nope")) {
                try await store.markFailed(id: "nope", error: "x")
            }
            await #expect(throws: StoreError.notFound(id: "nope")) { try await store.setAck(id: "nope", ack: Data()) }
        }

        /// A failing write in a group-commit batch is rolled back alone; its neighbours commit.
        @Test func aFailingWriteDoesNotFailItsBatch() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            let ids = (0..<200).map { "m-\($0)" }
            _ = try store.insertBatch(ids.map { makeMessage(id: $0) })

            let results = await withTaskGroup(of: (String, String).self) { group in
                for (i, id) in ids.enumerated() {
                    let target = i.isMultiple(of: 3) ? "missing-\(i)" : id
                    group.addTask {
                        do {
                            try await store.markPublished(id: target, topic: "t", partition: 0, offset: Int64(i))
                            return (target, "published")
                        } catch {
                            return (target, "\(error)")
                        }
                    }
                }
                return await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
            }

            for (i, id) in ids.enumerated() {
                if i.isMultiple(of: 3) {
                    #expect(results["missing-\(i)"] == StoreError.notFound(id: "missing-\(i)").description)
                    #expect(try store.message(id: id)?.status == .received)
                } else {
                    #expect(results[id] == "published")
                    #expect(try store.message(id: id)?.status == .published)
                }
            }
        }
    }
}
