import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusHTTPAdapter
import MedBusKafka
import MedBusMapping
import MedBusStore
import MedBusTestSupport
import XCTest

/// Outside SOAP clients against the adapter: zeep from the WSDL (SOAP 1.1 and 1.2), curl with the
/// saved envelopes; retransmissions; records identical to http-his's and routed by the shipped mapping.
final class SOAPClientTests: SOAPAdapterTestCase {
    func testZeepReadsTheWSDLAndCallsTheOperationOverSOAP11And12() async throws {
        let wsdl = try curlGet("?wsdl")
        XCTAssertEqual(wsdl.status, 200)
        XCTAssertTrue(wsdl.body.contains("<soap:address location=\"\(url)\"/>"), "SOAP 1.1 port at the listener's address")
        XCTAssertTrue(wsdl.body.contains("<soap12:address location=\"\(url)\"/>"), "SOAP 1.2 port at the listener's address")

        let messages = ["HL7v3Soap11": try registration(id: "MSG-ZEEP-11"), "HL7v3Soap12": try registration(id: "MSG-ZEEP-12")]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: messages), as: UTF8.self)
        let results = try python("""
            import json, sys
            from zeep import Client
            client = Client(sys.argv[1])
            out = {}
            for port, document in json.loads(\(String(reflecting: json))).items():
                out[port] = client.bind("MedBusHL7v3Service", port).HIPMessageServer(action="PatientRegistryAdd", message=document)
            print(json.dumps(out))
            """)
        for (port, id) in [("HL7v3Soap11", "MSG-ZEEP-11"), ("HL7v3Soap12", "MSG-ZEEP-12")] {
            let ack = try XCTUnwrap(results[port] as? String, "\(port) answered")
            XCTAssertTrue(ack.contains("<acknowledgement typeCode=\"AA\">"), "\(port): \(ack)")
            XCTAssertTrue(ack.contains("<targetMessage><id root=\"2.16.156.10011.2.5.1.1\" extension=\"\(id)\"/></targetMessage>"), "\(port) echoes the message id")
        }

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }.sorted(),
                       ["HIS01|2.16.156.10011.2.5.1.1|MSG-ZEEP-11", "HIS01|2.16.156.10011.2.5.1.1|MSG-ZEEP-12"], "each message once")
        for record in records {
            XCTAssertTrue(record.text.contains("<PRPA_IN201311UV02"), "the v3 document is published, unescaped")
            XCTAssertFalse(record.text.contains("Envelope"), "not the SOAP envelope")
        }
    }

    func testCurlWithTheSavedEnvelopes() async throws {
        let soap11 = try curl(try sample("Adapters/WebService/samples/soap11-prpa-in201311uv02.xml"), contentType: "text/xml; charset=utf-8",
                              soapAction: "\"urn:medbus:soap/HIPMessageServer\"")
        XCTAssertEqual(soap11.status, 200, soap11.body)
        XCTAssertEqual(soap11.headers["content-type"], "text/xml; charset=utf-8")
        XCTAssertTrue(soap11.body.contains("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\n<MCCI_IN000002UV01"), "bare form answered bare")
        XCTAssertTrue(soap11.body.contains("typeCode=\"AA\"") && soap11.body.contains("extension=\"MSG-SOAP11-0001\""))

        let soap12 = try curl(try sample("Adapters/WebService/samples/soap12-hipmessageserver-cdata.xml"),
                              contentType: "application/soap+xml; charset=utf-8; action=\"urn:medbus:soap/HIPMessageServer\"")
        XCTAssertEqual(soap12.status, 200, soap12.body)
        XCTAssertEqual(soap12.headers["content-type"], "application/soap+xml; charset=utf-8")
        XCTAssertTrue(soap12.body.contains("<HIPMessageServerResponse xmlns=\"urn:medbus:soap\"><HIPMessageServerResult>&lt;MCCI_IN000002UV01"), "wrapped form answered wrapped")
        XCTAssertTrue(soap12.body.contains("typeCode=&quot;AA&quot;") && soap12.body.contains("extension=&quot;MSG-SOAP12-0001&quot;"))

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(Set(records.compactMap { $0.headers.string(MessageEnvelope.Header.messageType) }), ["PRPA_IN201311UV02"])
        XCTAssertEqual(Set(records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }), ["MZ000123"], "keyed by patient id")
    }

    func testRetransmissionIsAnsweredIdenticallyAndPublishedOnce() async throws {
        let request = Self.soap11(Self.wrapped(try registration(id: "MSG-DUP-1")))
        let first = try curl(request, contentType: "text/xml", soapAction: "")
        let second = try curl(request, contentType: "text/xml", soapAction: "")
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.body, first.body, "the stored acknowledgement, byte for byte")
        XCTAssertEqual(second.headers["x-medbus-message-id"], first.headers["x-medbus-message-id"])
        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 1, "published once")
        XCTAssertEqual(records.first?.headers.string(MessageEnvelope.Header.id), first.headers["x-medbus-message-id"])
    }

    /// The same interaction through the http-his adapter (bare) and this one (in a SOAP Body):
    /// same headers, same key, the interaction's own bytes, and the shipped mapping routes both alike.
    func testRecordsMatchTheHTTPAdaptersAndRouteThroughTheShippedMapping() async throws {
        let document = try sample("Adapters/samples/prpa_in201311uv02.xml")
        let text = String(decoding: document, as: UTF8.self)
        let interaction = String(text[text.range(of: "<PRPA_IN201311UV02")!.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)

        let httpStore = try MessageStore.open(directory: directory + "/http")
        let http = try HTTPHISAdapter(
            manifest: AdapterManifest(kind: HTTPHISAdapter.kind, name: "http-test", sender: Self.sender, host: "127.0.0.1", port: 0),
            ingest: DurableIngest(store: httpStore, producer: producer))
        let (bound, continuation) = AsyncStream.makeStream(of: Int.self)
        let serving = Task { try await http.run { continuation.yield($0); continuation.finish() } }
        let httpPort = await bound.first { _ in true } ?? 0
        let posted = try runTool("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/xml",
                                                   "--data-binary", "@\(Self.repository)/Adapters/samples/prpa_in201311uv02.xml", "http://127.0.0.1:\(httpPort)/hl7v3"])
        XCTAssertEqual(posted, "200")
        http.shutdown()
        try await serving.value
        try httpStore.close()

        let answer = try curl(Self.soap11(interaction), contentType: "text/xml", soapAction: "PRPA_IN201311UV02")
        XCTAssertEqual(answer.status, 200, answer.body)

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 2)
        let viaHTTP = try XCTUnwrap(records.first { $0.text.hasPrefix("<?xml") })
        let viaSOAP = try XCTUnwrap(records.first { !$0.text.hasPrefix("<?xml") })
        XCTAssertEqual(viaSOAP.text, interaction, "the interaction's own bytes")
        XCTAssertEqual(viaSOAP.key, viaHTTP.key)
        XCTAssertEqual(viaSOAP.topic, viaHTTP.topic)
        func contract(_ record: KafkaConsumerMessage) -> [String: String] {
            var headers: [String: String] = [:]
            for header in record.headers where ![MessageEnvelope.Header.id, MessageEnvelope.Header.receivedAt].contains(header.key) {
                headers[header.key] = header.stringValue
            }
            return headers
        }
        XCTAssertEqual(contract(viaSOAP), contract(viaHTTP))

        let mapping = try Mapping.compile(try MappingBundle.load(mappingFile: URL(fileURLWithPath: Self.repository + "/Mappings/hl7v3/prpa-patient.yaml")))
        let catalog = MappingCatalog([mapping])
        func route(_ record: KafkaConsumerMessage) throws -> [MappedRecord] {
            var headers: [String: String] = [:]
            for header in record.headers { headers[header.key] = header.stringValue }
            guard case .success(.records(let routed)) = catalog.apply(MappingInput(payload: record.value ?? [], headers: headers)) else {
                XCTFail("not routed: \(catalog.apply(MappingInput(payload: record.value ?? [], headers: headers)))")
                return []
            }
            return routed
        }
        let routed = try route(viaSOAP)
        XCTAssertEqual(routed.map(\.topic), ["canonical.patient"])
        XCTAssertEqual(routed.first?.key, "MZ000123")
        XCTAssertEqual(routed, try route(viaHTTP), "the same canonical patient either way")
    }
}
