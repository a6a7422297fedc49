import Foundation
import Hummingbird
import XCTest

final class GracefulShutdownTests: HTTPAdapterTestCase {
    /// A request in flight when shutdown starts is still answered (here: Kafka is down, so its
    /// ingest takes the 2 s delivery timeout), then `run` returns; new connections are refused.
    func testShutdownAnswersRequestInFlightThenStops() async throws {
        for broker in 1...3 { cluster.setBrokerDown(Int32(broker)) }
        let bundle = try sample("fhir_patient_encounter_bundle.json")
        let port = self.port
        let inFlight = Task { try await HTTPAdapterTestCase.post(port: port, "/fhir", contentType: "application/fhir+json", body: bundle) }
        try await Task.sleep(for: .milliseconds(500))
        adapter.shutdown()

        let answer = try await inFlight.value
        XCTAssertEqual(answer.status, .serviceUnavailable, "answered, not cut off")
        XCTAssertEqual(answer.issueCode, "transient")
        try await running.value
        do {
            _ = try await post("/fhir", contentType: "application/fhir+json", body: bundle)
            XCTFail("still accepting after shutdown")
        } catch {}
        for broker in 1...3 { cluster.setBrokerUp(Int32(broker)) }
    }
}
