import Foundation
import GRDB
import Testing

@testable import MedBusStore

extension StoreTests {
    @Suite struct QueryPlans {
        /// Every supported filter must be an index lookup, and "newest first" must come from the index, not
        /// from sorting: with millions of rows, either mistake turns a search into a full scan.
        @Test(arguments: [
            MessageQuery(),
            MessageQuery(id: "m-1"),
            MessageQuery(source: "his.a"),
            MessageQuery(type: "ADT^A01"),
            MessageQuery(status: .failed),
            MessageQuery(from: Date(timeIntervalSince1970: 1_700_000_000)),
            MessageQuery(
                from: Date(timeIntervalSince1970: 1_700_000_000), to: Date(timeIntervalSince1970: 1_700_086_400)),
            MessageQuery(source: "his.a", from: Date(timeIntervalSince1970: 1_700_000_000)),
            MessageQuery(type: "ORU^R01", to: Date(timeIntervalSince1970: 1_700_000_000)),
            MessageQuery(source: "his.a", type: "ADT^A01", status: .received),
        ])
        func searchUsesAnIndex(query: MessageQuery) throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }

            for (sql, arguments) in [query.searchStatement, query.countStatement] {
                let plan = try store.pool.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments)
                        .map { row -> String in try row.decode(forColumn: "detail") }
                }
                let unindexedScans = plan.filter { $0.contains("SCAN") && !$0.contains("USING") }
                #expect(unindexedScans.isEmpty, "\(sql): \(plan)")
                #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(sql): \(plan)")
            }
        }

        @Test func limitAndHalfOpenTimeRange() throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            let start = Date(timeIntervalSince1970: 1_750_000_000)
            let messages = (0..<10).map { makeMessage(id: "m-\($0)", receivedAt: start.addingTimeInterval(Double($0))) }
            _ = try store.insertBatch(messages.shuffled())

            #expect(try store.search(MessageQuery(limit: 3)).map(\.id) == ["m-9", "m-8", "m-7"])
            #expect(try store.search(MessageQuery(limit: 0)).isEmpty)
            let window = MessageQuery(from: start.addingTimeInterval(2), to: start.addingTimeInterval(5))
            #expect(try store.search(window).map(\.id) == ["m-4", "m-3", "m-2"])
            #expect(try store.count(window) == 3)
            #expect(try store.search(MessageQuery(id: "m-4", source: "elsewhere")).isEmpty)
            #expect(try store.search(MessageQuery(id: "m-4")).first?.payloadSize == 1_024)
        }
    }
}
