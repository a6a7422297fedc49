import Foundation
import GRDB
import MedBusCrypto
import Testing

@testable import MedBusStore

extension StoreTests {
    /// Payloads at rest sealed with a `PayloadKeyring`; searches and reads keep working.
    @Suite struct PayloadEncryption {
        static let patients = [("张三", "370102199001011234"), ("李四", "370102198505052222"), ("WANG^WU", "370102197012123333")]
        static let needles = patients.flatMap { [$0.0, $0.1] }

        static func hl7(_ index: Int) -> StoredMessage {
            let (name, certno) = patients[index % patients.count]
            let payload = "MSH|^~\\&|HIS|H1|MEDBUS|MB|20261124100000||ADT^A01|C\(index)|P|2.5\rPID|1||\(certno)^^^^ID||\(name)||19900101|M\r"
            return StoredMessage(id: "msg-\(index)", source: "his.h\(index % 2)", sourceMessageId: "C\(index)", type: index % 3 == 0 ? "ORU^R01" : "ADT^A01",
                                 contentType: "application/hl7-v2", status: index % 4 == 0 ? .published : .received,
                                 receivedAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(index)), payload: Data(payload.utf8))
        }

        static func keyring(_ keys: [(String, [UInt8])], current: String) throws -> PayloadKeyring {
            try PayloadKeyring(keys: Dictionary(uniqueKeysWithValues: keys), current: current)
        }

        /// Every sample patient's name or id found in the database file or its WAL.
        static func clearTextFound(_ store: MessageStore) throws -> [String] {
            let files = [store.databasePath, store.databasePath + "-wal"].compactMap { FileManager.default.contents(atPath: $0) }
            #expect(files.count == 2, "the WAL holds the recent commits")
            return needles.filter { needle in files.contains { $0.range(of: Data(needle.utf8)) != nil } }
        }

