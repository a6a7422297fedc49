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
