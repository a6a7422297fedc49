@testable import MedBusKafka
@testable import MedBusOutbound
import XCTest

final class PolicyAndDeadLetterTests: XCTestCase {
    func testBackoffDoublesWithJitterUpToTheCap() {
        let policy = DeliveryPolicy(maxAttempts: 10, initialBackoff: .milliseconds(200), maxBackoff: .seconds(30))
        XCTAssertEqual(policy.backoff(afterAttempt: 1, random: 0), .milliseconds(100), "half fixed…")
        XCTAssertEqual(policy.backoff(afterAttempt: 1, random: 1), .milliseconds(200), "…half random")
        XCTAssertEqual(policy.backoff(afterAttempt: 2, random: 1), .milliseconds(400))
        XCTAssertEqual(policy.backoff(afterAttempt: 4, random: 1), .milliseconds(1600))
        XCTAssertEqual(policy.backoff(afterAttempt: 20, random: 1), .seconds(30), "capped")
        XCTAssertEqual(policy.backoff(afterAttempt: 200, random: 0), .seconds(15), "no overflow")
        XCTAssertEqual(policy.backoff(afterAttempt: 1, random: 0, atLeast: .seconds(5)), .seconds(5), "Retry-After honoured")
        XCTAssertEqual(policy.backoff(afterAttempt: 1, random: 0, atLeast: .seconds(500)), .seconds(30), "up to the cap")
        XCTAssertEqual(DeliveryPolicy(maxAttempts: 0).maxAttempts, 1)
    }

    func testDeadLetterKeepsTheRecordAndReplacesOldErrorHeaders() {
        let record = KafkaConsumerMessage(
            topic: "src", partition: 2, offset: 41, key: Array("P1".utf8), value: Array("MSH|x".utf8),
            headers: [KafkaHeader(key: "medbus-message-id", string: "m1"), KafkaHeader(key: "medbus-error-reason", string: "old")],
            timestampMilliseconds: nil)
        let failure = DeliveryFailure.transient("no ACK for C1 within 10s")
        let letter = DeadLetter.record(for: record, failure: failure, attempts: 10, maxAttempts: 10, destination: "ed", topic: "dlq.outbound")
        XCTAssertEqual(letter.topic, "dlq.outbound")
        XCTAssertEqual(letter.key, record.key)
        XCTAssertEqual(letter.value, record.value)
        XCTAssertEqual(letter.headers.string("medbus-message-id"), "m1")
        XCTAssertEqual(letter.headers.filter { $0.key == "medbus-error-reason" }.map(\.stringValue), ["max-attempts:transient"])
        XCTAssertEqual(letter.headers.string("medbus-original-partition"), "2")
        XCTAssertEqual(letter.headers.string("medbus-original-offset"), "41")
        XCTAssertEqual(letter.headers.string("medbus-attempts"), "10")
    }
}
