import Foundation
import MedBusMLLP
import NIOCore
import MedBusTestSupport
import XCTest

/// Runs a server on an ephemeral port for the duration of `body`.
private func withServer(
    maxMessageBytes: Int = 1 << 20,
    idleTimeout: TimeAmount = .minutes(5),
    handler: @escaping MLLPServer.Handler,
    _ body: @escaping @Sendable (Int, MLLPServer) async throws -> Void
) async throws {
    let server = MLLPServer(configuration: .init(host: "127.0.0.1", port: 0, maxMessageBytes: maxMessageBytes, idleTimeout: idleTimeout), handler: handler)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!
        try await body(port, server)
        server.shutdown()
        try await group.waitForAll()
    }
}

/// Answers `ACK:<content>` for messages and names the other inbound kinds.
private let echo: MLLPServer.Handler = { unit, _ in
    switch unit {
    case .message(let bytes): Array("ACK:".utf8) + bytes
    case .oversize(let prefix, let size): Array("OVERSIZE:\(size):".utf8) + prefix.prefix(8)
    case .truncated: Array("TRUNCATED".utf8)
    }
}

private func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

final class MLLPServerTests: XCTestCase {
    func testFramesSplitCoalescedAndSurroundedByNoise() async throws {
        try await withServer(handler: echo) { port, _ in try await onThread {
            let client = try MLLPTestClient(port: port)
            // Two frames in one write, with CR/LF noise before and between them.
            client.sendRaw(Array("\r\n".utf8) + MLLPTestClient.frame(Array("one".utf8)) + [0x0A] + MLLPTestClient.frame(Array("two".utf8)))
            // One frame in three writes, the end block split between FS and CR.
            let third = MLLPTestClient.frame(Array("three|with|bytes".utf8))
            client.sendRaw(Array(third[0..<4]))
            client.sendRaw(Array(third[4..<(third.count - 1)]))
            Thread.sleep(forTimeInterval: 0.05)
            client.sendRaw([third.last!])
            XCTAssertEqual(text(client.readFrame()), "ACK:one")
            XCTAssertEqual(text(client.readFrame()), "ACK:two")
            XCTAssertEqual(text(client.readFrame()), "ACK:three|with|bytes")
        } }
    }

    func testOversizeFrameIsReportedAndConnectionStaysUsable() async throws {
        try await withServer(maxMessageBytes: 100, handler: echo) { port, _ in try await onThread {
            let client = try MLLPTestClient(port: port)
            let big = Array("MSH|BIGGER".utf8) + [UInt8](repeating: 0x41, count: 5000)
            // Sent in pieces so the decoder must discard across reads.
            let frame = MLLPTestClient.frame(big)
            for chunk in stride(from: 0, to: frame.count, by: 700) { client.sendRaw(Array(frame[chunk..<min(chunk + 700, frame.count)])) }
            client.sendFrame(Array("small".utf8))
            XCTAssertEqual(text(client.readFrame()), "OVERSIZE:\(big.count):MSH|BIGG")
            XCTAssertEqual(text(client.readFrame()), "ACK:small")
        } }
    }

    func testTruncatedFrameAtEndOfConnection() async throws {
        let seen = Received()
        try await withServer(handler: { unit, peer in await seen.append(unit); return await echo(unit, peer) }) { port, _ in try await onThread {
            let client = try MLLPTestClient(port: port)
            client.sendRaw([0x0B] + Array("MSH|^~\\&|cut".utf8))
            client.shutdownWrite()
            XCTAssertEqual(text(client.readFrame()), "TRUNCATED")
        } }
        let units = await seen.units
        XCTAssertEqual(units, [.truncated(prefix: Array("MSH|^~\\&|cut".utf8))])
    }

    /// 32 connections × 100 messages at once: every connection gets its answers in order.
    func testConcurrentConnectionsKeepPerConnectionOrder() async throws {
        try await withServer(handler: { unit, peer in
            try? await Task.sleep(for: .microseconds(Int.random(in: 0...300)))
            return await echo(unit, peer)
        }) { port, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<32 {
                    group.addTask {
                        try await onThread {
                            let client = try MLLPTestClient(port: port)
                            for m in 0..<100 {
                                client.sendFrame(Array("c\(c)-m\(m)".utf8))
                                XCTAssertEqual(text(client.readFrame()), "ACK:c\(c)-m\(m)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    func testIdleConnectionIsClosed() async throws {
        try await withServer(idleTimeout: .milliseconds(300), handler: echo) { port, _ in try await onThread {
            let client = try MLLPTestClient(port: port, receiveTimeout: 5)
            let started = Date()
            XCTAssertTrue(client.isClosedByPeer())
            XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        } }
    }

    /// Shutdown while a message is being processed: its acknowledgement is still sent, then the
    /// connection closes and `run` returns.
    func testGracefulShutdownFinishesMessageInFlight() async throws {
        try await withServer(handler: { unit, peer in
            try? await Task.sleep(for: .milliseconds(500))
            return await echo(unit, peer)
        }) { port, server in try await onThread {
            let client = try MLLPTestClient(port: port)
            client.sendFrame(Array("in-flight".utf8))
            Thread.sleep(forTimeInterval: 0.1)
            server.shutdown()
            XCTAssertEqual(text(client.readFrame()), "ACK:in-flight")
            XCTAssertNil(client.readFrame(), "closed after the answer")
            XCTAssertThrowsError(try MLLPTestClient(port: port), "no longer accepting")
        } }
    }
}

private actor Received {
    var units: [MLLPInbound] = []
    func append(_ unit: MLLPInbound) { units.append(unit) }
}
