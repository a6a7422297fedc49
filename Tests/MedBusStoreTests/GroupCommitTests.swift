import Foundation
import Testing

@testable import MedBusStore

extension StoreTests {
    @Suite struct GroupCommit {
        /// 100,000 messages: 90,000 through `insert` from 100 concurrent tasks, while 10,000 more go in through
        /// `insertBatch` from another thread; then every kind of lookup is checked against the generated data.
        @Test func hundredThousandMessagesAreStoredAndFound() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }

            let sources = (0..<10).map { "his.h37010200\($0)" }
            let types = ["ADT^A01", "ADT^A08", "ORM^O01", "ORU^R01", "SIU^S12", "DFT^P03", "MDM^T02"]
            let start = Date(timeIntervalSince1970: 1_750_000_000)
            let messages = (0..<100_000).map { i in
                makeMessage(
                    id: "m-\(i)",
                    source: sources[i % sources.count],
                    sourceMessageId: i.isMultiple(of: 2) ? "msh-\(i)" : nil,
                    type: types[i % types.count],
                    status: MessageStatus.allCases[i % MessageStatus.allCases.count],
                    receivedAt: start.addingTimeInterval(Double(i) / 1000))
            }
            let viaInsert = Array(messages[..<90_000])
            let viaBatch = Array(messages[90_000...])
            let transactionsBefore = store.writer.transactionCount

            let clock = ContinuousClock()
            let elapsed = try await clock.measure {
                async let batches: Void = insertInBatchesOffTheCooperativePool(viaBatch, into: store)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<100 {
                        group.addTask {
                            for message in stride(from: task, to: viaInsert.count, by: 100).map({ viaInsert[$0] }) {
                                let outcome = try await store.insert(message)
                                #expect(outcome == .inserted)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                try await batches
            }
            let transactions = store.writer.transactionCount - transactionsBefore
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                "group commit: 100,000 inserts (90,000 via insert from 100 tasks, 10,000 via insertBatch) in "
                    + "\(String(format: "%.2f", seconds)) s = \(Int(Double(messages.count) / seconds)) inserts/s; "
                    + "\(transactions) group-commit transactions for 90,000 inserts "
                    + "(\(viaInsert.count / max(1, transactions)) per transaction)")

            #expect(try store.count(MessageQuery()) == 100_000)

            // Newest first, whatever the filter.
            func expected(_ isIncluded: (StoredMessage) -> Bool) -> [MessageSummary] {
                messages.filter(isIncluded).sorted { $0.receivedAt > $1.receivedAt }.map(MessageSummary.init)
            }

            let probe = messages[54_320]
            #expect(try store.search(MessageQuery(id: probe.id)) == [MessageSummary(probe)])
            #expect(try store.message(id: probe.id) == probe)
            let probeSenderId = try #require(probe.sourceMessageId)
            #expect(try store.message(source: probe.source, sourceMessageId: probeSenderId) == probe)
            #expect(try store.message(id: "m-100000") == nil)

            let source = sources[3]
            let bySource = expected { $0.source == source }
            #expect(try store.search(MessageQuery(source: source, limit: 100_000)) == bySource)
            #expect(try store.count(MessageQuery(source: source)) == bySource.count)

            let byType = expected { $0.type == "ORU^R01" }
            #expect(try store.search(MessageQuery(type: "ORU^R01")) == Array(byType.prefix(100)))
            #expect(try store.count(MessageQuery(type: "ORU^R01")) == byType.count)

            let byStatus = expected { $0.status == .failed }
            #expect(try store.search(MessageQuery(status: .failed, limit: 100_000)) == byStatus)
            #expect(try store.count(MessageQuery(status: .failed)) == byStatus.count)

            let from = start.addingTimeInterval(12.5)
            let to = start.addingTimeInterval(47.25)
            let byTime = expected { $0.receivedAt >= from && $0.receivedAt < to }
            #expect(byTime.count == 34_750)
            #expect(try store.search(MessageQuery(from: from, to: to, limit: 100_000)) == byTime)
            #expect(try store.count(MessageQuery(from: from, to: to)) == byTime.count)

            let combined = expected { $0.source == source && $0.status == .published && $0.receivedAt >= from }
            #expect(
                try store.search(MessageQuery(source: source, status: .published, from: from, limit: 100_000))
                    == combined)
        }

        /// Many concurrent inserts must share transactions: that is what makes one fsync serve many senders.
        @Test func concurrentInsertsShareTransactions() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            let inserts = 2_000
            let transactionsBefore = store.writer.transactionCount

            try await withThrowingTaskGroup(of: InsertOutcome.self) { group in
                for i in 0..<inserts {
                    group.addTask { try await store.insert(makeMessage(id: "g-\(i)")) }
                }
                for try await outcome in group {
                    #expect(outcome == .inserted)
                }
            }

            let transactions = store.writer.transactionCount - transactionsBefore
            #expect(transactions >= 1)
            #expect(transactions <= inserts / 20, "\(inserts) concurrent inserts took \(transactions) transactions")
            #expect(try store.count(MessageQuery()) == inserts)
        }

        /// Synchronous SQLite work belongs on a plain thread, not on one of the few cooperative threads.
        private func insertInBatchesOffTheCooperativePool(_ messages: [StoredMessage], into store: MessageStore)
            async throws
        {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global().async {
                    do {
                        for chunk in stride(from: 0, to: messages.count, by: 1_000) {
                            let end = min(chunk + 1_000, messages.count)
                            let outcomes = try store.insertBatch(Array(messages[chunk..<end]))
                            guard outcomes.allSatisfy({ $0 == .inserted }) else {
                                throw StoreError.sqlite("insertBatch reported a duplicate")
                            }
                        }
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        }
    }
}
