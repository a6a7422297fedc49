import Foundation
import MedBusKafka
import XCTest

/// A fresh embedded cluster per test, so tests never see each other's records.
func makeCluster(brokers: Int = 3) throws -> EmbeddedKafkaCluster {
    try EmbeddedKafkaCluster(brokers: brokers)
}

/// A unique name, so group ids and topics never collide between tests.
func unique(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8))"
}

/// Reads from `consumer` until `count` records arrived or `timeout` passed.
func consume(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(60)) async throws -> [KafkaConsumerMessage] {
    let deadline = ContinuousClock.now + timeout
    var received: [KafkaConsumerMessage] = []
    while received.count < count {
        guard ContinuousClock.now < deadline else { break }
        let batch = try await withThrowingTaskGroup(of: [KafkaConsumerMessage].self) { group in
            group.addTask { try await consumer.nextBatch(maxCount: 1000) }
            group.addTask {
                try await Task.sleep(for: .seconds(1))
                return []
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        received += batch
    }
    return received
}

/// Runs an external program and returns its standard output; fails the test on a non-zero exit.
func runProcess(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw NSError(domain: "run", code: Int(process.terminationStatus), userInfo: [
            NSLocalizedDescriptionKey: "\(executable) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))",
        ])
    }
    return String(decoding: output, as: UTF8.self)
}
