import Foundation
import MedBusAdmin
import XCTest

final class AdminHealthTests: XCTestCase {
    /// /readyz answers 200 while Kafka and the store answer, 503 (problem+json naming Kafka) while
    /// the embedded cluster's broker is down, and 200 again when it is back; /healthz stays 200.
    func testReadyzFollowsKafka() async throws {
        let fixture = try await AdminFixture()
        let ready = try await fixture.client(nil).send("GET", "readyz")
        XCTAssertEqual(ready.status, 200, ready.text)
        XCTAssertEqual(ready.json["checks"] as? [String: String], ["kafka": "ok", "store": "ok"])

        fixture.cluster.setBrokerDown(1)
        let down = try await fixture.client(nil).send("GET", "readyz")
        try assertProblem(down, 503, "readyz with Kafka down")
        XCTAssertTrue((down.json["detail"] as? String ?? "").hasPrefix("kafka: "), down.text)
        XCTAssertFalse((down.json["detail"] as? String ?? "").contains("store"), down.text)
        let health = try await fixture.client(nil).send("GET", "healthz")
        XCTAssertEqual(health.status, 200, "the process is still up")

        fixture.cluster.setBrokerUp(1)
        var back = 0
        for _ in 0..<20 {
            back = try await fixture.client(nil).send("GET", "readyz").status
            if back == 200 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        XCTAssertEqual(back, 200, "ready again once the broker is back")
        await fixture.shutdown()
    }

    /// /readyz is 503 naming the store once the store is closed.
    func testReadyzFollowsStore() async throws {
        let fixture = try await AdminFixture()
        try fixture.store.close()
        let reply = try await fixture.client(nil).send("GET", "readyz")
        try assertProblem(reply, 503, "readyz with the store closed")
        XCTAssertTrue((reply.json["detail"] as? String ?? "").hasPrefix("store: "), reply.text)
        await fixture.shutdown()
    }
}
