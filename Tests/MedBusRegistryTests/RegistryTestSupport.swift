import Foundation
import MedBusRegistry
import XCTest

/// A fresh directory per test, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-registry-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
    return directory
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Asserts that `body` throws exactly `expected`.
func XCTAssertThrowsRegistryError<T>(_ expected: RegistryError, _ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual(error as? RegistryError, expected, "\(error)", file: file, line: line)
    }
}

/// Collects what a `MappingFeed` yields, from a task of its own, so a test can wait for a condition with a
/// deadline instead of blocking on the iterator forever.
final class FeedWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [[String: MappingVersion]] = []
    private var failure: (any Error)?
    private var task: Task<Void, Never>?

    init(_ feed: MappingFeed) {
        task = Task { [self] in
            do {
                for try await set in feed { lock.withLock { received.append(set) } }
            } catch {
                lock.withLock { failure = error }
            }
        }
    }

    var elements: [[String: MappingVersion]] { lock.withLock { received } }

    /// Waits until an element satisfies `condition`; returns it, or fails the test after `timeout`.
    func waitFor(timeout: Duration = .seconds(30), file: StaticString = #filePath, line: UInt = #line,
                 _ condition: ([String: MappingVersion]) -> Bool) async throws -> [String: MappingVersion] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (elements, failure) = lock.withLock { (received, self.failure) }
            if let failure { throw failure }
            if let match = elements.last(where: condition) { return match }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("feed did not yield the expected set in time; got \(elements.map { $0.mapValues(\.version) })", file: file, line: line)
        return [:]
    }

    func stop() { task?.cancel() }

    deinit { task?.cancel() }
}
