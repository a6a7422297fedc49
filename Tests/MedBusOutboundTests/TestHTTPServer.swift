import Foundation

/// A scriptable HTTP/1.1 receiver (plain sockets, own threads) that deduplicates by
/// `X-MedBus-Message-Id`, as the outbound contract asks receivers to.
///
/// Test bodies are `key:sequence`; per key the server records the sequence numbers in the order
/// it first accepted them, and it keeps the request headers of the last request.
final class TestHTTPServer: @unchecked Sendable {
    enum Action: Sendable, Equatable {
        case status(Int)
        /// Never answer; `process` says whether the request was nevertheless taken in.
        case silent(process: Bool)
        /// Close without an answer, after processing when asked.
        case drop(process: Bool)
    }

    typealias Script = @Sendable (_ messageID: String, _ previousReceipts: Int) -> Action

    private let server: SocketServer
    private let lock = NSLock()
    private let script: Script
    private var acceptedIDs: Set<String> = []
    private var perKey: [String: [Int]] = [:]
    private var receipts: [String: Int] = [:]
    private var duplicateCount = 0
    private var lastHeaders: [String: String] = [:]
    private var lastRequestLine = ""

    var port: Int { server.port }

    init(port: Int = 0, script: @escaping Script = { _, _ in .status(200) }) throws {
        self.script = script
        let box = Box()
        server = try SocketServer(port: port) { connection in box.server?.serve(connection) }
        box.server = self
    }

    func stop() { server.stop() }

    var acceptedCount: Int { lock.withLock { acceptedIDs.count } }
    var acceptedSequences: [String: [Int]] { lock.withLock { perKey } }
    var duplicates: Int { lock.withLock { duplicateCount } }
    var headers: [String: String] { lock.withLock { lastHeaders } }
    var requestLine: String { lock.withLock { lastRequestLine } }

    private func serve(_ connection: SocketConnection) {
        while let request = connection.readHTTPRequest() {
            let id = request.headers["x-medbus-message-id"] ?? ""
            let action = lock.withLock { () -> Action in
                let seen = receipts[id, default: 0]
                receipts[id] = seen + 1
                lastHeaders = request.headers
                lastRequestLine = request.lines.first ?? ""
                return script(id, seen)
            }
            switch action {
            case .status(let code):
                if (200..<300).contains(code) { process(id: id, body: request.body) }
                let extra = code == 503 ? "Retry-After: 0\r\n" : ""
                connection.write("HTTP/1.1 \(code) Scripted\r\nContent-Length: 0\r\n\(extra)\r\n")
            case .silent(let processIt):
                if processIt { process(id: id, body: request.body) }
            case .drop(let processIt):
                if processIt { process(id: id, body: request.body) }
                return
            }
        }
    }

    private func process(id: String, body: [UInt8]) {
        let text = String(decoding: body, as: UTF8.self)
        let parts = text.split(separator: ":")
        lock.withLock {
            guard acceptedIDs.insert(id).inserted else {
                duplicateCount += 1
                return
            }
            if parts.count == 2, let sequence = Int(parts[1]) { perKey[String(parts[0]), default: []].append(sequence) }
        }
    }

    private final class Box: @unchecked Sendable {
        weak var server: TestHTTPServer?
    }
}
