import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP listener on 127.0.0.1 whose accept loop and connections each run on their
/// own thread, never on Swift's cooperative pool. The test receivers build on it.
final class SocketServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var connections: Set<Int32> = []
    private var stopped = false

    /// - Parameter port: 0 for any free port.
    init(port: Int = 0, handle: @escaping @Sendable (SocketConnection) -> Void) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw POSIXError(.EADDRINUSE)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    close(listener)
                    return
                }
                let accepted = lock.withLock { () -> Bool in
                    guard !stopped else { return false }
                    connections.insert(fd)
                    return true
                }
                guard accepted else {
                    close(fd)
                    close(listener)
                    return
                }
                Thread.detachNewThread { [self] in
                    handle(SocketConnection(fd: fd))
                    lock.withLock {
                        connections.remove(fd)
                        close(fd)
                    }
                }
            }
        }
    }

    /// A port that was free a moment ago (for "receiver comes up later" tests).
    static func freePort() throws -> Int {
        let probe = try SocketServer { _ in }
        defer { probe.stop() }
        return probe.port
    }

    /// Stops accepting and cuts every open connection. Idempotent: a descriptor is never
    /// closed twice (its number may already belong to another socket, e.g. a Kafka client's).
    func stop() {
        lock.withLock {
            guard !stopped else { return }
            stopped = true
            // Wakes `accept`; the accept thread closes the listener itself, so its number cannot
            // be reused by another socket while that thread might still use it.
            shutdown(listener, Int32(SHUT_RDWR))
            for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    deinit { stop() }
}

/// One accepted connection, read and written with blocking calls.
final class SocketConnection {
    let fd: Int32
    private var pending: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// Reads more bytes into the buffer; false on EOF or error.
    func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        pending += chunk[0..<n]
        return true
    }

    /// The next MLLP frame's content, or nil at EOF.
    func readFrame() -> [UInt8]? {
        while true {
            if let start = pending.firstIndex(of: 0x0B), let end = pending[start...].firstIndex(of: 0x1C), end + 1 < pending.count, pending[end + 1] == 0x0D {
                let body = Array(pending[(start + 1)..<end])
                pending.removeFirst(end + 2)
                return body
            }
            guard fill() else { return nil }
        }
    }

    /// True once at least one byte is buffered (or false at EOF).
    func waitForData() -> Bool { !pending.isEmpty || fill() }

    /// The next HTTP/1.1 request (head lines and body by Content-Length), or nil at EOF.
    func readHTTPRequest() -> (lines: [String], headers: [String: String], body: [UInt8])? {
        let separator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let range = pending.firstRange(of: separator) {
                let headText = String(decoding: pending[..<range.lowerBound], as: UTF8.self)
                let lines = headText.components(separatedBy: "\r\n")
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                while pending.count < range.upperBound + length { guard fill() else { return nil } }
                let body = Array(pending[range.upperBound..<(range.upperBound + length)])
                pending.removeFirst(range.upperBound + length)
                return (lines, headers, body)
            }
            guard fill() else { return nil }
        }
    }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    func write(_ text: String) { write(Array(text.utf8)) }
}