        @Test func rawFilesHoldNoPatientDataWhileSearchAndReadsWork() async throws {
            let directory = try TemporaryDirectory()
            let k1 = PayloadKeyring.generateKey()
            let store = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k1", k1)], current: "k1"))
            defer { try? store.close() }
            for index in 0..<30 { #expect(try await store.insert(Self.hl7(index)) == .inserted) }
            _ = try store.insertBatch((30..<60).map(Self.hl7))
            try await store.setAck(id: "msg-1", ack: Data("MSA|AA|C1\rPID|1||\(Self.patients[1].1)".utf8))
            #expect(try Self.clearTextFound(store) == [])

            // Searches filter on the clear columns and report the clear payload size.
            #expect(try store.count(MessageQuery(source: "his.h0")) == 30)
            #expect(try store.count(MessageQuery(type: "ORU^R01")) == 20)
            #expect(try store.count(MessageQuery(status: .published)) == 15)
            let window = try store.search(MessageQuery(from: Date(timeIntervalSince1970: 1_790_000_010), to: Date(timeIntervalSince1970: 1_790_000_020)))
            #expect(window.count == 10)
            #expect(window.first?.payloadSize == Self.hl7(19).payload.count)
            // Reads, duplicates and acknowledgements come back in clear.
            #expect(try store.message(id: "msg-7") == Self.hl7(7))
            #expect(try store.message(source: "his.h1", sourceMessageId: "C41") == Self.hl7(41))
            #expect(try await store.insert(Self.hl7(5)) == .duplicate(existing: Self.hl7(5)))
            #expect(try store.message(id: "msg-1")?.ackPayload == Data("MSA|AA|C1\rPID|1||\(Self.patients[1].1)".utf8))
            #expect(try store.payloadKeyUsage() == ["k1": 60])
        }

        /// The control: the same inserts without a keyring leave the names in the file, so the check above can fail.
        @Test func withoutAKeyringPayloadsAreInClear() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path)
            defer { try? store.close() }
            for index in 0..<6 { _ = try await store.insert(Self.hl7(index)) }
            #expect(try Self.clearTextFound(store).count == Self.needles.count)
            #expect(try store.payloadKeyUsage() == [nil: 6])
        }

        @Test func rotationKeepsOldRowsReadableAndClearRowsToo() async throws {
            let directory = try TemporaryDirectory()
            let k1 = PayloadKeyring.generateKey(), k2 = PayloadKeyring.generateKey()
            let clear = try MessageStore.open(directory: directory.path)
            _ = try await clear.insert(Self.hl7(0))
            try clear.close()
            let first = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k1", k1)], current: "k1"))
            for index in 1..<10 { _ = try await first.insert(Self.hl7(index)) }
            try first.close()

            let rotated = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k1", k1), ("k2", k2)], current: "k2"))
            defer { try? rotated.close() }
            for index in 10..<15 { _ = try await rotated.insert(Self.hl7(index)) }
            for index in 0..<15 { #expect(try rotated.message(id: "msg-\(index)") == Self.hl7(index)) }
            // An acknowledgement joins its row's key, even after the rotation.
            try await rotated.setAck(id: "msg-3", ack: Data("ACK-3".utf8))
            try await rotated.setAck(id: "msg-0", ack: Data("ACK-0".utf8))
            #expect(try rotated.message(id: "msg-3")?.ackPayload == Data("ACK-3".utf8))
            #expect(try rotated.message(id: "msg-0")?.ackPayload == Data("ACK-0".utf8))
            #expect(try rotated.payloadKeyUsage() == [nil: 1, "k1": 9, "k2": 5])
        }

        @Test func aWrongOrMissingKeyIsASpecificErrorNamingTheKey() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k1", PayloadKeyring.generateKey())], current: "k1"))
            _ = try await store.insert(Self.hl7(1))
            try store.close()

            let impostor = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k1", PayloadKeyring.generateKey())], current: "k1"))
            #expect(throws: StoreError.payloadKeyMismatch(id: "msg-1", keyID: "k1")) { try impostor.message(id: "msg-1") }
            #expect(try impostor.count(MessageQuery(source: "his.h1")) == 1, "searches need no key")
            #expect("\(StoreError.payloadKeyMismatch(id: "msg-1", keyID: "k1"))".contains("'k1'"))
            try impostor.close()

            let otherKeys = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k9", PayloadKeyring.generateKey())], current: "k9"))
            #expect(throws: StoreError.payloadKeyMissing(id: "msg-1", keyID: "k1")) { try otherKeys.message(id: "msg-1") }
            await #expect(throws: StoreError.payloadKeyMissing(id: "msg-1", keyID: "k1")) { try await otherKeys.setAck(id: "msg-1", ack: Data("A".utf8)) }
            try otherKeys.close()

            let noKeys = try MessageStore.open(directory: directory.path)
            defer { try? noKeys.close() }
            #expect(throws: StoreError.payloadKeyMissing(id: "msg-1", keyID: "k1")) { try noKeys.message(id: "msg-1") }
        }

        /// The row id is the associated data: a sealed payload moved to another row does not open there.
        @Test func sealedPayloadsCannotBeSwappedBetweenRows() async throws {
            let directory = try TemporaryDirectory()
            let store = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k1", PayloadKeyring.generateKey())], current: "k1"))
            defer { try? store.close() }
            _ = try await store.insert(Self.hl7(1))
            _ = try await store.insert(Self.hl7(2))
            try await store.pool.write { db in
                try db.execute(sql: "UPDATE messages SET payload = (SELECT payload FROM messages WHERE id = 'msg-2') WHERE id = 'msg-1'")
            }
            #expect(throws: StoreError.payloadKeyMismatch(id: "msg-1", keyID: "k1")) { try store.message(id: "msg-1") }
            #expect(try store.message(id: "msg-2") == Self.hl7(2))
        }

        /// A database written before encryption (schema v1) is rebuilt by the v2 migration: rows keep
        /// every field and read back in clear.
        @Test func aVersion1DatabaseIsUpgraded() async throws {
            let directory = try TemporaryDirectory()
            let v1 = try DatabaseQueue(path: directory.subdirectory("medbus.sqlite"))
            try await v1.write { db in
                try db.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1-messages');
                    CREATE TABLE messages (
                        id TEXT NOT NULL PRIMARY KEY, source TEXT NOT NULL, source_message_id TEXT, type TEXT NOT NULL,
                        content_type TEXT NOT NULL, status TEXT NOT NULL, received_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                        correlation_id TEXT, topic TEXT, kafka_partition INTEGER, kafka_offset INTEGER, error TEXT,
                        payload BLOB NOT NULL, ack_payload BLOB
                    ) STRICT;
                    INSERT INTO messages VALUES ('old-1', 'his.h1', 'C1', 'ADT^A01', 'application/hl7-v2', 'published',
                        1790000000000000, 1790000000000000, NULL, 'raw.his.h1', 0, 7, NULL, X'4D5348', X'41434B');
                    """)
            }
            try v1.close()
            let store = try MessageStore.open(directory: directory.path, keyring: Self.keyring([("k1", PayloadKeyring.generateKey())], current: "k1"))
            defer { try? store.close() }
            let old = try #require(try store.message(id: "old-1"))
            #expect(old.payload == Data("MSH".utf8))
            #expect(old.ackPayload == Data("ACK".utf8))
            #expect(old.offset == 7)
            #expect(try store.search(MessageQuery(source: "his.h1")).map(\.payloadSize) == [3])
            #expect(try store.payloadKeyUsage() == [nil: 1])
        }
    }
}
