import Foundation
import MedBusHL7
@testable import MedBusKafka
import MedBusMLLP
import MedBusTLS
import MedBusTestSupport
import NIOCore
import NIOPosix

/// `scripts/make-test-ca.sh` certificates in a fresh temporary directory, plus a server
/// certificate of the same CA that has already expired (the script makes only valid ones).
struct ClientTestCertificates: Sendable {
    let directory: String

    static func make() throws -> ClientTestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-tlsclient-\(UUID().uuidString)").path
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        _ = try runTool("/bin/bash", [root + "/scripts/make-test-ca.sh", directory])
        // `-days -1`: notAfter before now, so OpenSSL reports "certificate has expired".
        _ = try runTool("/bin/bash", ["-c", """
            cd "$1" && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout expired.key -out expired.csr \
                -subj "/O=MedBus Test/CN=localhost" 2>/dev/null && \
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > expired.ext && \
            openssl x509 -req -in expired.csr -CA ca.pem -CAkey ca.key -days -1 -extfile expired.ext -out expired.pem 2>/dev/null
            """, "-", directory])
        return ClientTestCertificates(directory: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// A listener presenting `certificate` (`NAME.pem` / `NAME.key`), asking clients of the test CA.
    func server(_ certificate: String = "server", clientCertificate: TLSServerConfiguration.ClientCertificate = .none) -> TLSServerConfiguration {
        TLSServerConfiguration(certificateChainFile: path("\(certificate).pem"), privateKeyFile: path("\(certificate).key"),
                               clientCAFile: clientCertificate == .none ? nil : path("ca.pem"), clientCertificate: clientCertificate)
    }

    /// Trusting only the test CA; with the hospital's client certificate when `mutual`.
    func client(mutual: Bool = false, serverName: String? = nil) -> TLSClientConfiguration {
        TLSClientConfiguration(caFile: path("ca.pem"), certificateFile: mutual ? path("client.pem") : nil,
                               privateKeyFile: mutual ? path("client.key") : nil, serverName: serverName)
    }
}

/// An MLLP receiver over TLS (our `MLLPServer`) that records what reached it and acknowledges
/// each message with `MSA|AA|<its MSH-10>`.
final class TLSMLLPReceiver: Sendable {
    let port: Int
    private let server: MLLPServer
    private let task: Task<Void, Error>
    private let recorder = Recorder()

    actor Recorder {
        var messages: [(controlID: String, clientCommonName: String?)] = []
        func record(_ controlID: String, _ commonName: String?) { messages.append((controlID, commonName)) }
    }

    init(tls: TLSServerConfiguration) async throws {
        let recorder = recorder
        server = MLLPServer(configuration: .init(host: "127.0.0.1", port: 0, tls: tls)) { unit, peer in
            guard case .message(let bytes) = unit, let message = try? HL7Message(parsing: bytes), let id = message.msh.controlID else { return nil }
            await recorder.record(id, peer.certificateCommonName)
            return Array("MSH|^~\\&|HIS|H|MEDBUS|M|20250101000000||ACK|A\(id)|P|2.5\rMSA|AA|\(id)\r".utf8)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        task = Task { [server] in try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        port = await iterator.next()!
    }

    /// Control ids received, with the client certificate's CN each came with.
    var received: [(controlID: String, clientCommonName: String?)] { get async { await recorder.messages } }

    func stop() async {
        server.shutdown()
        _ = try? await task.value
    }
}

/// An HL7 v2 ADT record as a dispatcher would hand it to a destination.
func adtRecord(_ controlID: String) -> KafkaConsumerMessage {
    let message = "MSH|^~\\&|MEDBUS|M|HIS|H|20250101000000||ADT^A01|\(controlID)|P|2.5\rPID|1||P1\r"
    return KafkaConsumerMessage(topic: "t", partition: 0, offset: 0, key: nil, value: Array(message.utf8), headers: [], timestampMilliseconds: nil)
}

/// A TCP listener that accepts connections and never says a word: a TLS handshake with it
/// can only time out.
final class SilentListener: Sendable {
    let port: Int
    private let channel: Channel

    init() async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    func stop() async { try? await channel.close() }
}

/// An HTTPS server not written here: Python's `ssl` + `http.server`, presenting `server.pem`,
/// optionally requiring a client certificate of the test CA. Each response body is
/// `<requests so far> <client certificate CN or ->`, so a refused connection shows as a count
/// that did not move.
final class PythonHTTPSServer: @unchecked Sendable {
    let port: Int
    private let process: Process

    private static let script = #"""
import http.server, ssl, sys
cert, key, ca, mutual = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
count = 0
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        count += 1
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        peer = self.connection.getpeercert() or {}
        cn = [v for rdn in peer.get("subject", ()) for (k, v) in rdn if k == "commonName"]
        body = ("%d %s" % (count, cn[0] if cn else "-")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
if mutual:
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(ca)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"""#

    init(certificates: ClientTestCertificates, mutual: Bool) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, certificates.path("server.pem"), certificates.path("server.key"), certificates.path("ca.pem"), mutual ? "1" : "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data([0x0A]) { line += byte }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "python3 HTTPS server did not start"])
        }
        self.port = port
    }

    /// SIGKILL: the test process may block SIGTERM, and a child inherits that mask.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
