import Foundation
import Logging
import MedBusCore
import MedBusCrypto
import MedBusHTTPClient
import MedBusInsurers
import MedBusRxCentre
import MedBusTestSupport
import XCTest

/// The client against the reference centre over real HTTP on a loopback port.
final class RxCentreSimulatorTests: XCTestCase {
    static let appId = "H37010200001RXAPP0001"
    static let appSecret = "S3cr3t-for-H37010200001"

    /// A running simulator with one registered hospital; `client(...)` builds clients against it.
    final class Centre: @unchecked Sendable {
        let hospitalKey: SM2PrivateKey
        let centreKey: SM2PrivateKey
        let server: RxCentreSimulatorServer
        let url: String
        private let task: Task<Void, Error>

        init(faults: FaultPlan = FaultPlan()) async throws {
            hospitalKey = try SM2PrivateKey.generate()
            centreKey = try SM2PrivateKey.generate()
            server = try RxCentreSimulatorServer(apps: [RxCentreApp(appId: RxCentreSimulatorTests.appId, appSecret: RxCentreSimulatorTests.appSecret, hospitalKey: hospitalKey.publicKey)],
                                                 centreKey: centreKey, faults: faults, host: "127.0.0.1", port: 0, dropHold: .milliseconds(800),
                                                 logger: Logger(label: "test.rx-centre"))
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            task = Task { [server] in try await server.run { continuation.yield($0) } }
            var iterator = ports.makeAsyncIterator()
            url = "http://127.0.0.1:\(await iterator.next()!)"
        }

        func client(appId: String = RxCentreSimulatorTests.appId, appSecret: String = RxCentreSimulatorTests.appSecret,
                    hospitalKey: SM2PrivateKey? = nil, centreKey: SM2PublicKey? = nil, timeout: Duration = .seconds(10)) throws -> RxCentreClient {
            var configuration = RxCentreConfiguration(url: url, appId: appId, appSecret: appSecret, hospitalKey: hospitalKey ?? self.hospitalKey, centreKey: centreKey ?? self.centreKey.publicKey)
            configuration.timeout = timeout
            return try RxCentreClient(configuration: configuration)
        }

        func stop() async {
            server.shutdown()
            _ = try? await task.value
        }
    }

    static func prescription(_ hospRxno: String, drugs: Int = 2) -> JSONValue {
        .object([
            ("mdtrtCertType", .string("02")), ("mdtrtCertNo", .string("370102199001011234")), ("bizTypeCode", .string("01")),
            ("insuPlcNo", .string("370100")), ("hospRxno", .string(hospRxno)), ("rxTypeCode", .string("1")), ("prscTime", .string("2026-11-24 10:00:00")),
            ("rxDrugCnt", .int(drugs)), ("valiDays", .int(3)), ("valiEndTime", .string("2026-11-27 10:00:00")), ("longRxFlag", .string("0")),
            ("rxdrugdetail", .array((0..<drugs).map { .object([("medListCodg", .string("XJ01CAA040A001010104\($0)")), ("drugGenname", .string("阿莫西林胶囊")), ("drugCnt", .int(2)), ("rxItemTypeCode", .string("11"))]) })),
            ("mdtrtinfo", .object([("fixmedinsCode", .string("H37010200001")), ("mdtrtId", .string("MDT-1")), ("psnNo", .string("37000000000000001")),
                                   ("patnName", .string("张三")), ("certno", .string("370102199001011234")), ("drCode", .string("D001"))])),
            ("diseinfo", .array([.object([("diagType", .string("1")), ("diagCode", .string("J06.900")), ("diagName", .string("上呼吸道感染")), ("maindiagFlag", .string("1"))])])),
        ])
    }

    func testUploadCheckUploadRevokeOverHTTP() async throws {
        let centre = try await Centre()
        let client = try centre.client()
        let checked = try await client.uploadCheck(Self.prescription("RX-0001"))
        XCTAssertEqual(checked.rxTraceCode.count, 20)
        let checkedStatus = await centre.server.simulator.status(of: checked.hiRxno)
        XCTAssertEqual(checkedStatus, "")
        let uploaded = try await client.upload(.object([("rxTraceCode", .string(checked.rxTraceCode)), ("hiRxno", .string(checked.hiRxno)), ("rxFile", .string("UERGLi4u"))]))
        XCTAssertEqual(uploaded.hiRxno, checked.hiRxno)
        XCTAssertEqual(uploaded.rxStasCodg, "1")
        let uploadedStatus = await centre.server.simulator.status(of: checked.hiRxno)
        XCTAssertEqual(uploadedStatus, "1")

        // The trace code is single use, revoke works once.
        await assertRefused(-2, containing: "already used") {
            _ = try await client.upload(.object([("rxTraceCode", .string(checked.rxTraceCode)), ("hiRxno", .string(checked.hiRxno))]))
        }
        let revoked = try await client.revoke(.object([("hiRxno", .string(checked.hiRxno)), ("undoRea", .string("开错药"))]))
        XCTAssertEqual(revoked.rxStasCodg, "3")
        // A repeated revoke answers the same status; a pre-check of an uploaded prescription says so.
        let again = try await client.revoke(.object([("hiRxno", .string(checked.hiRxno)), ("undoRea", .string("again"))]))
        XCTAssertEqual(again.rxStasCodg, "3")
        let rechecked = try await client.uploadCheck(Self.prescription("RX-0001"))
        XCTAssertEqual(rechecked.hiRxno, checked.hiRxno)
        XCTAssertEqual(rechecked.rxStasCodg, "3")
        // Validation names the missing fields; a wrong drug count is refused.
        await assertRefused(-2, containing: "mdtrtinfo.drCode") {
            _ = try await client.uploadCheck(Self.prescription("RX-0002").setting("mdtrtinfo", .object([("fixmedinsCode", .string("H1"))])))
        }
        await assertRefused(-2, containing: "does not match") {
            _ = try await client.uploadCheck(Self.prescription("RX-0003").setting("rxDrugCnt", .int(5)))
        }
        await client.close()
        await centre.stop()
    }

