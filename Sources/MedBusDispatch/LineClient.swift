import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A CAD's side of the TCP interface, over plain blocking sockets (no NIO, so it exercises the
/// server independently): send newline-delimited events, read acknowledgement lines as they
/// come. Used by `medbus bench dispatch` and the replay tests.
public final class LineClient: @unchecked Sendable {
    private let fd: Int32
    private var readBuffer: [UInt8] = []

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init(host: String = "127.0.0.1", port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Writes all of `bytes` (call from one thread at a time).
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    /// Sends one event followed by a newline.
    public func send(line: [UInt8]) throws { try write(line + [0x0A]) }

    /// The next line from the server (without its newline), or nil when the connection closed.
    public func readLine() throws -> [UInt8]? {
        while true {
            if let newline = readBuffer.firstIndex(of: 0x0A) {
                let line = Array(readBuffer[..<newline])
                readBuffer.removeFirst(newline + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 {
                // The last line may end without a newline (an HTTP body) before the server closes.
                defer { readBuffer = [] }
                return readBuffer.isEmpty ? nil : readBuffer
            }
            guard count > 0 else { throw Failure(description: "recv: \(String(cString: strerror(errno)))") }
            readBuffer += chunk[..<count]
        }
    }

    /// Stops sending (the server then answers what it read and closes).
    public func finishSending() { Glibc.shutdown(fd, Int32(SHUT_WR)) }
}
