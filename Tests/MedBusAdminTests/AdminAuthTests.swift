import Foundation
import MedBusAdmin
import XCTest

/// Role × endpoint: 200 for a role with the endpoint's permission, 403 without it, 401 without a
/// (valid) token; every refusal as application/problem+json; tokens never in logs or at rest.
final class AdminAuthTests: XCTestCase {
    /// What each endpoint needs (mirrors deploy/openapi.yaml's x-medbus-permission; AdminOpenAPITests checks the document).
    static let matrix: [(method: String, path: String, query: [String: String?], needs: AdminPermission)] = [
        ("GET", "metrics", [:], .metrics),
        ("GET", "v1/messages", ["source": "his.admintest"], .states),
        ("GET", "v1/messages/m-1", [:], .states),
        ("GET", "v1/messages/m-1", ["payload": "true"], .patientData),
        ("GET", "v1/mappings", [:], .states),
        ("GET", "v1/dlq", [:], .states),
        ("POST", "v1/dlq/0:0/replay", [:], .operate),
        ("GET", "v1/audit", [:], .audit),
        ("GET", "v1/tokens", [:], .tokens),
    ]

    func testRoleEndpointMatrix() async throws {
        let fixture = try await AdminFixture()
        try await fixture.storeMessage(id: "m-1", sourceMessageId: "MSG00042", payload: "MSH|^~\\&|PID|||ZHANG^SAN")
        try await fixture.produceDeadLetter(offset: 0)

        for (method, path, query, needs) in Self.matrix {
            let anonymous = try await fixture.client(nil).send(method, path, query: query)
            try assertProblem(anonymous, 401, "\(method) \(path) without token")
            let forged = try await fixture.client(token: "mbt_0123456789abcdef_" + String(repeating: "0", count: 64)).send(method, path, query: query)
            try assertProblem(forged, 401, "\(method) \(path) with an unknown token")
            for role in AdminRole.allCases {
                let reply = try await fixture.client(role).send(method, path, query: query)
                if role.allows(needs) {
                    XCTAssertEqual(reply.status, 200, "\(role) \(method) \(path): \(reply.text)")
                } else {
                    try assertProblem(reply, 403, "\(role) \(method) \(path)")
                    XCTAssertEqual(reply.json["detail"] as? String, "role '\(role.rawValue)' lacks the '\(needs.rawValue)' permission")
                }
            }
        }
        // Health needs no token.
        let health = try await fixture.client(nil).send("GET", "healthz")
        XCTAssertEqual(health.status, 200)
        // Token creation: admin only, and the new token works at once with its role.
        let body = try JSONSerialization.data(withJSONObject: ["name": "grafana", "role": "viewer"])
        let refused = try await fixture.client(.operator).send("POST", "v1/tokens", json: body)
        try assertProblem(refused, 403, "operator creating a token")
        let created = try await fixture.client(.admin).call("POST", "v1/tokens", json: body, as: CreatedToken.self)
        XCTAssertEqual(created.info.role, .viewer)
        let asNew = try await fixture.client(token: created.token).send("GET", "v1/mappings")
        XCTAssertEqual(asNew.status, 200)
        let duplicate = try await fixture.client(.admin).send("POST", "v1/tokens", json: body)
        try assertProblem(duplicate, 409, "second token with the same name")
        let badRole = try await fixture.client(.admin).send("POST", "v1/tokens", json: try JSONSerialization.data(withJSONObject: ["name": "x", "role": "root"]))
        try assertProblem(badRole, 400, "unknown role")
        // Revoked: 401 from then on.
        let revoked = try await fixture.client(.admin).send("DELETE", "v1/tokens/grafana")
        XCTAssertEqual(revoked.status, 200)
        try assertProblem(try await fixture.client(token: created.token).send("GET", "v1/mappings"), 401, "revoked token")
        // Denials are audited with the caller and role.
        let denied = try fixture.registry.auditLog.entries().filter { $0.outcome == "denied" }
        XCTAssertTrue(denied.contains { $0.actor == "test-viewer" && $0.role == "viewer" && $0.object == "GET /v1/audit" }, "\(denied)")
        await fixture.shutdown()
    }

