import Foundation
import MedBusCore
@testable import MedBusPrescription
import XCTest

/// The seam to the insurance e-prescription centre: every issue and revoke on rx.events reaches it, in
/// order, and a failing call is retried rather than skipped.
final class PrescriptionCentreTests: XCTestCase {
    /// Records calls; the first upload fails, as an unreachable centre would.
    actor Centre: PrescriptionCentre {
        var calls: [String] = []
        private var failNextUpload = true

        func upload(prescription: JSONValue) async throws -> String? {
            if failNextUpload {
                failNextUpload = false
                calls.append("failed")
                throw RxProblem(.storeFailed, "centre unreachable")
            }
            calls.append("upload \(prescription["hospRxno"]?.stringValue ?? "?")")
            return "HI-1"
        }

        func revoke(prescription: JSONValue, reason: String?) async throws {
            calls.append("revoke \(prescription["hospRxno"]?.stringValue ?? "?") \(reason ?? "")")
        }
    }

    func testIssuesAndRevokesReachTheCentreInOrderWithRetries() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let centre = Centre()
        let forwarder = PrescriptionCentreForwarder(centre: centre, ledger: fixture.service.ledger, kafka: fixture.kafka)
        let running = Task { try await forwarder.run() }
        defer { running.cancel() }
        let id = try await fixture.issue(prescriptionBody("CF-CENTRE"))
        _ = try await fixture.operation(id, "claim", .object(["pharmacyCode": .string("P1")]))
        _ = try await fixture.operation(id, "revoke", .object(["reason": .string("wrong drug")]))
        try await fixture.service.publishPending()
        try await waitUntil("the revoke at the centre") { await centre.calls.count >= 3 }
        let calls = await centre.calls
        XCTAssertEqual(calls, ["failed", "upload CF-CENTRE", "revoke CF-CENTRE wrong drug"])
    }
}
