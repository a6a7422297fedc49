import Foundation

/// Runs another program (kcat, python3, openssl…) to completion and returns its standard output.
/// - Throws: `ToolFailure` with the exit status and the end of its standard error.
public func runTool(_ path: String, _ arguments: [String], input: Data? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    let inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(input) }
    try inPipe.fileHandleForWriting.close()
    // Standard error is drained on its own thread, so a chatty tool cannot block on a full pipe.
    let errors = DrainedPipe(err)
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ToolFailure(description: "\(path) exited \(process.terminationStatus): \(String(decoding: errors.wait().suffix(2000), as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}

public struct ToolFailure: Error, CustomStringConvertible {
    public let description: String
}

private final class DrainedPipe: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ pipe: Pipe) {
        Thread.detachNewThread { [self] in
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
