import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MedBusTestSupport
import XCTest

/// `medbus route --admin-port`: a router answers /healthz and /readyz (Kafka only: it keeps no
/// message store) and /metrics with a token of its data directory, and `medbus_dlq_depth` of
/// dlq.routing is sampled by the process itself, without anyone listing the dead letters.
final class RouteAdminTests: XCTestCase {
    func testRouterServesHealthReadinessAndSampledDeadLetterDepth() async throws {
        let root = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: root + "/none", withIntermediateDirectories: true)
        let serve = try MedBusProcess(["serve", "--data-dir", root + "/serve", "--adapters", root + "/none", "--destinations", root + "/none",
                                       "--no-router", "--no-settlement", "--no-rx", "--admin-port", "off"])
        defer { serve.signal(SIGKILL) }
        try serve.waitForOutput { $0.contains("Kafka bootstrap: ") && $0.contains("Store:") }
        let bootstrap = try XCTUnwrap(serve.stdout.split(separator: "\n").first { $0.hasPrefix("Kafka bootstrap: ") }?.split(separator: " ")[2]).description
        _ = try runTool("/usr/bin/kcat", ["-P", "-b", bootstrap, "-t", "dlq.routing", "-p", "0", "-k", "k-1",
                                          "-H", "medbus-error-reason=missing-code", "-H", "medbus-source-topic=raw.his.H1"], input: Data("MSH|dead\n".utf8))

        let route = try MedBusProcess(["route", "--brokers", bootstrap, "--data-dir", root + "/route", "--instance", "admin-test",
                                       "--admin-port", "127.0.0.1:0", "--kafka-option", "session.timeout.ms=6000"])
        defer { route.signal(SIGKILL) }
        try route.waitForOutput { $0.contains("Admin API: http://") }
        let server = try XCTUnwrap(route.stdout.split(separator: "\n").first { $0.hasPrefix("Admin API: ") }?.split(separator: " ")[2]).description
        let token = try medbus(["token", "create", "--role", "viewer", "--name", "prometheus", "--data-dir", root + "/route"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)

        func get(_ path: String, token: String? = nil) async throws -> (Int, String) {
            var request = URLRequest(url: URL(string: server + path)!)
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
        }
        let health = try await get("/healthz")
        XCTAssertEqual(health.0, 200)
        let ready = try await get("/readyz")
        XCTAssertEqual(ready.0, 200, ready.1)
        XCTAssertTrue(ready.1.contains(#""kafka":"ok""#) && !ready.1.contains("store"), ready.1)
        let refused = try await get("/metrics")
        XCTAssertEqual(refused.0, 401)
        let search = try await get("/v1/messages", token: token)
        XCTAssertEqual(search.0, 404, "a router has no message store to search")
        let deadline = Date().addingTimeInterval(40)
        var metrics = ""
        while Date() < deadline {
            metrics = try await get("/metrics", token: token).1
            if metrics.contains(#"medbus_dlq_depth{topic="dlq.routing"} 1"#) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        XCTAssertTrue(metrics.contains(#"medbus_dlq_depth{topic="dlq.routing"} 1"#), metrics)
        route.signal(SIGTERM)
        XCTAssertEqual(route.wait(timeout: 30), 0, route.stderr.suffix(2000).description)
    }
}
