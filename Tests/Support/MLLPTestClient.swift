import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client over a plain POSIX socket: independent of NIO, as a sender would be.
/// Shared by the MLLP, adapter and end-to-end tests.
public final class MLLPTestClient {
    private let fd: Int32
    private var pending: [UInt8] = []

    public init(port: Int, receiveTimeout seconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    public func sendRaw(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    public func sendFrame(_ message: [UInt8]) { sendRaw(Self.frame(message)) }

    public static func frame(_ message: [UInt8]) -> [UInt8] { [0x0B] + message + [0x1C, 0x0D] }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// The next frame's content, or nil on EOF / timeout.
    public func readFrame() -> [UInt8]? {
        while true {
            if let start = pending.firstIndex(of: 0x0B), let end = pending[start...].firstIndex(of: 0x1C), end + 1 < pending.count, pending[end + 1] == 0x0D {
                let body = Array(pending[(start + 1)..<end])
                pending.removeFirst(end + 2)
                return body
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            pending += chunk[0..<n]
        }
    }

    /// True when the server closed the connection (EOF within the receive timeout).
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }
}

/// Runs blocking client code on its own thread, so it never holds a cooperative thread the
/// server under test needs.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
