import Foundation
import MedBusMLLP
import MedBusTLS
import MedBusTestSupport
import XCTest

/// MLLP over TLS against real sockets, with Python's `ssl` as the independent sender.
final class MLLPOverTLSTests: XCTestCase {
    private var certificates: TestCertificates!

    override func setUpWithError() throws {
        certificates = try TestCertificates.make()
    }

    override func tearDown() {
        certificates.remove()
    }

    func testTrustedClientCertificateIsAcceptedAndItsCommonNameReachesTheHandler() async throws {
        let recorder = EchoRecorder()
        let certificates = self.certificates!
        try await withServer(tls: certificates.serverConfiguration(clientCertificate: .required), handler: recorder.handler) { port in
            let reply = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: "MSH|hello")
            XCTAssertEqual(reply, "REPLY ACK:H37010200001:MSH|hello")
        }
        let peers = await recorder.peers
        XCTAssertEqual(peers.map(\.certificateCommonName), ["H37010200001"])
    }

    /// 100 kB each way: several TLS records per message in both directions.
    func testLargeMessageSpansManyRecords() async throws {
        let certificates = self.certificates!
        let message = "MSH|" + String(repeating: "0123456789", count: 10_000)
        try await withServer(tls: certificates.serverConfiguration(clientCertificate: .required), handler: EchoRecorder().handler) { port in
            let reply = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: message)
            XCTAssertEqual(reply, "REPLY ACK:H37010200001:" + message)
        }
    }

    /// Same CN, different CA: the CN alone must not get a message in.
    func testClientCertificateFromUntrustedCAIsRefused() async throws {
        let recorder = EchoRecorder()
        let certificates = self.certificates!
        try await withServer(tls: certificates.serverConfiguration(clientCertificate: .required), handler: recorder.handler) { port in
            let reply = try await sendOverTLS(port: port, certificates: certificates, certificate: "untrusted-client", message: "MSH|forged")
            XCTAssertEqual(reply, "TLSERROR TLSV1_ALERT_UNKNOWN_CA", "the server's alert, no ACK")
            // The server still serves the next, legitimate client.
            let next = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: "MSH|next")
            XCTAssertEqual(next, "REPLY ACK:H37010200001:MSH|next")
        }
        let peers = await recorder.peers
        XCTAssertEqual(peers.count, 1, "only the trusted client's message reached the handler")
    }

    /// Trusted CA, right CN, but revoked: refused in the handshake with the revocation alert.
    func testRevokedClientCertificateIsRefused() async throws {
        let recorder = EchoRecorder()
        let certificates = self.certificates!
        var configuration = certificates.serverConfiguration(clientCertificate: .required)
        configuration.clientCRLFile = certificates.path("crl.pem")
        try await withServer(tls: configuration, handler: recorder.handler) { port in
            let revoked = try await sendOverTLS(port: port, certificates: certificates, certificate: "revoked-client", message: "MSH|revoked")
            XCTAssertEqual(revoked, "TLSERROR SSLV3_ALERT_CERTIFICATE_REVOKED")
            let valid = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: "MSH|valid")
            XCTAssertEqual(valid, "REPLY ACK:H37010200001:MSH|valid")
        }
        let peers = await recorder.peers
        XCTAssertEqual(peers.count, 1, "only the valid certificate's message reached the handler")
    }

    /// The CA publishes a new CRL while the listener runs: it applies from the next connection;
    /// a broken CRL file afterwards keeps the last good one in force.
    func testReplacedCRLAppliesWithoutRestartAndABrokenOneKeepsThePrevious() async throws {
        let certificates = self.certificates!
        let crlFile = certificates.path("live-crl.pem")
        try FileManager.default.copyItem(atPath: certificates.path("crl-none-revoked.pem"), toPath: crlFile)
        var configuration = certificates.serverConfiguration(clientCertificate: .required)
        configuration.clientCRLFile = crlFile
        try await withServer(tls: configuration, handler: EchoRecorder().handler) { port in
            let before = try await sendOverTLS(port: port, certificates: certificates, certificate: "revoked-client", message: "MSH|before")
            XCTAssertEqual(before, "REPLY ACK:H37010200001:MSH|before", "not revoked yet")

            try Self.replace(crlFile, with: Data(contentsOf: URL(fileURLWithPath: certificates.path("crl.pem"))))
            try await Task.sleep(for: .milliseconds(1_100))  // the file is looked at once a second at most
            let after = try await sendOverTLS(port: port, certificates: certificates, certificate: "revoked-client", message: "MSH|after")
            XCTAssertEqual(after, "TLSERROR SSLV3_ALERT_CERTIFICATE_REVOKED")

            try Self.replace(crlFile, with: Data("-----BEGIN X509 CRL-----\ntruncated\n".utf8))
            try await Task.sleep(for: .milliseconds(1_100))
            let stillRevoked = try await sendOverTLS(port: port, certificates: certificates, certificate: "revoked-client", message: "MSH|again")
            XCTAssertEqual(stillRevoked, "TLSERROR SSLV3_ALERT_CERTIFICATE_REVOKED", "the last good CRL stays in force")
            let valid = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: "MSH|valid")
            XCTAssertEqual(valid, "REPLY ACK:H37010200001:MSH|valid")
        }
    }

    /// As a CA's publishing job does: write aside, then rename over the old file.
    private static func replace(_ path: String, with contents: Data) throws {
        try contents.write(to: URL(fileURLWithPath: path + ".new"))
        guard rename(path + ".new", path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    func testClientWithoutCertificateIsRefusedWhenRequired() async throws {
        let recorder = EchoRecorder()
        let certificates = self.certificates!
        try await withServer(tls: certificates.serverConfiguration(clientCertificate: .required), handler: recorder.handler) { port in
            let reply = try await sendOverTLS(port: port, certificates: certificates, certificate: nil, message: "MSH|anonymous")
            XCTAssertEqual(reply, "TLSERROR TLSV13_ALERT_CERTIFICATE_REQUIRED", "the server's alert, no ACK")
        }
        let peers = await recorder.peers
        XCTAssertTrue(peers.isEmpty)
    }

    func testClientWithoutCertificateIsAcceptedWhenOptional() async throws {
        let certificates = self.certificates!
        try await withServer(tls: certificates.serverConfiguration(clientCertificate: .optional), handler: EchoRecorder().handler) { port in
            let anonymous = try await sendOverTLS(port: port, certificates: certificates, certificate: nil, message: "MSH|anonymous")
            XCTAssertEqual(anonymous, "REPLY ACK:-:MSH|anonymous")
            let identified = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: "MSH|known")
            XCTAssertEqual(identified, "REPLY ACK:H37010200001:MSH|known")
        }
    }

    /// A sender misconfigured for plain MLLP: no ACK, the connection is closed promptly (not
    /// left to time out), and the listener keeps serving.
    func testPlainTCPClientGetsNoAckAndIsClosed() async throws {
        let recorder = EchoRecorder()
        let certificates = self.certificates!
        try await withServer(tls: certificates.serverConfiguration(clientCertificate: .required), handler: recorder.handler) { port in
            try await onThread {
                let client = try MLLPTestClient(port: port, receiveTimeout: 5)
                let started = Date()
                client.sendFrame(Array("MSH|^~\\&|plain".utf8))
                XCTAssertNil(client.readFrame(), "no acknowledgement over plain TCP")
                XCTAssertLessThan(Date().timeIntervalSince(started), 3, "closed by the server, not timed out")
            }
            let next = try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: "MSH|next")
            XCTAssertEqual(next, "REPLY ACK:H37010200001:MSH|next")
        }
        let peers = await recorder.peers
        XCTAssertEqual(peers.count, 1)
    }

    func testWithoutTLSConfigurationPeerHasNoCommonName() async throws {
        let recorder = EchoRecorder()
        try await withServer(tls: nil, handler: recorder.handler) { port in
            try await onThread {
                let client = try MLLPTestClient(port: port)
                client.sendFrame(Array("MSH|plain".utf8))
                XCTAssertEqual(client.readFrame().map { String(decoding: $0, as: UTF8.self) }, "ACK:-:MSH|plain")
            }
        }
    }
}
