import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MedBusCore
import MedBusCrypto
import MedBusInsurers
import MedBusKafka
@testable import MedBusPrescription
import MedBusTestSupport
import XCTest

/// The forwarder to the insurance e-prescription centre, configured by the manifest's `centre:` block, against
/// the reference centre (`medbus simulate rx-centre`'s server) over real HTTP, its faults set through its HTTP
/// admin route: a centre that is down and comes back, a business rejection, a reply slower than the timeout,
/// and a revoke.
final class PrescriptionCentreTests: XCTestCase {
    static let appId = "H37010200001RXAPP0001"

    /// A prescription the centre takes: its drug lines carry the generic names it requires.
    static func body(_ number: String) -> JSONValue {
        let body = prescriptionBody(number)
        let lines = (body["rxdrugdetail"]?.arrayValue ?? []).map { $0.setting("drugGenname", .string("注射用头孢曲松钠")) }
        return body.setting("rxdrugdetail", .array(lines))
    }

    /// The centre's SM2 key (made by the openssl command) and the hospital's app secret in `folder`, and the
    /// manifest's `centre:` block for a centre at `port`.
    static func centreFiles(in folder: String, port: Int) throws -> (centreKey: SM2PrivateKey, manifest: String) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try runTool("/usr/bin/openssl", ["genpkey", "-algorithm", "SM2", "-out", folder + "/centre.key.pem"])
        _ = try runTool("/usr/bin/openssl", ["pkey", "-in", folder + "/centre.key.pem", "-pubout", "-out", folder + "/centre.pub.pem"])
        try "S3cr3t-for-H37010200001\n".write(toFile: folder + "/app.secret", atomically: true, encoding: .utf8)
        return (try SM2PrivateKey(pemFile: folder + "/centre.key.pem"), """
            centre:
              url: http://127.0.0.1:\(port)
              centreKey: \(folder)/centre.pub.pem
              timeoutSeconds: 1
              maxRetrySeconds: 1
              hospitals:
                - code: \(hospital)
                  appId: \(Self.appId)
                  appSecretFile: \(folder)/app.secret
            """)
    }

    func testIssuesAndRevokesReachTheCentreThroughOutagesAndRejections() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rx-centre-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }

        // The centre's address, then the centre down: every call is refused until it comes up.
        var centre = try await CentreServer(port: 0, hospitalKey: try SM2PrivateKey.generate().publicKey, centreKey: try SM2PrivateKey.generate())
        let port = centre.port
        await centre.stop()
        let (centreKey, block) = try Self.centreFiles(in: folder, port: port)

        let fixture = try await RxFixture(manifest: block)
        defer { Task { await fixture.shutdown() } }
        var link = try XCTUnwrap(fixture.configuration.centre)
        link.firstRetryDelay = .milliseconds(100)
        let forwarder = try PrescriptionCentreForwarder(link: link, service: fixture.service, kafka: fixture.kafka)
        let publishing = Task { try await fixture.service.run() }
        let forwarding = Task { try await forwarder.run() }
        defer {
            publishing.cancel()
            forwarding.cancel()
        }
        func centreState(_ id: String) async throws -> RxCentreState? { try await fixture.service.ledger.record(.id(id))?.centre }

        // Down, then up: the upload is retried, recorded as such, and lands once the centre is back.
        let first = try await fixture.issue(Self.body("CF-DOWN"))
        try await waitUntil("the first upload failing") { try await centreState(first)?.status == .retrying }
        let failing = try await centreState(first)
        XCTAssertEqual(failing?.reason, "centre-unreachable")
        XCTAssertEqual(failing?.operation, "upload")
        let hospitalKey = try SM2PrivateKey(pemFile: fixture.directory + "/hospital.sm2.key.pem")
        centre = try await CentreServer(port: port, hospitalKey: hospitalKey.publicKey, centreKey: centreKey)
        try await waitUntil("the upload after the centre came up") {
            let state = try await centreState(first)
            XCTAssertNotEqual(state?.status, .rejected, state?.detail ?? "")
            return state?.status == .uploaded || state?.status == .rejected
        }
        let uploaded = try await centreState(first)
        let firstNumber = try XCTUnwrap(uploaded?.hiRxno)
        XCTAssertGreaterThanOrEqual(uploaded?.attempts ?? 0, 1, "failed attempts before the upload are counted")
        let atCentre = await centre.simulator.status(of: firstNumber)
        XCTAssertEqual(atCentre, "1", "valid at the centre")

        // A business rejection: recorded on the prescription, dead-lettered with its reason, not retried.
        try await centre.setFaults(["uploadChk:decline=处方药品与目录不符@1"])
        let second = try await fixture.issue(Self.body("CF-REJECTED"))
        try await waitUntil("the rejection recorded") { try await centreState(second)?.status == .rejected }
        let rejected = try await centreState(second)
        XCTAssertEqual(rejected?.reason, "centre-refused")
        XCTAssertEqual(rejected?.attempts, 1, "a rejection is not retried")
        XCTAssertTrue(rejected?.detail?.contains("infcode -2") == true, rejected?.detail ?? "")
        let shown = try await fixture.http("GET", "/v1/prescriptions/\(second)")
        XCTAssertEqual(shown.body["centre"]?["status"], .string("rejected"), "the centre status is in the API's answer")
        XCTAssertEqual(shown.body["centre"]?["reason"], .string("centre-refused"))
        var letters: [KafkaConsumerMessage] = []
        try await waitUntil("the dead letter on dlq.rx") {
            letters = try await fixture.records(RxTopics.deadLetters, key: second)
            return !letters.isEmpty
        }
        XCTAssertEqual(letters.count, 1)
        XCTAssertEqual(letters.first?.headers.string("medbus-error-reason"), "centre-refused")
        XCTAssertEqual(letters.first?.headers.string("medbus-source-topic"), RxTopics.events)
        XCTAssertEqual(try JSONValue.parse(letters.first?.value ?? [])["event"], .string(RxAction.issue.rawValue), "the event that asked for the upload")

        // A reply slower than the 1 s timeout: retried (the pre-check answers the same number), uploaded once.
        try await centre.setFaults(["rxFileUpld:delay=2500@1"])
        let third = try await fixture.issue(Self.body("CF-SLOW"))
        try await waitUntil("the slow upload") { try await centreState(third)?.status == .uploaded }
        let slow = try await centreState(third)
        XCTAssertEqual(slow?.attempts, 1, "one timeout, then the upload")
        let slowAtCentre = await centre.simulator.status(of: slow?.hiRxno ?? "")
        XCTAssertEqual(slowAtCentre, "1")

        // Revokes: the rejected one is not at the centre (nothing to withdraw); the first is withdrawn.
        try await centre.setFaults([])
        let revokeSecond = try await fixture.operation(second, "revoke", .object(["reason": .string("重开")]))
        let revokeFirst = try await fixture.operation(first, "revoke", .object(["reason": .string("开错药")]))
        XCTAssertEqual([revokeSecond.status, revokeFirst.status], [200, 200])
        try await waitUntil("the revoke at the centre") { try await centreState(first)?.status == .revoked }
        let revokedAtCentre = await centre.simulator.status(of: firstNumber)
        XCTAssertEqual(revokedAtCentre, "3", "revoked at the centre")
        let secondAfter = try await centreState(second)
        XCTAssertEqual(secondAfter?.status, .rejected)
        let centreList = await centre.simulator.statusJSON()
        XCTAssertEqual(centreList.objectFields.count, 2, "two prescriptions at the centre, each once: \(centreList.jsonText)")
        await centre.stop()
    }
}