    func testMaskingAndAuditedPayloadView() async throws {
        let fixture = try await AdminFixture()
        try await fixture.storeMessage(id: "m-2", sourceMessageId: "MSG77", payload: "PID|||ZHANG^SAN")
        let viewer = try await fixture.client(.viewer).send("GET", "v1/messages/m-2")
        XCTAssertEqual(viewer.json["sourceMessageId"] as? String, "MS***")
        XCTAssertEqual(viewer.json["correlationId"] as? String, "co***")
        XCTAssertNil(viewer.json["payload"])
        XCTAssertFalse(viewer.text.contains("ZHANG"))
        let listed = try await fixture.client(.viewer).send("GET", "v1/messages", query: ["source": "his.admintest"])
        XCTAssertFalse(listed.text.contains("MSG77"), listed.text)
        let operatorView = try await fixture.client(.operator).send("GET", "v1/messages/m-2", query: ["payload": "true"])
        XCTAssertEqual(operatorView.json["sourceMessageId"] as? String, "MSG77")
        XCTAssertEqual(operatorView.json["payload"] as? String, "PID|||ZHANG^SAN")
        let views = try fixture.registry.auditLog.entries().filter { $0.action == "message.payload.view" }
        XCTAssertEqual(views.map(\.outcome), ["success"])
        XCTAssertEqual(views.first?.actor, "test-operator")
        XCTAssertEqual(views.first?.object, "message:m-2")
        try assertProblem(try await fixture.client(.viewer).send("GET", "v1/messages/nope"), 404, "unknown message")
        try assertProblem(try await fixture.client(.viewer).send("GET", "v1/messages", query: ["from": "yesterday"]), 400, "bad time")
        try assertProblem(try await fixture.client(.viewer).send("GET", "v1/messages", query: ["status": "lost"]), 400, "bad status")
        await fixture.shutdown()
    }

    /// The tokens of a whole session (every role, a bad one, a created one) appear in no log line
    /// and not in the token database file: only salted digests are stored.
    func testTokensNeverLoggedNorStoredInClear() async throws {
        let fixture = try await AdminFixture()
        var used = Array(fixture.tokens.values)
        for (method, path, query, _) in Self.matrix {
            for role in AdminRole.allCases { _ = try await fixture.client(role).send(method, path, query: query) }
        }
        let wrong = "mbt_0123456789abcdef_" + String(repeating: "ab", count: 32)
        _ = try await fixture.client(token: wrong).send("GET", "v1/messages")
        used.append(wrong)
        let created = try await fixture.client(.admin).call("POST", "v1/tokens", json: try JSONSerialization.data(withJSONObject: ["name": "ci", "role": "auditor"]), as: CreatedToken.self)
        used.append(created.token)
        _ = try await fixture.client(token: created.token).send("GET", "v1/audit")

        XCTAssertGreaterThan(fixture.logs.count, 10, "the server logged every authentication")
        let logs = fixture.logs.text
        let file = try Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/admin.sqlite")) + ((try? Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/admin.sqlite-wal"))) ?? Data())
        for token in used {
            let secret = String(token.split(separator: "_")[2])
            XCTAssertFalse(logs.contains(secret), "a token's secret is in the logs")
            XCTAssertNil(file.range(of: Data(secret.utf8)), "a token's secret is stored in clear")
        }
        XCTAssertTrue(logs.contains(created.info.id), "logs name tokens by id")
        await fixture.shutdown()
    }
}

/// A problem+json body whose status matches the HTTP status.
func assertProblem(_ reply: AdminClient.Reply, _ status: Int, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(reply.status, status, "\(what): \(reply.text)", file: file, line: line)
    XCTAssertEqual(reply.contentType, "application/problem+json", what, file: file, line: line)
    XCTAssertEqual(reply.json["status"] as? Int, status, what, file: file, line: line)
    XCTAssertNotNil(reply.json["title"] as? String, what, file: file, line: line)
    XCTAssertFalse((reply.json["detail"] as? String ?? "").isEmpty, what, file: file, line: line)
    XCTAssertTrue((reply.json["type"] as? String ?? "").hasPrefix("https://"), what, file: file, line: line)
}
