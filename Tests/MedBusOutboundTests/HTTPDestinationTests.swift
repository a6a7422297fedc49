@testable import MedBusKafka
@testable import MedBusOutbound
import XCTest

/// The HTTP transport, one attempt at a time, and the dispatcher over it.
final class HTTPDestinationTests: XCTestCase {
    func record(_ id: String, key: String = "K", sequence: Int = 0) -> KafkaConsumerMessage {
        KafkaConsumerMessage(
            topic: "t", partition: 1, offset: 7, key: Array(key.utf8), value: Array("\(key):\(sequence)".utf8),
            headers: [
                KafkaHeader(key: "medbus-message-id", string: id),
                KafkaHeader(key: "content-type", string: "application/fhir+json; charset=utf-8"),
                KafkaHeader(key: "medbus-correlation-id", string: "visit-9"),
                KafkaHeader(key: "medbus-source", string: "his.H1\r\nX-Evil: 1"),
            ],
            timestampMilliseconds: nil)
    }

    func testPostCarriesBodyContentTypeAndIdentityHeaders() async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        let destination = try HTTPDestination(url: "http://127.0.0.1:\(server.port)/ed/notify?v=1", headers: [("Authorization", "Bearer t")])
        try await destination.deliver(record("msg-1"))
        try await destination.deliver(record("msg-2", sequence: 1))
        XCTAssertEqual(server.acceptedSequences, ["K": [0, 1]])
        XCTAssertEqual(server.requestLine, "POST /ed/notify?v=1 HTTP/1.1")
        let headers = server.headers
        XCTAssertEqual(headers["content-type"], "application/fhir+json; charset=utf-8")
        XCTAssertEqual(headers["x-medbus-message-id"], "msg-2")
        XCTAssertEqual(headers["idempotency-key"], "msg-2")
        XCTAssertEqual(headers["x-medbus-correlation-id"], "visit-9")
        XCTAssertEqual(headers["authorization"], "Bearer t")
        XCTAssertNil(headers["x-medbus-source"], "a header value with CR/LF is not sent")
        XCTAssertNil(headers["x-evil"])
    }

    func testStatusesMapToFailures() async throws {
        let server = try TestHTTPServer { id, _ in
            switch id {
            case "s503": .status(503)
            case "s500": .status(500)
            case "s429": .status(429)
            case "s400": .status(400)
            case "s404": .status(404)
            case "slow": .silent(process: false)
            case "drop": .drop(process: false)
            default: .status(204)
            }
        }
        defer { server.stop() }
        let destination = try HTTPDestination(url: "http://127.0.0.1:\(server.port)/in", timeout: .milliseconds(400))
        for id in ["s503", "s500", "s429", "slow", "drop"] {
            do {
                try await destination.deliver(record(id))
                XCTFail("\(id) should fail")
            } catch {
                XCTAssertEqual(error.kind, .transient, id)
                XCTAssertTrue(error.retriable, id)
            }
        }
        for (id, code) in [("s400", "HTTP-400"), ("s404", "HTTP-404")] {
            do {
                try await destination.deliver(record(id))
                XCTFail("\(id) should fail")
            } catch {
                XCTAssertEqual(error.kind, .rejected(code: code))
                XCTAssertFalse(error.retriable)
            }
        }
        try await destination.deliver(record("ok"))
        XCTAssertEqual(server.acceptedCount, 1)
    }

    func testRecordWithoutMessageIdUsesItsPosition() async throws {
        var plain = record("x")
        plain.headers = []
        XCTAssertEqual(HTTPDestination.messageID(of: plain), "t-1-7")
    }

    func testBadURLsAreRefused() {
        XCTAssertThrowsError(try HTTPDestination(url: "ftp://his.example/in")) { XCTAssertTrue("\($0)".contains("scheme must be http or https")) }
        XCTAssertThrowsError(try HTTPDestination(url: "http:///in"))
        XCTAssertThrowsError(try HTTPDestination(url: "http://u:p@his.example/in"))
    }

    func testFaultyEndpointGetsEveryRecordOnceInKeyOrderAndA400IsDeadLettered() async throws {
        let fixture = try OutboundFixture(partitions: 4)
        var records: [KafkaProducerMessage] = []
        var expected: [String: [Int]] = [:]
        for index in 0..<200 {
            let key = "K\(index % 10)"
            let sequence = expected[key, default: []].count
            expected[key, default: []].append(sequence)
            records.append(KafkaProducerMessage(
                topic: fixture.topic, key: key, value: "\(key):\(sequence)",
                headers: [KafkaHeader(key: "medbus-message-id", string: "h\(index)"), KafkaHeader(key: "content-type", string: "application/json")]))
        }
        try await fixture.produce(records)
        let seed: UInt64 = 77
        let server = try TestHTTPServer { id, seen in
            if id == "h42" { return .status(400) }
            let u = seededUnit(seed, id, seen)
            let coin = seededUnit(seed &+ 1, id, seen) < 0.5
            switch u {
            case ..<0.08: return .status(503)
            case ..<0.12: return .status(500)
            case ..<0.16: return .silent(process: coin)
            case ..<0.20: return .drop(process: coin)
            default: return .status(200)
            }
        }
        defer { server.stop() }
        let transport = try HTTPDestination(url: "http://127.0.0.1:\(server.port)/in", timeout: DeliveryPolicy.fastTest.attemptTimeout)
        let dispatcher = fixture.dispatcher(transport: transport)
        let running = RunningDispatcher(dispatcher)
        let done = await eventually(timeout: .seconds(120)) { dispatcher.statistics.delivered == 199 && dispatcher.statistics.deadLettered == 1 }
        try await running.stop()
        XCTAssertTrue(done, "\(dispatcher.statistics)")

        expected["K2"]?.removeAll { $0 == 4 }   // h42 is K2's fifth record
        XCTAssertEqual(server.acceptedCount, 199)
        XCTAssertEqual(server.acceptedSequences, expected)
        XCTAssertGreaterThan(dispatcher.statistics.retried, 20)
        let letters = try await fixture.read(fixture.deadLetterTopic, count: 1)
        XCTAssertEqual(letters.first?.header("medbus-error-reason"), "rejected:HTTP-400")
        XCTAssertEqual(letters.first?.header("medbus-message-id"), "h42")
        XCTAssertEqual(letters.first?.valueString, "K2:4")
        print("http: retried \(dispatcher.statistics.retried), duplicates \(server.duplicates)")
    }
}
