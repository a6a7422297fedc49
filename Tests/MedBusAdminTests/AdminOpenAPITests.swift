import Foundation
import MedBusAdmin
import XCTest
import Yams

/// deploy/openapi.yaml against the running server: the document and the server list the same
/// operations, and every operation, called by every role and without a token, answers with a
/// status the document lists for it — 401/403/200 exactly as its `x-medbus-permission` says.
final class AdminOpenAPITests: XCTestCase {
    static var document: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/openapi.yaml").standardizedFileURL
    }

    func testEveryDocumentedOperationAnswersAsDocumented() async throws {
        let yaml = try String(contentsOf: Self.document, encoding: .utf8)
        let spec = try XCTUnwrap(try Yams.load(yaml: yaml) as? [String: Any])
        XCTAssertEqual(spec["openapi"] as? String, "3.1.0")
        let paths = try XCTUnwrap(spec["paths"] as? [String: [String: Any]])

        let fixture = try await AdminFixture()
        try await fixture.storeMessage(id: "openapi-example-message", sourceMessageId: "EX1", payload: "MSH|example")

        var documented: Set<String> = []
        for (path, item) in paths.sorted(by: { $0.key < $1.key }) {
            for (method, raw) in item.sorted(by: { $0.key < $1.key }) {
                let operation = try XCTUnwrap(raw as? [String: Any], "\(method) \(path)")
                documented.insert("\(method.uppercased()) \(path)")
                let responses = Set(try XCTUnwrap(operation["responses"] as? [String: Any]).keys.compactMap { Int($0) })
                let permission = try XCTUnwrap(operation["x-medbus-permission"] as? String, "\(method) \(path) names its permission")
                let needs = AdminPermission(rawValue: permission)
                XCTAssertTrue(permission == "none" || needs != nil, "\(method) \(path): unknown permission \(permission)")

                // Fill path parameters with their examples; send the documented request body example.
                var concrete = path
                for parameter in operation["parameters"] as? [[String: Any]] ?? [] where parameter["in"] as? String == "path" {
                    let example = try XCTUnwrap(parameter["example"], "\(method) \(path): path parameter \(parameter["name"] ?? "") needs an example")
                    concrete = concrete.replacingOccurrences(of: "{\(parameter["name"] as! String)}", with: "\(example)")
                }
                let body = ((operation["requestBody"] as? [String: Any])?["content"] as? [String: Any])
                    .flatMap { ($0["application/json"] as? [String: Any])?["example"] }
                    .map { try? JSONSerialization.data(withJSONObject: $0) } ?? nil

                for role in [nil] + AdminRole.allCases.map(Optional.some) {
                    let reply = try await fixture.client(role).send(method.uppercased(), String(concrete.dropFirst()), json: body)
                    let who = role?.rawValue ?? "anonymous"
                    XCTAssertTrue(responses.contains(reply.status), "\(who) \(method) \(concrete) → \(reply.status), documented: \(responses.sorted()) \(reply.text)")
                    if reply.status >= 400 { XCTAssertEqual(reply.contentType, "application/problem+json", "\(who) \(method) \(concrete)") }
                    guard let needs else { continue }
                    if role == nil {
                        XCTAssertEqual(reply.status, 401, "\(who) \(method) \(concrete)")
                    } else if !role!.allows(needs) {
                        XCTAssertEqual(reply.status, 403, "\(who) \(method) \(concrete)")
                    } else {
                        XCTAssertTrue((200..<300).contains(reply.status) || reply.status == 404 || reply.status == 409,
                                      "\(who) \(method) \(concrete) → \(reply.status) \(reply.text)")
                    }
                }
            }
        }
        XCTAssertEqual(documented, Set(fixture.server.routes), "deploy/openapi.yaml and the server's routes differ")
        await fixture.shutdown()
    }
}
