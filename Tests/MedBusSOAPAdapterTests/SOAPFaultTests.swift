import Foundation
import MedBusCore
import MedBusKafka
import XCTest

/// Every refusal is a SOAP Fault with its own reason, is kept as `rejected`, and publishes nothing;
/// a Kafka outage is a Receiver fault until Kafka is back.
final class SOAPFaultTests: SOAPAdapterTestCase {
    struct Case {
        var name: String
        var body: [UInt8]
        var contentType = "text/xml; charset=utf-8"
        var soapAction: String? = ""
        var reason: String
        var status = 500
        /// 1.1 `faultcode`, or 1.2 `Code/Value` and `Subcode/Value`.
        var code: String
        var acknowledges: String?
    }

    func testEachFaultHasItsSpecificReasonAndIsKept() async throws {
        let v3 = try registration(id: "MSG-FAULT-1")
        let withoutId = v3.replacingOccurrences(of: "<id root=\"2.16.156.10011.2.5.1.1\" extension=\"MSG-FAULT-1\"/>", with: "")
        XCTAssertNotEqual(withoutId, v3)
        let interaction = String(v3[v3.range(of: "<PRPA_IN201311UV02")!.lowerBound...])
        let cases = [
            Case(name: "malformed XML", body: Array("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><HIPMessageServer>".utf8),
                 reason: "malformed-xml", code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "no envelope", body: Array(interaction.utf8), reason: "not-soap-envelope", code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "1.2 envelope as text/xml", body: Self.soap12(Self.wrapped(v3)), reason: "version-mismatch", code: "<faultcode>soap:VersionMismatch</faultcode>"),
            Case(name: "JSON content type", body: Self.soap11(Self.wrapped(v3)), contentType: "application/json", reason: "unsupported-content-type",
                 code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "unknown Body element", body: Self.soap11("<GetWeather xmlns=\"urn:example\"><city>Jinan</city></GetWeather>"),
                 reason: "unknown-operation", code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "unknown SOAPAction", body: Self.soap11(Self.wrapped(v3)), soapAction: "\"urn:medbus:soap/DeletePatient\"",
                 reason: "unknown-operation", code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "no message id", body: Self.soap11(Self.wrapped(withoutId)), reason: "missing-message-id", code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "FHIR, not v3", body: Self.soap11(Self.wrapped("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/></Patient>")),
                 reason: "not-hl7v3", code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "v3 element names without the v3 namespace", body: Self.soap11(Self.wrapped("<PRPA_IN201311UV02><id root=\"1.2\" extension=\"MSG-NONS\"/></PRPA_IN201311UV02>")),
                 reason: "not-hl7v3", code: "<faultcode>soap:Client</faultcode>", acknowledges: "MSG-NONS"),
            Case(name: "escaped payload not well-formed", body: Self.soap11(Self.wrapped("<PRPA_IN201311UV02 xmlns=\"urn:hl7-org:v3\"><id root=\"1.2\" extension=\"MSG-CUT\"/>")),
                 reason: "malformed-xml", code: "<faultcode>soap:Client</faultcode>", acknowledges: "MSG-CUT"),
            Case(name: "empty operation", body: Self.soap11("<HIPMessageServer xmlns=\"urn:medbus:soap\"><action>x</action><message/></HIPMessageServer>"),
                 reason: "not-hl7v3", code: "<faultcode>soap:Client</faultcode>"),
            Case(name: "SOAP 1.2 without message id", body: Self.soap12(Self.wrapped(withoutId)), contentType: "application/soap+xml; action=\"urn:medbus:soap/HIPMessageServer\"",
                 soapAction: nil, reason: "missing-message-id", status: 400,
                 code: "<soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>medbus:MissingMessageId</soap:Value></soap:Subcode></soap:Code>"),
            Case(name: "DTD", body: Array("<!DOCTYPE x [<!ENTITY a \"b\">]><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body/></soap:Envelope>".utf8),
                 reason: "not-soap-envelope", code: "<faultcode>soap:Client</faultcode>"),
        ]
        for test in cases {
            let answer = try curl(test.body, contentType: test.contentType, soapAction: test.soapAction)
            XCTAssertEqual(answer.status, test.status, test.name)
            XCTAssertTrue(answer.body.contains("<medbus:error code=\"\(test.reason)\">"), "\(test.name): \(answer.body)")
            XCTAssertTrue(answer.body.contains(test.code), "\(test.name): \(answer.body)")
            if let id = test.acknowledges {
                XCTAssertTrue(answer.body.contains("<acknowledgement typeCode=\"AR\">") && answer.body.contains("extension=\"\(id)\""), "\(test.name): AR in the detail")
            } else {
                XCTAssertFalse(answer.body.contains("<acknowledgement"), test.name)
            }
        }

        let kept = try rejections()
        XCTAssertEqual(kept.count, cases.count, "every refused request kept")
        XCTAssertEqual(kept.compactMap { $0.error?.split(separator: ":").first.map(String.init) }.sorted(), cases.map(\.reason).sorted())
        let published = try await recordsOnTopic(wait: .seconds(2))
        XCTAssertTrue(published.isEmpty, "nothing refused is published")
    }

    func testKafkaDownIsAReceiverFaultThenTheRetransmissionSucceedsOnce() async throws {
        let request = Self.soap11(Self.wrapped(try registration(id: "MSG-OUTAGE-1")))
        for broker in 1...3 { cluster.setBrokerDown(Int32(broker)) }
        let down = try curl(request, contentType: "text/xml", soapAction: "")
        XCTAssertEqual(down.status, 500)
        XCTAssertTrue(down.body.contains("<faultcode>soap:Server</faultcode>"), down.body)
        XCTAssertTrue(down.body.contains("<medbus:error code=\"kafka-unavailable\">"), down.body)
        XCTAssertTrue(down.body.contains("<acknowledgement typeCode=\"AE\">") && down.body.contains("extension=\"MSG-OUTAGE-1\""), "AE for the message, not AA")
        XCTAssertFalse(down.body.contains("typeCode=\"AA\""))
        XCTAssertEqual(down.headers["retry-after"], "7")

        for broker in 1...3 { cluster.setBrokerUp(Int32(broker)) }
        var answer = try curl(request, contentType: "text/xml", soapAction: "")
        // The producer may need a moment to reconnect; the HIS would retry the same way.
        for _ in 0..<10 where answer.status != 200 {
            try await Task.sleep(for: .milliseconds(500))
            answer = try curl(request, contentType: "text/xml", soapAction: "")
        }
        XCTAssertEqual(answer.status, 200, answer.body)
        XCTAssertTrue(answer.body.contains("typeCode=&quot;AA&quot;"))
        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 1, "on Kafka once, after recovery")
        XCTAssertEqual(records.first?.headers.string(MessageEnvelope.Header.sourceMessageId), "HIS01|2.16.156.10011.2.5.1.1|MSG-OUTAGE-1")
    }
}
