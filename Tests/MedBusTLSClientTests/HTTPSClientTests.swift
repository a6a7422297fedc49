import Foundation
import Logging
import MedBusCore
import MedBusHTTPClient
@testable import MedBusInsurers
import MedBusKafka
import MedBusTLS
import XCTest

/// `HTTPClient` over https: against a server not written here (Python's `ssl`), and the NHSA
/// insurer adapter against the NHSA simulator served over TLS.
final class HTTPSClientTests: XCTestCase {
    func testInteroperatesWithPythonSSLServerIncludingMutualTLS() async throws {
        let certificates = try ClientTestCertificates.make()
        defer { certificates.remove() }
        let server = try PythonHTTPSServer(certificates: certificates, mutual: true)
        defer { server.stop() }
        let url = "https://localhost:\(server.port)/platform"

        let client = try HTTPClient(url: url, tls: certificates.client(mutual: true))
        let first = try await client.send(HTTPClientRequest(body: Array("{}".utf8)), timeout: .seconds(10))
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(String(decoding: first.body, as: UTF8.self), "1 H37010200001", "the server saw our client certificate")
        await client.close()

        // Untrusted (a pinned CA that did not issue the server's certificate): nothing sent.
        let pinnedElsewhere = try HTTPClient(url: url, tls: TLSClientConfiguration(caFile: certificates.path("untrusted-ca.pem")))
        do {
            _ = try await pinnedElsewhere.send(HTTPClientRequest(body: Array("{}".utf8)), timeout: .seconds(10))
            XCTFail("an untrusted server was accepted")
        } catch {
            guard case .tls(.serverCertificateUntrusted(server: "localhost", _)) = error else { return XCTFail("\(error)") }
            XCTAssertFalse(error.mayHaveBeenSent)
        }
        // Without a client certificate the server refuses us.
        let anonymous = try HTTPClient(url: url, tls: certificates.client())
        do {
            _ = try await anonymous.send(HTTPClientRequest(body: Array("{}".utf8)), timeout: .seconds(10))
            XCTFail("served without a client certificate")
        } catch {}

        let again = try HTTPClient(url: url, tls: certificates.client(mutual: true))
        let second = try await again.send(HTTPClientRequest(body: Array("{}".utf8)), timeout: .seconds(10))
        XCTAssertEqual(String(decoding: second.body, as: UTF8.self), "2 H37010200001", "the refused attempts never reached the handler")
        await again.close()
    }

    func testNHSAAdapterSettlesOverHTTPSWithTheSimulatorOverTLS() async throws {
        let certificates = try ClientTestCertificates.make()
        defer { certificates.remove() }
        var logger = Logger(label: "test.nhsa-tls")
        logger.logLevel = .warning
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let simulator = NHSAPlatformSimulator(
            policy: try BasicInsurancePolicy.load(path: root.appendingPathComponent("Adapters/insurers/policy-shandong-demo.yaml").path),
            persons: try PersonDirectory.load(path: root.appendingPathComponent("Adapters/insurers/persons-demo.yaml").path))
        let server = NHSASimulatorServer(simulator: simulator, host: "127.0.0.1", port: 0,
                                         tls: try certificates.server(clientCertificate: .required).makeContext(), logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let serving = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!

        let manifestFile = certificates.path("insurer-nhsa.yaml")
        try """
            kind: insurer-nhsa
            name: insurer-nhsa
            url: https://localhost:\(port)\(NHSASimulatorServer.defaultPath)
            fixmedins_code: H37010200001
            group: test-nhsa-tls
            tls:
              caFile: \(certificates.path("ca.pem"))
              certificateFile: \(certificates.path("client.pem"))
              privateKeyFile: \(certificates.path("client.key"))
            options:
              timeoutSeconds: 5
            """.write(toFile: manifestFile, atomically: true, encoding: .utf8)
        let manifest = try NHSAAdapterManifest.load(path: manifestFile)

        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        try cluster.createTopic("insurer.nhsa.requests", partitions: 1, replicationFactor: 1)
        try cluster.createTopic("insurer.nhsa.replies", partitions: 1, replicationFactor: 1)
        let kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "log_level": "3"])
        let adapter = try NHSAInsurerAdapter(manifest: manifest, kafka: kafka, logger: logger)
        let running = Task { try await adapter.run() }

        let msgid = "H3701020000120250115103045" + "0001"
        let request = JSONValue.object([
            ("infno", .string("1101")), ("msgid", .string(msgid)), ("mdtrtarea_admvs", .string("370102")),
            ("insuplc_admdvs", .string("370105")), ("recer_sys_code", .string("SDYB")), ("infver", .string("V1.0")),
            ("opter_type", .string("1")), ("opter", .string("0321")), ("opter_name", .string("test")),
            ("inf_time", .string("2025-01-15 10:30:45")), ("fixmedins_code", .string("H37010200001")),
            ("fixmedins_name", .string("test")), ("sign_no", .string("")),
            ("input", .object([("data", .object([("certno", .string("370102000000000011"))]))])),
        ])
        let producer = try KafkaProducer(config: kafka)
        try await producer.send(KafkaProducerMessage(topic: "insurer.nhsa.requests", key: Array("S-1".utf8), value: request.jsonBytes,
                                                     headers: [KafkaHeader(key: "medbus-message-id", string: msgid)]))
        await producer.shutdown()

        let replies = try KafkaConsumer(config: kafka, groupID: "reader-nhsa-tls", topics: ["insurer.nhsa.replies"])
        var received: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.isEmpty, ContinuousClock.now < deadline {
            received += try await replies.nextBatch(maxCount: 10, within: .milliseconds(300))
        }
        XCTAssertEqual(received.first?.headers.string("medbus-correlation-id"), msgid)
        let reply = try JSONValue.parse(received.first?.value ?? [])
        XCTAssertEqual(reply["infcode"]?.intValue, 0, "person lookup answered over https")
        let signIns = await adapter.signInCount
        XCTAssertEqual(signIns, 1, "9001 went over the same TLS client")

        await replies.close()
        await adapter.shutdown()
        _ = try await running.value
        server.shutdown()
        _ = try? await serving.value
    }
}
