import Foundation
import MedBusCore
@testable import MedBusPrescription
import MedBusTestSupport
import XCTest

/// The pharmacy API with mutual TLS from its manifest, over real sockets with Python's `ssl` + `http.client`
/// as the client and the certificates of `scripts/make-test-ca.sh`: the client certificate names the caller,
/// and a request acting for another pharmacy (or hospital) is refused with 403 and changes nothing.
final class PharmacyAPITLSTests: XCTestCase {
    func testClientCertificateMustNameThePharmacyOrHospitalTheRequestActsFor() async throws {
        let certificates = FileManager.default.temporaryDirectory.appendingPathComponent("rx-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: certificates) }
        _ = try runTool("/bin/bash", [repositoryRoot + "/scripts/make-test-ca.sh", certificates, hospital, "P3701001", "P3701002"])
        let fixture = try await RxFixture(manifest: """
            tlsCertificate: \(certificates)/server.pem
            tlsKey: \(certificates)/server.key
            tlsClientCA: \(certificates)/ca.pem
            """)
        defer { Task { await fixture.shutdown() } }
        let client = PythonHTTPSClient(port: fixture.port, certificates: certificates)

        let issued = try await client.send([
            .init(as: hospital, "POST", "/v1/prescriptions", prescriptionBody("TLS-1")),
            .init(as: "P3701001", "POST", "/v1/prescriptions", prescriptionBody("TLS-2")),
        ])
        XCTAssertEqual(issued[0].status, 201, "the hospital issues its own prescription: \(issued[0].body.jsonText)")
        XCTAssertEqual(issued[1].status, 403, "a pharmacy may not issue for the hospital")
        let id = try XCTUnwrap(issued[0].body["rxId"]?.stringValue)
        let path = "/v1/prescriptions/\(id)"

        let other: JSONValue = .object(["pharmacyCode": .string("P3701001")])
        let answers = try await client.send([
            .init(as: "P3701002", "POST", path + "/claim", other),
            .init(as: "P3701001", "GET", path, nil),
            .init(as: "P3701001", "POST", path + "/claim", other),
            .init(as: "P3701002", "POST", path + "/review", approval("P3701001")),
            .init(as: "P3701002", "POST", path + "/dispense", dispenseReport("P3701001")),
            .init(as: "P3701002", "POST", path + "/release", other),
            .init(as: "P3701001", "POST", path + "/revoke", .object(["reason": .string("not ours")])),
            .init(as: "P3701002", "POST", path + "/claim", .object(["pharmacyCode": .string("P3701002")])),
            .init(as: "P3701001", "POST", path + "/review", approval("P3701001")),
        ])
        XCTAssertEqual(answers.map(\.status), [403, 200, 200, 403, 403, 403, 403, 409, 200], answers.map(\.body.jsonText).joined(separator: "\n"))
        for refused in [answers[0], answers[3], answers[4], answers[5], answers[6]] {
            XCTAssertEqual(refused.contentType, "application/problem+json")
            XCTAssertEqual(refused.body["type"], .string(RxProblem.typeBase + "forbidden"))
        }
        XCTAssertEqual(answers[0].body["caller"], .string("P3701002"))
        XCTAssertEqual(answers[7].body["holder"], .string("P3701001"), "acting as itself, the other pharmacy meets the claim")

        // The refused requests changed nothing: issue, claim and review by the holder only.
        let history = try await fixture.service.ledger.history(id: id)
        XCTAssertEqual(history.map(\.action), [.issue, .claim, .approve])
        XCTAssertEqual(history.compactMap(\.actor), ["P3701001", "P3701001"])

        let refused = try await client.send([.init(as: nil, "GET", path, nil), .init(as: "untrusted-client", "GET", path, nil)])
        XCTAssertEqual(refused.map(\.status), [0, 0], "no certificate, or one of another CA, ends in the handshake: \(refused.map(\.body.jsonText))")
    }
}

/// HTTPS requests by Python (`http.client` over `ssl`, verifying the server as `localhost`), all in one process.
/// Certificates are `hospitals/<code>/client.pem` of make-test-ca.sh, or a top-level `<name>.pem`.
struct PythonHTTPSClient {
    let port: Int
    let certificates: String

    struct Request {
        var certificate: String?
        var method: String
        var path: String
        var body: JSONValue?

        init(as certificate: String?, _ method: String, _ path: String, _ body: JSONValue?) {
            self.certificate = certificate
            self.method = method
            self.path = path
            self.body = body
        }
    }

    /// Status 0 and the error text as body: the TLS handshake or the connection failed.
    struct Answer {
        var status: Int
        var body: JSONValue
        var contentType: String
    }

    private static let script = #"""
    import http.client, json, os, ssl, sys
    port, ca, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    answers = []
    for request in json.load(sys.stdin):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca)
        name = request["certificate"]
        if name:
            own = os.path.join(folder, "hospitals", name)
            base = os.path.join(own, "client") if os.path.isdir(own) else os.path.join(folder, name)
            context.load_cert_chain(base + ".pem", base + ".key")
        try:
            connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
            body = request.get("body")
            connection.request(request["method"], request["path"], body=None if body is None else json.dumps(body).encode(),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            text = response.read().decode()
            answers.append({"status": response.status, "contentType": response.getheader("Content-Type", ""),
                            "body": json.loads(text) if text else None})
            connection.close()
        except (ssl.SSLError, OSError) as error:
            answers.append({"status": 0, "contentType": "", "body": type(error).__name__ + ": " + str(error)})
    print(json.dumps(answers))
    """#

    func send(_ requests: [Request]) async throws -> [Answer] {
        let input = JSONValue.array(requests.map { request in
            .object([("certificate", .optional(request.certificate)), ("method", .string(request.method)), ("path", .string(request.path)),
                     ("body", request.body ?? .null)])
        })
        let output = try await onThread { [port, certificates] in
            try runTool("/usr/bin/env", ["python3", "-c", Self.script, String(port), certificates + "/ca.pem", certificates], input: Data(input.jsonBytes))
        }
        return try (JSONValue.parse(output).arrayValue ?? []).map { answer in
            Answer(status: answer["status"]?.intValue ?? -1, body: answer["body"] ?? .null, contentType: answer["contentType"]?.stringValue ?? "")
        }
    }
}
