import Foundation
import Hummingbird
import MedBusCore
import MedBusKafka
import XCTest

final class HL7v3InboundTests: HTTPAdapterTestCase {
    private let messageId = #"extension="MSG-8d0f5a7e-1c2b-4e3d-9f60-2a1b3c4d5e6f""#

    func testRegistrationGetsAAEchoingTheMessageIdAndIsPublishedOnce() async throws {
        let registration = try sample("prpa_in201311uv02.xml")
        let answer = try await post("/hl7v3", contentType: "application/xml", body: registration)
        XCTAssertEqual(answer.status, .ok)
        XCTAssertTrue(answer.body.contains("<MCCI_IN000002UV01"))
        XCTAssertTrue(answer.body.contains(#"<acknowledgement typeCode="AA">"#))
        XCTAssertTrue(answer.body.contains(#"<targetMessage><id root="2.16.156.10011.2.5.1.1" \#(messageId)/></targetMessage>"#))
        XCTAssertTrue(answer.body.contains(#"<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id><item root="2.16.156.10011.2.5.1.3" extension="HIS01"/>"#), "addressed back to the sending device")

        let again = try await post("/hl7v3", contentType: "text/xml", body: registration)
        XCTAssertEqual(again.body, answer.body, "a retransmission gets the first acknowledgement")

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(records.first?.keyString, "MZ000123", "keyed by patient/id")
        let envelope = try MessageEnvelope(headers: try XCTUnwrap(records.first).headers)
        XCTAssertEqual(envelope.messageType, "PRPA_IN201311UV02")
        XCTAssertEqual(envelope.sourceMessageId, "HIS01|2.16.156.10011.2.5.1.1|MSG-8d0f5a7e-1c2b-4e3d-9f60-2a1b3c4d5e6f")
    }

    func testSOAP12EnvelopeIsUnwrappedAndAnsweredInSOAP() async throws {
        let registration = String(decoding: try sample("prpa_in201311uv02.xml"), as: UTF8.self)
            .replacingOccurrences(of: #"<?xml version="1.0" encoding="UTF-8"?>"#, with: "")
        let soap = #"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body>"# + registration + "</s:Body></s:Envelope>"
        let answer = try await post("/hl7v3", contentType: "application/soap+xml; charset=utf-8", body: Array(soap.utf8))
        XCTAssertEqual(answer.status, .ok)
        XCTAssertEqual(answer.headers[.contentType], "application/soap+xml; charset=utf-8")
        XCTAssertTrue(answer.body.contains(#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">"#))
        XCTAssertTrue(answer.body.contains(#"typeCode="AA""#))
        XCTAssertTrue(answer.body.contains(messageId))
    }

    func testMalformedXMLGets400WithAR() async throws {
        let registration = try sample("prpa_in201311uv02.xml")
        let truncated = Array(registration.prefix(registration.count / 2))
        let answer = try await post("/hl7v3", contentType: "application/xml", body: truncated)
        XCTAssertEqual(answer.status, .badRequest)
        XCTAssertTrue(answer.body.contains(#"<acknowledgement typeCode="AR">"#))
        XCTAssertTrue(answer.body.contains(messageId), "the id was read before the error, so it is echoed")
        XCTAssertFalse(answer.body.contains("张三"))
        XCTAssertEqual(try rejections().map(\.type), ["PRPA_IN201311UV02"])

        let garbage = try await post("/hl7v3", contentType: "application/xml", body: Array("not xml at all".utf8))
        XCTAssertEqual(garbage.status, .badRequest)
        XCTAssertEqual(garbage.headers[.contentType], "application/problem+json")
    }

    func testBrokerOutageGets503WithAE() async throws {
        for broker in 1...3 { cluster.setBrokerDown(Int32(broker)) }
        let answer = try await post("/hl7v3", contentType: "application/xml", body: try sample("prpa_in201311uv02.xml"))
        XCTAssertEqual(answer.status, .serviceUnavailable)
        XCTAssertTrue(answer.body.contains(#"<acknowledgement typeCode="AE">"#))
        XCTAssertEqual(answer.headers[.retryAfter], "7")
        for broker in 1...3 { cluster.setBrokerUp(Int32(broker)) }
    }
}
