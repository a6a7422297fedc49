import Foundation
import MedBusAdapterSDK
import MedBusHTTPAdapter
import MedBusKafka
import MedBusStore
import MedBusTestSupport
import XCTest

/// The HTTP HIS adapter (FHIR, HL7 v3) with mutual TLS from its manifest, over real sockets with
/// Python's `ssl` + `http.client` as the client: the certificate must name the adapter's hospital.
final class HTTPAdapterTLSTests: XCTestCase {
    func testHTTPSWithClientCertificateIdentifyingTheSendingHospital() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        try cluster.createTopic("raw.his.H37010200001", partitions: 2, replicationFactor: 1)
        let store = try MessageStore.open(directory: NSTemporaryDirectory() + "tls-http-\(UUID().uuidString.prefix(8))")
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers))
        let manifest = AdapterManifest(kind: HTTPHISAdapter.kind, name: "tls-http", sender: "H37010200001", host: "127.0.0.1", port: 0, options: [
            "tlsCertificate": certificates.path("server.pem"), "tlsKey": certificates.path("server.key"), "tlsClientCA": certificates.path("ca.pem"),
        ])
        let adapter = try HTTPHISAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = Task { try await adapter.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!

        func encounter(_ id: String) -> String {
            #"{"resourceType":"Encounter","id":"\#(id)","status":"planned","class":{"code":"AMB"},"subject":{"reference":"Patient/p-42"}}"#
        }
        let own = try await postOverTLS(port: port, certificates: certificates, certificate: "client", path: "/fhir/Encounter", body: encounter("e1"))
        XCTAssertTrue(own.hasPrefix("STATUS 201 "), own)

        let other = try await postOverTLS(port: port, certificates: certificates, certificate: "other-hospital", path: "/fhir/Encounter", body: encounter("e2"))
        XCTAssertTrue(other.hasPrefix("STATUS 403 ") && other.contains("forbidden") && other.contains("does not identify sender"), other)
        let v3 = try await postOverTLS(port: port, certificates: certificates, certificate: "other-hospital", path: "/hl7v3", body: "<x/>", contentType: "application/xml")
        XCTAssertTrue(v3.hasPrefix("STATUS 403 "), v3)

        let anonymous = try await postOverTLS(port: port, certificates: certificates, certificate: nil, path: "/fhir/Encounter", body: encounter("e3"))
        XCTAssertTrue(anonymous.hasPrefix("TLSERROR") || anonymous.hasPrefix("CLOSED"), "a client certificate is required: \(anonymous)")
        let untrusted = try await postOverTLS(port: port, certificates: certificates, certificate: "untrusted-client", path: "/fhir/Encounter", body: encounter("e4"))
        XCTAssertTrue(untrusted.hasPrefix("TLSERROR") || untrusted.hasPrefix("CLOSED"), untrusted)
        let plain = try await onThread { try runTool("/bin/sh", ["-c", "curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/fhir/Encounter; true"]) }
        XCTAssertEqual(plain.trimmingCharacters(in: .whitespacesAndNewlines), "000", "plain HTTP to the TLS port gets no HTTP answer")
        let again = try await postOverTLS(port: port, certificates: certificates, certificate: "client", path: "/fhir/Encounter", body: encounter("e5"))
        XCTAssertTrue(again.hasPrefix("STATUS 201 "), "the listener still serves after refused clients: \(again)")

        XCTAssertEqual(try store.count(MessageQuery(status: .rejected)), 2, "the other hospital's two requests are kept as rejected")
        adapter.shutdown()
        try await server.value
        await producer.shutdown()
        try store.close()
    }
}

/// One HTTPS POST by Python (`http.client` over `ssl`, verifying the server as `localhost`),
/// printing `STATUS <code> <body>`, `TLSERROR <reason>` or `CLOSED <error>`.
private let pythonHTTPSClient = #"""
import http.client, ssl, sys
port, ca, cert, key, path, body, ctype = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.load_verify_locations(ca)
if cert:
    context.load_cert_chain(cert, key)
try:
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    connection.request("POST", path, body=body.encode(), headers={"Content-Type": ctype})
    response = connection.getresponse()
    print("STATUS %d %s" % (response.status, response.read().decode()))
except ssl.SSLError as error:
    print("TLSERROR " + str(error.reason))
except OSError as error:
    print("CLOSED " + type(error).__name__)
"""#

private func postOverTLS(port: Int, certificates: TestCertificates, certificate: String?, path: String, body: String, contentType: String = "application/fhir+json") async throws -> String {
    try await onThread {
        try runTool("/usr/bin/env", [
            "python3", "-c", pythonHTTPSClient, String(port), certificates.path("ca.pem"),
            certificate.map { certificates.path("\($0).pem") } ?? "",
            certificate.map { certificates.path("\($0).key") } ?? "",
            path, body, contentType,
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