    func testTamperedSignDataAndForeignKeysAreRefused() async throws {
        let centre = try await Centre()
        let session = try RxCentreSession(appId: Self.appId, appSecret: Self.appSecret, ownKey: centre.hospitalKey, peerKey: centre.centreKey.publicKey)
        var envelope = try session.seal(Self.prescription("RX-0100"))
        var signature = Array(Data(base64Encoded: envelope.signData)!)
        signature[40] ^= 0x01
        envelope.signData = Data(signature).base64EncodedString()
        let http = HTTPClient(endpoint: try HTTPEndpoint(centre.url))
        let response = try await http.send(HTTPClientRequest(target: RxCentrePaths().uploadCheck, body: envelope.json.jsonBytes), timeout: .seconds(10))
        XCTAssertEqual(response.status, 400)
        let refusal = try RxCentreEnvelope(bytes: response.body)
        XCTAssertEqual(refusal.code, RxCentreEnvelope.Refusal.badSignature.rawValue)
        XCTAssertEqual(refusal.encData, "")
        await http.close()

        // Signed by a key the centre does not have for this app.
        let impostor = try centre.client(hospitalKey: SM2PrivateKey.generate())
        await assertEnvelopeRefused(.badSignature) { _ = try await impostor.uploadCheck(Self.prescription("RX-0101")) }
        // An appId the centre does not know.
        let stranger = try centre.client(appId: "H99999999999RXAPP9999")
        await assertEnvelopeRefused(.unknownAppID) { _ = try await stranger.uploadCheck(Self.prescription("RX-0102")) }
        // The right appId with the wrong secret: the SM4 key differs, encData does not decrypt.
        let wrongSecret = try centre.client(appSecret: "not-the-secret")
        await assertEnvelopeRefused(.decryptionFailed) { _ = try await wrongSecret.uploadCheck(Self.prescription("RX-0103")) }
        // Nothing was recorded for any refused envelope.
        let recorded = await centre.server.simulator.statusJSON()
        XCTAssertEqual(recorded, .object([]))

        // A reply signed by someone other than the configured centre is not trusted, and says the
        // request may have been processed.
        let misconfigured = try centre.client(centreKey: SM2PrivateKey.generate().publicKey)
        do {
            _ = try await misconfigured.uploadCheck(Self.prescription("RX-0104"))
            XCTFail("a reply with a foreign signature was accepted")
        } catch {
            guard case .untrustedReply(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("signature"), reason)
            XCTAssertTrue(error.mayHaveBeenSent)
        }
        for client in [impostor, stranger, wrongSecret, misconfigured] { await client.close() }
        await centre.stop()
    }

