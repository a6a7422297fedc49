import ArgumentParser
import Foundation
import MedBusStore

/// Hidden: writes messages through group commit until killed, printing each id once its
/// transaction committed. The crash test kills it with SIGKILL and checks every printed id.
struct StoreWriterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store-writer", abstract: "Write test messages until killed (crash testing).", shouldDisplay: false)
    @OptionGroup var store: StoreOptions
    @Option var writers: Int = 16

    func run() async throws {
        let messageStore = try store.open()
        let out = OutputLines()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for n in 0... {
                        let id = "w\(writer)-\(n)"
                        _ = try await messageStore.insert(StoredMessage(id: id, source: "crash.test", type: "TEST", contentType: "text/plain", payload: Data(repeating: 0x41, count: 512)))
                        out.write("\(id)\n")
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// Unbuffered, whole-line writes to standard output from many tasks.
final class OutputLines: @unchecked Sendable {
    private let lock = NSLock()
    func write(_ line: String) {
        lock.withLock { FileHandle.standardOutput.write(Data(line.utf8)) }
    }
}
