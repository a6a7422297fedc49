import Foundation
import XCTest

/// Issue 8's demo run, checked from outside by `scripts/demo-run-check.py` (Python: confluent-kafka,
/// jsonschema): `medbus serve` at log level trace on the embedded cluster, the sample patients through
/// MLLP, the HTTP HIS adapter, a settlement, a prescription (claimed over rx.commands, dispensed over
/// HTTP), a 120 task over TCP and the operator's admin views. Every record on every topic must match the
/// schema deploy/contracts.yaml names for it (and each contract listed in the script must have at least
/// one valid record), and no patient name, id, certificate or phone number, and no API token, may
/// appear in the process's stdout or stderr.
final class DemoRunTests: XCTestCase {
    func testDemoRunLogsNoPatientDataAndEveryRecordMatchesItsContract() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [packageRoot.appendingPathComponent("scripts/demo-run-check.py").path, "--medbus", medbusExecutable.path]
        let out = Pipe()
        process.standardOutput = out
        let errors = URL(fileURLWithPath: NSTemporaryDirectory() + "demo-run-\(UUID().uuidString.prefix(8)).stderr")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let status = process.terminationStatus
        let summary = try XCTUnwrap(output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
                                    "no summary; stderr: \((try? String(contentsOf: errors, encoding: .utf8))?.suffix(3000) ?? "")")
        XCTAssertEqual(status, 0, "\(summary["failures"] ?? output.suffix(3000))")
        XCTAssertEqual(summary["failures"] as? [String], [], "\(summary)")
        XCTAssertEqual(summary["leaks"] as? [String], [], "\(summary)")
        XCTAssertEqual(summary["settlementState"] as? String, "completed", "\(summary)")
        XCTAssertGreaterThan(summary["logLines"] as? Int ?? 0, 100, "trace logging produced output to search")
        let valid = try XCTUnwrap(summary["valid"] as? [String: Int])
        for contract in ["nhsaRequest", "nhsaReply", "rxIssued", "rxAvailable", "rxCommand", "rxCommandResult", "rxEvent", "mappingAnnouncement", "auditRecord"] {
            XCTAssertGreaterThan(valid[contract] ?? 0, 0, "no valid \(contract) record: \(summary)")
        }
    }
}
