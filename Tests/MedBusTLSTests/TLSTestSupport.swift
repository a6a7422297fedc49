import Foundation
import MedBusMLLP
import MedBusTLS
import MedBusTestSupport
import NIOCore

/// Test certificates made by `scripts/make-test-ca.sh` into a fresh temporary directory.
struct TestCertificates: Sendable {
    let directory: String

    static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-tls-\(UUID().uuidString)").path
        _ = try runTool("/bin/bash", [repositoryRoot + "/scripts/make-test-ca.sh", directory])
        return TestCertificates(directory: directory)
    }

    /// The repository root, from this file's real location (the test folder may be a symlink).
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func serverConfiguration(clientCertificate: TLSServerConfiguration.ClientCertificate) -> TLSServerConfiguration {
        TLSServerConfiguration(
            certificateChainFile: path("server.pem"),
            privateKeyFile: path("server.key"),
            clientCAFile: path("ca.pem"),
            clientCertificate: clientCertificate
        )
    }
}

/// An MLLP-over-TLS sender independent of our code: Python's `ssl` module. It verifies the
/// server against the test CA as `localhost`, sends one frame and prints one line:
/// `REPLY <content>`, `CLOSED` (connection ended without a reply), or `TLSERROR <reason>`.
private let pythonClient = #"""
import socket, ssl, sys
port, ca, cert, key, message = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.load_verify_locations(ca)
if cert:
    context.load_cert_chain(cert, key)
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    tls = context.wrap_socket(sock, server_hostname="localhost")
    tls.sendall(b"\x0b" + message.encode() + b"\x1c\x0d")
    reply = b""
    while not reply.endswith(b"\x1c\x0d"):
        chunk = tls.recv(4096)
        if not chunk:
            break
        reply += chunk
    print("REPLY " + reply[1:-2].decode() if reply.endswith(b"\x1c\x0d") else "CLOSED")
except ssl.SSLError as error:
    print("TLSERROR " + str(error.reason))
except OSError as error:
    print("CLOSED " + type(error).__name__)
"""#

/// Sends `message` over TLS, presenting `certificate` (`name.pem` / `name.key`) if given.
func sendOverTLS(port: Int, certificates: TestCertificates, certificate: String?, message: String) async throws -> String {
    try await onThread {
        try runTool("/usr/bin/env", [
            "python3", "-c", pythonClient, String(port), certificates.path("ca.pem"),
            certificate.map { certificates.path("\($0).pem") } ?? "",
            certificate.map { certificates.path("\($0).key") } ?? "",
            message,
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Runs an MLLP server on an ephemeral port for the duration of `body`.
func withServer(
    tls: TLSServerConfiguration?,
    handler: @escaping MLLPServer.Handler,
    _ body: @escaping @Sendable (Int) async throws -> Void
) async throws {
    let server = MLLPServer(configuration: .init(host: "127.0.0.1", port: 0, tls: tls), handler: handler)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!
        try await body(port)
        server.shutdown()
        try await group.waitForAll()
    }
}

/// Records who sent what, and answers `ACK:<certificate CN or ->:<content>`.
actor EchoRecorder {
    private(set) var peers: [MLLPServer.Peer] = []

    nonisolated var handler: MLLPServer.Handler {
        { unit, peer in
            await self.record(peer)
            guard case .message(let bytes) = unit else { return Array("NOT-A-MESSAGE".utf8) }
            return Array("ACK:\(peer.certificateCommonName ?? "-"):".utf8) + bytes
        }
    }

    private func record(_ peer: MLLPServer.Peer) { peers.append(peer) }
}