    func testInjectedFaults() async throws {
        let faults = FaultPlan([try SimulatorFault(parsing: "uploadChk:error@1"), try SimulatorFault(parsing: "rxFileUpld:drop@1")])
        let centre = try await Centre(faults: faults)
        let client = try centre.client(timeout: .milliseconds(500))
        await assertRefused(-1, containing: "simulated system error") { _ = try await client.uploadCheck(Self.prescription("RX-0200")) }
        let checked = try await client.uploadCheck(Self.prescription("RX-0200"))
        do {
            _ = try await client.upload(.object([("rxTraceCode", .string(checked.rxTraceCode)), ("hiRxno", .string(checked.hiRxno))]))
            XCTFail("a dropped request succeeded")
        } catch {
            guard case .transport(.timedOut) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.mayHaveBeenSent)
        }
        let afterDrop = await centre.server.simulator.status(of: checked.hiRxno)
        XCTAssertEqual(afterDrop, "", "drop: nothing processed")
        let uploaded = try await client.upload(.object([("rxTraceCode", .string(checked.rxTraceCode)), ("hiRxno", .string(checked.hiRxno))]))
        XCTAssertEqual(uploaded.rxStasCodg, "1")
        await client.close()
        await centre.stop()
    }

    /// MedBus's prescription document through `RxCentrePrescriptionUploader`: mapped, pre-checked,
    /// uploaded; repeats (as the prescription service's at-least-once forwarding makes) change nothing.
    func testPrescriptionUploaderMapsTheDocumentAndIsSafeToRepeat() async throws {
        let centre = try await Centre()
        let uploader = RxCentrePrescriptionUploader(client: try centre.client())
        let document = try JSONValue.parse("""
            {"rxId":"rx-1","hospRxno":"RX-0300","fixmedinsCode":"H37010200001","patientId":"P-77","psnNo":"37000000000000001",
             "encounterId":"E-9","drCode":"D001","prscTime":"2026-11-24T02:00:00Z","valiDays":3,"rxTraceCode":"T1",
             "rxdrugdetail":[{"medListCodg":"XJ01CAA040A001010104","fixmedinsHilistId":"H-1","drugCnt":2,"drugGenname":"阿莫西林胶囊"}],
             "diseinfo":[{"diagCode":"J06.900","diagName":"上呼吸道感染","maindiagFlag":"1"}]}
            """)
        let input = try uploader.uploadCheckInput(document)
        XCTAssertEqual(input["prscTime"], .string("2026-11-24 10:00:00"), "RFC 3339 UTC → the centre's local time")
        XCTAssertEqual(input["valiEndTime"], .string("2026-11-27 10:00:00"))
        XCTAssertEqual(input["mdtrtCertNo"], .string("37000000000000001"))
        XCTAssertEqual(input["mdtrtinfo"]?["mdtrtId"], .string("E-9"))
        XCTAssertEqual(input["rxDrugCnt"], .int(1))

        let hiRxno = try await uploader.upload(prescription: document)
        let status = await centre.server.simulator.status(of: hiRxno ?? "")
        XCTAssertEqual(status, "1")
        let repeated = try await uploader.upload(prescription: document)
        XCTAssertEqual(repeated, hiRxno)
        // Revoked by the hospital's number (the document has no hiRxno), twice.
        try await uploader.revoke(prescription: document, reason: "开错药")
        try await uploader.revoke(prescription: document, reason: nil)
        let revoked = await centre.server.simulator.status(of: hiRxno ?? "")
        XCTAssertEqual(revoked, "3")
        do {
            _ = try await uploader.upload(prescription: document.setting("rxdrugdetail", .array([])))
            XCTFail("a prescription without drug lines was uploaded")
        } catch {
            guard case .malformedEnvelope = error as? RxCentreError else { return XCTFail("\(error)") }
        }
        await uploader.client.close()
        await centre.stop()
    }

    /// The keys and certificates of `scripts/make-test-ca.sh`, loaded from their files, work end to end:
    /// the centre knows the hospital by its SM2 certificate, the hospital the centre by its certificate.
    func testKeysFromTheTestCAScript() async throws {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-rx-ca-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try runTool("/bin/bash", [root + "/scripts/make-test-ca.sh", directory, "H37010200001"])
        let hospital = directory + "/hospitals/H37010200001"
        let appId = "H37010200001-RX-APP"
        let secret = try String(contentsOfFile: hospital + "/rx-app-secret", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try RxCentreSimulatorServer(
            apps: [RxCentreApp(appId: appId, appSecret: secret, hospitalKey: SM2PublicKey(certificatePEM: String(contentsOfFile: hospital + "/sm2-signing.pem", encoding: .utf8)))],
            centreKey: SM2PrivateKey(pemFile: directory + "/rx-centre/sm2-signing.key"), host: "127.0.0.1", port: 0, logger: Logger(label: "test.rx-centre"))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let running = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!
        let client = try RxCentreClient(configuration: RxCentreConfiguration(
            url: "http://127.0.0.1:\(port)", appId: appId, appSecretFile: hospital + "/rx-app-secret",
            hospitalKeyFile: hospital + "/sm2-signing.key", centreKeyFile: directory + "/rx-centre/sm2-signing.pem"))
        let checked = try await client.uploadCheck(Self.prescription("RX-CA-1"))
        XCTAssertEqual(checked.rxTraceCode.count, 20)
        await client.close()
        server.shutdown()
        try await running.value
    }

    private func assertRefused(_ infcode: Int, containing text: String, _ body: () async throws -> Void, line: UInt = #line) async {
        do {
            try await body()
            XCTFail("expected infcode \(infcode)", line: line)
        } catch {
            guard case .refused(let code, let message) = error as? RxCentreError, code == infcode, message.contains(text) else { return XCTFail("\(error)", line: line) }
        }
    }

    private func assertEnvelopeRefused(_ expected: RxCentreEnvelope.Refusal, _ body: () async throws -> Void, line: UInt = #line) async {
        do {
            try await body()
            XCTFail("expected refusal \(expected)", line: line)
        } catch {
            guard let error = error as? RxCentreError, case .envelopeRefused(let code, _) = error, code == expected.rawValue else { return XCTFail("\(error)", line: line) }
            XCTAssertFalse(error.mayHaveBeenSent, line: line)
        }
    }
}
