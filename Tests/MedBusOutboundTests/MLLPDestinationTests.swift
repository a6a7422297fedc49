@testable import MedBusKafka
@testable import MedBusOutbound
import XCTest

/// One attempt at a time against the scripted receiver: what each answer means.
final class MLLPDestinationTests: XCTestCase {
    func record(_ controlID: String, offset: Int64 = 0) -> KafkaConsumerMessage {
        KafkaConsumerMessage(
            topic: "t", partition: 0, offset: offset, key: Array("P1".utf8),
            value: Array(adtMessage(controlID: controlID, patient: "P1", sequence: Int(offset)).utf8), headers: [], timestampMilliseconds: nil)
    }

    func testAcceptedMessageIsDeliveredOverOneKeptConnection() async throws {
        let receiver = try TestMLLPReceiver()
        defer { receiver.stop() }
        let destination = MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .seconds(5))
        for n in 0..<5 { try await destination.deliver(record("C\(n)", offset: Int64(n))) }
        XCTAssertEqual(receiver.accepted, ["C0", "C1", "C2", "C3", "C4"])
        XCTAssertEqual(receiver.connections, 1, "the connection is kept between messages")
        await destination.close()
    }

    func testAnswersMapToFailures() async throws {
        let receiver = try TestMLLPReceiver { id, _ in
            switch id {
            case "AE1": .error
            case "AR1": .reject
            case "WRONG": .wrongControlID
            default: .accept
            }
        }
        defer { receiver.stop() }
        let destination = MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .seconds(5))

        await assertFailure(destination, record("AE1")) { failure in
            XCTAssertEqual(failure.kind, .rejected(code: "AE"))
            XCTAssertTrue(failure.retriable, "HL7 says AE may succeed on resend")
        }
        await assertFailure(destination, record("AR1")) { failure in
            XCTAssertEqual(failure.kind, .rejected(code: "AR"))
            XCTAssertFalse(failure.retriable)
        }
        await assertFailure(destination, record("WRONG")) { failure in
            XCTAssertEqual(failure.kind, .transient)
            XCTAssertTrue(failure.message.contains("NOT-WRONG"), failure.message)
        }
        // The mismatched ACK closed the connection; the next message goes over a new one.
        try await destination.deliver(record("OK1"))
        XCTAssertEqual(receiver.connections, 2)
    }

    func testNoAnswerTimesOutAndClosesTheConnection() async throws {
        let receiver = try TestMLLPReceiver { id, _ in id == "SLOW" ? .silent(process: false) : .accept }
        defer { receiver.stop() }
        let destination = MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .milliseconds(300))
        let start = ContinuousClock.now
        await assertFailure(destination, record("SLOW")) { failure in
            XCTAssertEqual(failure.kind, .transient)
            XCTAssertTrue(failure.message.contains("no ACK"), failure.message)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        try await destination.deliver(record("NEXT"))
        XCTAssertEqual(receiver.accepted, ["NEXT"])
        XCTAssertEqual(receiver.connections, 2, "a timed-out connection is never reused")
    }

    func testDroppedConnectionsAreTransientAndReopened() async throws {
        let receiver = try TestMLLPReceiver { id, seen in
            switch (id, seen) {
            case ("D1", 0): .dropBeforeReading
            case ("D2", 0): .dropAfterReading(process: true)
            default: .accept
            }
        }
        defer { receiver.stop() }
        let destination = MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .seconds(5))
        await assertFailure(destination, record("D1")) { XCTAssertEqual($0.kind, .transient) }
        try await destination.deliver(record("D1"))
        await assertFailure(destination, record("D2")) { XCTAssertEqual($0.kind, .transient) }
        // The resend is acknowledged, and the receiver counts the message once.
        try await destination.deliver(record("D2"))
        XCTAssertEqual(receiver.accepted, ["D1", "D2"])
        XCTAssertEqual(receiver.duplicates, 1)
    }

    func testRefusedConnectionIsTransient() async throws {
        let port = try SocketServer.freePort()
        let destination = MLLPDestination(host: "127.0.0.1", port: port, timeout: .seconds(2))
        await assertFailure(destination, record("X")) { failure in
            XCTAssertEqual(failure.kind, .transient)
            XCTAssertTrue(failure.message.contains("cannot connect"), failure.message)
        }
    }

    func testRecordThatIsNotHL7IsRejectedWithoutSending() async throws {
        let receiver = try TestMLLPReceiver()
        defer { receiver.stop() }
        let destination = MLLPDestination(host: "127.0.0.1", port: receiver.port)
        var bad = record("X")
        bad.value = Array("{\"patient\":\"secret\"}".utf8)
        await assertFailure(destination, bad) { failure in
            XCTAssertEqual(failure.kind, .rejected(code: "INVALID"))
            XCTAssertFalse(failure.retriable)
            XCTAssertFalse(failure.message.contains("secret"), "no payload in failure messages")
        }
        XCTAssertEqual(receiver.totalReceipts, 0)
    }

    func testConcurrentCallersTakeTurnsOnTheConnection() async throws {
        let receiver = try TestMLLPReceiver()
        defer { receiver.stop() }
        let destination = MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .seconds(5))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<40 {
                let record = self.record("P\(n)", offset: Int64(n))
                group.addTask { try await destination.deliver(record) }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(Set(receiver.accepted).count, 40)
        XCTAssertEqual(receiver.connections, 1)
    }

    private func assertFailure(_ destination: MLLPDestination, _ record: KafkaConsumerMessage, file: StaticString = #filePath, line: UInt = #line, _ check: (DeliveryFailure) -> Void) async {
        do {
            try await destination.deliver(record)
            XCTFail("expected a failure", file: file, line: line)
        } catch {
            check(error)
        }
    }
}
