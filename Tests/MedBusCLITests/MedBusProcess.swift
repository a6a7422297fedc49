import Foundation
import XCTest

/// The package root, found from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `medbus` executable built beside the test bundle.
let medbusExecutable = builtExecutable("medbus")

/// An executable of this package (`medbus`, `medbus-adapter-mllp`…) built beside the test bundle.
func builtExecutable(_ name: String) -> URL {
    let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
    for directory in candidates where FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent(name).path) {
        return directory.appendingPathComponent(name)
    }
    return packageRoot.appendingPathComponent(".build/debug/\(name)")
}

/// A running `medbus` (or other `executable`) process whose output is collected as it arrives.
final class MedBusProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    init(_ arguments: [String], executable: URL = medbusExecutable, environment: [String: String] = [:]) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        outPipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            lock.withLock { out.append(data) }
        }
        errPipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            lock.withLock { err.append(data) }
        }
        try process.run()
    }

    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

    /// Waits until `condition` holds for the output so far (standard error's with `errors`), or
    /// fails after `timeout`.
    func waitForOutput(timeout: TimeInterval = 60, errors: Bool = false, _ condition: (String) -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var output: String { errors ? stderr : stdout }
        while !condition(output) {
            guard Date() < deadline, process.isRunning || condition(output) else {
                throw NSError(domain: "medbus", code: 1, userInfo: [NSLocalizedDescriptionKey: "output condition not met; stdout: \(stdout.suffix(500)) stderr: \(stderr.suffix(1500))"])
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Waits for exit (killing the process after `timeout`) and returns its status.
    @discardableResult
    func wait(timeout: TimeInterval = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1) // let the readability handlers drain
        return process.terminationStatus
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }
}

/// Runs `medbus` to completion: (exit status, stdout, stderr).
func medbus(_ arguments: [String], timeout: TimeInterval = 60) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = try MedBusProcess(arguments)
    let status = p.wait(timeout: timeout)
    return (status, p.stdout, p.stderr)
}

func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "medbus-cli-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