extension PrescriptionCentreTests {
    /// With a centre, a prescription is checked for what the centre refuses an upload without — a diagnosis, each
    /// drug line's generic name — when it is issued, not after it reached the pharmacies; a manifest that turns
    /// the diagnosis off next to a centre is refused at startup, naming the contradiction.
    func testACentreMakesIssuingRequireWhatTheCentreNeeds() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rx-centre-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fixture = try await RxFixture(manifest: try Self.centreFiles(in: folder, port: 9).manifest)
        defer { Task { await fixture.shutdown() } }
        XCTAssertTrue(fixture.configuration.requireDiagnosis, "a centre implies requireDiagnosis")

        let noDiagnosis = try await fixture.http("POST", "/v1/prescriptions", Self.body("CF-NODIAG").setting("diseinfo", .null))
        XCTAssertEqual(noDiagnosis.status, RxProblem.Kind.missingField.httpStatus)
        XCTAssertEqual(noDiagnosis.body["type"]?.stringValue, RxProblem.typeBase + "missing-field")
        XCTAssertEqual(noDiagnosis.body["field"]?.stringValue, "diseinfo")
        XCTAssertTrue(noDiagnosis.body["detail"]?.stringValue?.contains("prescription centre") == true, noDiagnosis.body.jsonText)
        var lines = try XCTUnwrap(Self.body("CF-NONAME")["rxdrugdetail"]?.arrayValue)
        lines[1] = lines[1].setting("drugGenname", .string(" "))
        let noName = try await fixture.http("POST", "/v1/prescriptions", Self.body("CF-NONAME").setting("rxdrugdetail", .array(lines)))
        XCTAssertEqual(noName.body["type"]?.stringValue, RxProblem.typeBase + "missing-field")
        XCTAssertEqual(noName.body["field"]?.stringValue, "rxdrugdetail[1].drugGenname")
        let complete = try await fixture.http("POST", "/v1/prescriptions", Self.body("CF-COMPLETE"))
        XCTAssertEqual(complete.status, 201, complete.body.jsonText)
        let stored = try await fixture.service.ledger.list(status: nil, limit: 10).map(\.hospRxno)
        XCTAssertEqual(stored, ["CF-COMPLETE"])

