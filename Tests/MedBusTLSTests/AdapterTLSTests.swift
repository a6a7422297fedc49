import Foundation
import MedBusAdapterSDK
import MedBusHISAdapter
import MedBusKafka
import MedBusStore
import MedBusTestSupport
import XCTest

/// The HL7 MLLP adapter with mutual TLS from its manifest: the client certificate must name the
/// hospital the adapter serves, and so must MSH-4; a trusted certificate of another hospital, or
/// MSH-4 naming another hospital, is refused with AR (CR in enhanced mode).
final class AdapterTLSTests: XCTestCase {
    func testClientCertificateMustIdentifyTheSendingHospital() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        try cluster.createTopic("raw.his.H37010200001", partitions: 2, replicationFactor: 1)
        let store = try MessageStore.open(directory: NSTemporaryDirectory() + "tls-adapter-\(UUID().uuidString.prefix(8))")
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers))
        let manifest = AdapterManifest(kind: HL7MLLPAdapter.kind, name: "tls", sender: "H37010200001", host: "127.0.0.1", port: 0, options: [
            "tlsCertificate": certificates.path("server.pem"), "tlsKey": certificates.path("server.key"), "tlsClientCA": certificates.path("ca.pem"),
            "tlsClientCRL": certificates.path("crl.pem"),
        ])
        let adapter = try HL7MLLPAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = Task { try await adapter.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!

        func message(_ id: String, facility: String = "H37010200001", acceptAck: String = "") -> String {
            "MSH|^~\\&|HIS|\(facility)|MEDBUS|SDJK|20250115103045||ADT^A04|\(id)|P|2.5|||\(acceptAck)\rPID|1||P1^^^H37010200001^MR\r"
        }
        let own = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: message("TLS1"))
        XCTAssertTrue(own.hasPrefix("REPLY MSH|") && own.contains("MSA|AA|TLS1"), own)
        // Another hospital's certificate: AR (retrying cannot help), ERR-3 207, ERR-5 says why, ERR-8 for its operators.
        let other = try await sendOverTLS(port: port, certificates: certificates, certificate: "other-hospital", message: message("TLS2"))
        XCTAssertTrue(other.contains("MSA|AR|TLS2"), "rejected, not AA or AE: \(other)")
        XCTAssertTrue(other.contains(
            "ERR||MSH^1^4|207^Application internal error^HL70357|E|SENDER_NOT_AUTHORISED^Sender not authorised for this sending facility^99MEDBUS||"
                + "client certificate H37010299999 does not identify sender H37010200001|"
                + "Sender H37010299999 is not authorised to send messages for facility H37010200001 on this connection"), other)
        // The hospital's own certificate, but MSH-4 names another hospital: a hospital may only publish as itself.
        let posing = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: message("TLS5", facility: "H37010299999"))
        XCTAssertTrue(posing.contains("MSA|AR|TLS5") && posing.contains("MSH-4 does not name sender H37010200001")
            && posing.contains("SENDER_NOT_AUTHORISED"), posing)
        // Enhanced mode: the accept acknowledgement is a commit reject.
        let enhanced = try await sendOverTLS(port: port, certificates: certificates, certificate: "other-hospital", message: message("TLS6", acceptAck: "AL"))
        XCTAssertTrue(enhanced.contains("MSA|CR|TLS6") && enhanced.contains("SENDER_NOT_AUTHORISED"), enhanced)
        let untrusted = try await sendOverTLS(port: port, certificates: certificates, certificate: "untrusted-client", message: message("TLS3"))
        XCTAssertTrue(untrusted.hasPrefix("TLSERROR") || untrusted.hasPrefix("CLOSED"), untrusted)
        let revoked = try await sendOverTLS(port: port, certificates: certificates, certificate: "revoked-client", message: message("TLS4"))
        XCTAssertEqual(revoked, "TLSERROR SSLV3_ALERT_CERTIFICATE_REVOKED", "the manifest's CRL is in force")

        XCTAssertEqual(try store.count(MessageQuery(status: .rejected)), 3, "the refused messages are kept as rejected")
        XCTAssertEqual(try store.count(MessageQuery()), 4, "and only the own hospital's message is stored otherwise")
        XCTAssertThrowsError(try HL7MLLPAdapter(manifest: AdapterManifest(kind: HL7MLLPAdapter.kind, name: "bad", sender: "H1", host: "127.0.0.1", port: 0,
                                                                         options: ["tlsCertificate": certificates.path("server.pem")]), ingest: DurableIngest(store: store, producer: producer)))
        XCTAssertThrowsError(try AdapterManifest(kind: HL7MLLPAdapter.kind, name: "crl", sender: "H1", host: "127.0.0.1", port: 0, options: [
            "tlsCertificate": certificates.path("server.pem"), "tlsKey": certificates.path("server.key"), "tlsClientCRL": certificates.path("crl.pem"),
        ]).tlsConfiguration()) { error in
            XCTAssertTrue("\(error)".contains("tlsClientCRL needs client certificates"), "\(error)")
        }
        adapter.shutdown()
        try await server.value
        await producer.shutdown()
        try store.close()
    }
}
