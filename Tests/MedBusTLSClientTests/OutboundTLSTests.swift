import MedBusOutbound
import MedBusTLS
import XCTest

/// Outbound MLLP over real TLS on loopback: `MLLPDestination` (our TLS client) against
/// `MLLPServer` with TLS. Every refusal is checked for its specific error and for nothing
/// having reached the receiver.
final class OutboundTLSTests: XCTestCase {
    func testDeliversOverMutualTLSToTheNameOrAddressInTheCertificate() async throws {
        let certificates = try ClientTestCertificates.make()
        defer { certificates.remove() }
        let receiver = try await TLSMLLPReceiver(tls: certificates.server(clientCertificate: .required))
        // Through the manifest, as `medbus serve` builds it: an IP address checked against the
        // certificate's IP SAN…
        let manifest = try DestinationManifest.parse(yaml: """
            kind: mllp-out
            name: his-tls
            topic: dispatch.prearrival.H37010200001
            connect: 127.0.0.1:\(receiver.port)
            tls:
              caFile: \(certificates.path("ca.pem"))
              certificateFile: \(certificates.path("client.pem"))
              privateKeyFile: \(certificates.path("client.key"))
            """)
        let byAddress = try manifest.makeTransport()
        XCTAssertEqual(byAddress.destination, "mllps://127.0.0.1:\(receiver.port)")
        try await byAddress.deliver(adtRecord("TLS1"))
        // …and a DNS name (sent as SNI) checked against its DNS SAN.
        let byName = MLLPDestination(host: "localhost", port: receiver.port, tls: try certificates.client(mutual: true).makeContext(), timeout: .seconds(5))
        try await byName.deliver(adtRecord("TLS2"))
        try await byName.deliver(adtRecord("TLS3"))
        let received = await receiver.received
        XCTAssertEqual(received.map(\.controlID), ["TLS1", "TLS2", "TLS3"])
        XCTAssertEqual(Set(received.map(\.clientCommonName)), ["H37010200001"], "the receiver saw our client certificate")
        await byName.close()
        await receiver.stop()
    }

    func testRefusedServersGetTheirSpecificErrorAndNothing() async throws {
        let certificates = try ClientTestCertificates.make()
        defer { certificates.remove() }
        let trusted = try await TLSMLLPReceiver(tls: certificates.server())
        let expired = try await TLSMLLPReceiver(tls: certificates.server("expired"))
        let cases: [(String, Int, TLSClientConfiguration, TLSError)] = [
            ("untrusted", trusted.port, TLSClientConfiguration(caFile: certificates.path("untrusted-ca.pem")),
             .serverCertificateUntrusted(server: "127.0.0.1", reason: "unable to get local issuer certificate")),
            ("misnamed", trusted.port, certificates.client(serverName: "H37010299999.hospital.test"),
             .serverNameMismatch(server: "H37010299999.hospital.test")),
            ("expired", expired.port, certificates.client(), .serverCertificateExpired(server: "127.0.0.1")),
        ]
        for (label, port, configuration, expected) in cases {
            let destination = MLLPDestination(host: "127.0.0.1", port: port, tls: try configuration.makeContext(), timeout: .seconds(5))
            do {
                try await destination.deliver(adtRecord("REFUSED"))
                XCTFail("\(label): delivered")
            } catch {
                XCTAssertEqual(error.kind, .transient, label)
                XCTAssertEqual(error.message, "mllps://127.0.0.1:\(port): \(expected); nothing sent", label)
                XCTAssertFalse(error.message.contains("PID"), "no message content in the error")
            }
        }
        let reachedTrusted = await trusted.received
        let reachedExpired = await expired.received
        XCTAssertTrue(reachedTrusted.isEmpty && reachedExpired.isEmpty, "nothing was sent to a refused server")
        await trusted.stop()
        await expired.stop()
    }

    func testReceiverRequiringAClientCertificateRefusesUsWithoutOne() async throws {
        let certificates = try ClientTestCertificates.make()
        defer { certificates.remove() }
        let receiver = try await TLSMLLPReceiver(tls: certificates.server(clientCertificate: .required))
        let destination = MLLPDestination(host: "127.0.0.1", port: receiver.port, tls: try certificates.client().makeContext(), timeout: .seconds(5))
        do {
            try await destination.deliver(adtRecord("NOCERT"))
            XCTFail("delivered without a client certificate")
        } catch {
            // TLS 1.3: our handshake ends before the server checks us, so its alert arrives as
            // the connection closing instead of the ACK.
            XCTAssertEqual(error.kind, .transient)
        }
        let received = await receiver.received
        XCTAssertTrue(received.isEmpty, "the receiver handled nothing")
        await receiver.stop()
    }

    func testHandshakeThatNeverEndsTimesOut() async throws {
        let certificates = try ClientTestCertificates.make()
        defer { certificates.remove() }
        let silent = try await SilentListener()
        let destination = MLLPDestination(host: "127.0.0.1", port: silent.port, tls: try certificates.client().makeContext(), timeout: .milliseconds(500))
        let started = ContinuousClock.now
        do {
            try await destination.deliver(adtRecord("SLOW"))
            XCTFail("delivered to a silent server")
        } catch {
            XCTAssertTrue(error.message.hasPrefix("mllps://127.0.0.1:\(silent.port): TLS handshake not finished within"), error.message)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
        await silent.stop()
    }

    func testManifestTLSOptionsAreChecked() throws {
        let certificates = try ClientTestCertificates.make()
        defer { certificates.remove() }
        func problem(_ yaml: String) -> String {
            do { _ = try DestinationManifest.parse(yaml: "name: d\ntopic: t.x\n" + yaml, file: "d.yaml"); return "parsed" } catch { return "\(error)" }
        }
        XCTAssertTrue(problem("kind: mllp-out\nconnect: h:1\ntls:\n  caFlie: x\n").contains("unknown client option 'caFlie'"))
        XCTAssertTrue(problem("kind: mllp-out\nconnect: h:1\ntls:\n  caFile: /nonexistent/ca.pem\n").contains("cannot read /nonexistent/ca.pem"))
        XCTAssertTrue(problem("kind: mllp-out\nconnect: h:1\ntls:\n  certificateFile: \(certificates.path("client.pem"))\n").contains("needs both certificateFile and privateKeyFile"))
        XCTAssertTrue(problem("kind: http-out\nurl: http://h/x\ntls: {}\n").contains("'tls' needs an https url"))
        let https = try DestinationManifest.parse(yaml: "kind: http-out\nname: d\ntopic: t.x\nurl: https://h/x\n")
        XCTAssertEqual(https.tls, TLSClientConfiguration(), "https without tls: the system trust store")
    }
}