        let manifest = try String(contentsOfFile: fixture.directory + "/rx-service.yaml", encoding: .utf8)
        let contradicting = fixture.directory + "/contradicting.yaml"
        try manifest.replacingOccurrences(of: "claimLeaseMinutes:", with: "requireDiagnosis: false\nclaimLeaseMinutes:")
            .write(toFile: contradicting, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RxServiceConfiguration.load(path: contradicting)) { error in
            XCTAssertTrue("\(error)".hasPrefix(contradicting + ": requireDiagnosis: false contradicts centre: "), "\(error)")
        }
        try manifest.replacingOccurrences(of: "claimLeaseMinutes:", with: "requireDiagnosis: true\nclaimLeaseMinutes:")
            .write(toFile: contradicting, atomically: true, encoding: .utf8)
        XCTAssertTrue(try RxServiceConfiguration.load(path: contradicting).requireDiagnosis)
    }
}

/// The reference centre on a loopback port (the server of `medbus simulate rx-centre`).
private struct CentreServer {
    let simulator: RxCentreSimulator
    let server: RxCentreSimulatorServer
    let port: Int
    private let task: Task<Void, Error>

    init(port: Int, hospitalKey: SM2PublicKey, centreKey: SM2PrivateKey) async throws {
        simulator = RxCentreSimulator()
        server = try RxCentreSimulatorServer(apps: [RxCentreApp(appId: PrescriptionCentreTests.appId, appSecret: "S3cr3t-for-H37010200001", hospitalKey: hospitalKey)],
                                             centreKey: centreKey, simulator: simulator, host: "127.0.0.1", port: port, logger: Logger(label: "test.rx-centre"))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        task = Task { [server] in try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        self.port = await iterator.next()!
    }

    /// Through the simulator's admin route, as an operator would.
    func setFaults(_ faults: [String]) async throws {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/_faults")!)
        request.httpMethod = "POST"
        request.httpBody = Data(JSONValue.object(["faults": .array(faults.map(JSONValue.string))]).jsonBytes)
        let (_, response) = try await URLSession.shared.data(for: request)
        XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200)
    }

    func stop() async {
        server.shutdown()
        _ = try? await task.value
    }
}
