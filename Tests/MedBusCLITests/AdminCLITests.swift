import Foundation
import MedBusTestSupport
import XCTest

/// A scripted operator session against `medbus serve`'s admin API and data directory: token
/// creation (local and remote), mapping publish and rollback, a dead-letter replay over the API
/// (and a repeated one, skipped) each appear exactly once in `medbus audit list`, with actor and
/// time; role checks hold for the CLI's `--server --token`; no token appears in any log or output
/// but the one `token create` printed it to.
final class AdminCLITests: XCTestCase {
    func testOperatorSessionIsAuditedOnceEachAndTokensNeverLogged() throws {
        let root = temporaryDirectory()
        let data = root + "/data"
        try FileManager.default.copyItem(atPath: packageRoot.appendingPathComponent("Mappings").path, toPath: root + "/Mappings")
        try FileManager.default.createDirectory(atPath: root + "/none", withIntermediateDirectories: true)
        let serve = try MedBusProcess(["serve", "--data-dir", data, "--topics", "deploy/topics.yaml", "--adapters", root + "/none",
                                       "--destinations", root + "/none", "--no-router", "--no-settlement", "--admin-port", "127.0.0.1:0"],
                                      environment: ["MEDBUS_LOG_LEVEL": "debug"])
        defer { serve.signal(SIGKILL) }
        try serve.waitForOutput { $0.contains("Admin API: http://") && $0.contains("Store:") }
        let server = try XCTUnwrap(serve.stdout.split(separator: "\n").first { $0.hasPrefix("Admin API: ") }?.split(separator: " ")[2]).description
        let bootstrap = try XCTUnwrap(serve.stdout.split(separator: "\n").first { $0.hasPrefix("Kafka bootstrap: ") }?.split(separator: " ")[2]).description
        var outputs: [String] = []
        func cli(_ arguments: [String], local: Bool = true) throws -> (status: Int32, stdout: String, stderr: String) {
            let result = try medbus(arguments + (local ? ["--data-dir", data] : []))
            outputs.append(result.stderr)
            return result
        }

        // Tokens: an admin token made locally, an operator token made with it over the API.
        let adminToken = try cli(["token", "create", "--role", "admin", "--name", "alice-admin"])
        XCTAssertEqual(adminToken.status, 0, adminToken.stderr)
        let admin = adminToken.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let operatorToken = try cli(["token", "create", "--role", "operator", "--name", "ops-li", "--server", server, "--token", admin], local: false)
        XCTAssertEqual(operatorToken.status, 0, operatorToken.stderr)
        let ops = operatorToken.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(ops.hasPrefix("mbt_"), ops)

        // Mapping publish, a second version, a rollback.
        let file = root + "/Mappings/his/oru-result.yaml"
        XCTAssertEqual(try cli(["mapping", "publish", file, "--note", "first", "--author", "ops-zhang"]).status, 0)
        let csv = root + "/Mappings/codes/result-status.csv"
        try String(contentsOfFile: csv, encoding: .utf8).appending("Z,final,test code\n").write(toFile: csv, atomically: true, encoding: .utf8)
        XCTAssertEqual(try cli(["mapping", "publish", file, "--note", "code Z", "--author", "ops-zhang"]).status, 0)
        let rollback = try cli(["mapping", "rollback", "oru-result", "--to", "1", "--note", "bad code", "--author", "ops-wang"])
        XCTAssertEqual(rollback.status, 0, rollback.stderr)

        // A dead letter (as the router writes it), replayed over the API by the operator; a viewer may not.
        _ = try runTool("/usr/bin/kcat", ["-P", "-b", bootstrap, "-t", "dlq.routing", "-p", "0", "-k", "patient-1",
                                          "-H", "medbus-source-topic=rx.events", "-H", "medbus-source-partition=0", "-H", "medbus-source-offset=7",
                                          "-H", "medbus-error-reason=missing-code", "-H", "medbus-message-id=m-7"], input: Data("MSH|dead\n".utf8))
        let listed = try cli(["dlq", "list", "--server", server, "--token", ops], local: false)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("0:0\tmissing-code"), listed.stdout)
        let viewer = try cli(["token", "create", "--role", "viewer", "--name", "grafana"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let refused = try cli(["dlq", "replay", "0:0", "--server", server, "--token", viewer], local: false)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("role 'viewer' lacks the 'operate' permission (HTTP 403)"), refused.stderr)
        let replay = try cli(["dlq", "replay", "0:0", "--server", server, "--token", ops], local: false)
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertTrue(replay.stdout.contains("replayed 1 dead letters"), replay.stdout)
        let again = try cli(["dlq", "replay", "0:0"])
        XCTAssertTrue(again.stdout.contains("replayed 0 dead letters; 1 already replayed before"), again.stdout)

        // The audit log: each action of the session once, with actor and time.
        let audit = try cli(["audit", "list"])
        XCTAssertEqual(audit.status, 0, audit.stderr)
        let entries = audit.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        func rows(_ action: String) -> [[String]] { entries.filter { $0[4] == action } }
        XCTAssertEqual(rows("token.create").map { [$0[2], $0[3]] }, [[operatorName, "local"], ["alice-admin", "admin"], [operatorName, "local"]])
        XCTAssertEqual(rows("mapping.publish").map { $0[2] }, ["ops-zhang", "ops-zhang"])
        XCTAssertEqual(rows("mapping.rollback").map { $0[2] }, ["ops-wang"])
        XCTAssertEqual(rows("dlq.replay").map { [$0[2], $0[3], $0[5], $0[6]] }, [["ops-li", "operator", "dlq.routing/0/0", "success"]])
        XCTAssertEqual(rows("api.request").map { [$0[2], $0[6]] }, [["grafana", "denied"]])
        for row in entries { XCTAssertNotNil(ISO8601DateFormatter().date(from: row[1]), "time of \(row)") }
        // The same log through the API for an auditor-capable token; refused for the operator.
        let remote = try cli(["audit", "list", "--server", server, "--token", admin, "--json"], local: false)
        XCTAssertEqual(remote.stdout.split(separator: "\n").count, entries.count, remote.stdout)
        XCTAssertEqual(try cli(["audit", "list", "--server", server, "--token", ops], local: false).status, 1)

        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(timeout: 30), 0, serve.stderr.suffix(2000).description)
        XCTAssertTrue(serve.stderr.contains("authenticated"), "the server logged the authenticated requests")
        for token in [admin, ops, viewer] {
            let secret = String(token.split(separator: "_")[2])
            XCTAssertFalse(serve.stderr.contains(secret), "a token is in the server's logs")
            XCTAssertFalse(outputs.joined().contains(secret), "a token is in a command's error output")
            XCTAssertFalse(audit.stdout.contains(secret), "a token is in the audit log")
        }
    }

    private var operatorName: String { ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown" }
}
