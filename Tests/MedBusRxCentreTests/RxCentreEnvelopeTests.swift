import Foundation
import MedBusCore
import MedBusCrypto
@testable import MedBusRxCentre
import MedBusTestSupport
import XCTest

/// The envelope rules, checked against the openssl CLI as an independent implementation.
final class RxCentreEnvelopeTests: XCTestCase {
    static let appId = "T98HPCGN5ZVVQBS8LZQNOAEXVI9GYHKQ"
    static let appSecret = "NMVFVILMKT13GEMD3BKPKCTBOQBPZR2P"

    func testSealOpenRoundTripAndIndependentDecryptionAndVerification() throws {
        let hospital = try SM2PrivateKey.generate(), centre = try SM2PrivateKey.generate()
        let hospitalSide = try RxCentreSession(appId: Self.appId, appSecret: Self.appSecret, ownKey: hospital, peerKey: centre.publicKey)
        let centreSide = try RxCentreSession(appId: Self.appId, appSecret: Self.appSecret, ownKey: centre, peerKey: hospital.publicKey)
        let data = try JSONValue.parse(#"{"hospRxno":"RX-1","rxDrugCnt":2,"patnName":"张三","empty":"","rxdrugdetail":[{"drugGenname":"阿莫西林","drugCnt":"1"}]}"#)
        let envelope = try hospitalSide.seal(data)
        XCTAssertEqual(envelope.fields.map(\.0), ["appId", "encType", "signType", "timestamp"])
        XCTAssertEqual(envelope.encData, envelope.encData.uppercased())
        XCTAssertEqual(Data(base64Encoded: envelope.signData)?.count, 64)
        XCTAssertEqual(try centreSide.open(RxCentreEnvelope(bytes: envelope.json.jsonBytes)), data)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-rx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // SM4 key: openssl computes SM4-ECB(appId[0..16], appSecret) → upper hex → first 16 characters.
        let derived = try openssl(["enc", "-sm4-ecb", "-K", hex(Array(Self.appId.utf8.prefix(16)))], input: Array(Self.appSecret.utf8), in: directory)
        let key = Array(hex(derived).uppercased().utf8.prefix(16))
        XCTAssertEqual(key, try RxCentreSession.deriveSM4Key(appId: Self.appId, appSecret: Self.appSecret))
        // encData: openssl decrypts it to ASCII JSON with \u escapes.
        let plain = try openssl(["enc", "-d", "-sm4-ecb", "-K", hex(key)], input: try XCTUnwrap(RxCentreSession.bytes(hex: envelope.encData)), in: directory)
        XCTAssertTrue(plain.allSatisfy { $0 < 0x80 })
        XCTAssertTrue(String(decoding: plain, as: UTF8.self).contains(#""patnName":"\u5f20\u4e09""#))
        XCTAssertEqual(try JSONValue.parse(plain), data)
        // signData: openssl verifies it (as DER) over the documented signing string.
        let signing = "appId=\(Self.appId)&data={\"hospRxno\":\"RX-1\",\"patnName\":\"张三\",\"rxDrugCnt\":\"2\",\"rxdrugdetail\":[{\"drugCnt\":\"1\",\"drugGenname\":\"阿莫西林\"}]}&encType=SM4&signType=SM2&timestamp=\(envelope.timestamp)&key=\(Self.appSecret)"
        XCTAssertEqual(String(decoding: hospitalSide.signingString(fields: envelope.fields, data: data), as: UTF8.self), signing)
        let publicFile = directory.appendingPathComponent("hospital.pem"), signatureFile = directory.appendingPathComponent("sig"), messageFile = directory.appendingPathComponent("msg")
        try Data(hospital.publicKey.pemRepresentation.utf8).write(to: publicFile)
        try Data(SM2.derSignature(fromRaw: Array(Data(base64Encoded: envelope.signData)!))).write(to: signatureFile)
        try Data(signing.utf8).write(to: messageFile)
        let verified = try runTool("/usr/bin/openssl", ["dgst", "-sm3", "-verify", publicFile.path, "-sigopt", "distid:1234567812345678", "-signature", signatureFile.path, messageFile.path])
        XCTAssertEqual(verified.trimmingCharacters(in: .whitespacesAndNewlines), "Verified OK")
    }

    func testEachTamperHasItsOwnError() throws {
        let hospital = try SM2PrivateKey.generate(), centre = try SM2PrivateKey.generate()
        let hospitalSide = try RxCentreSession(appId: Self.appId, appSecret: Self.appSecret, ownKey: hospital, peerKey: centre.publicKey)
        let centreSide = try RxCentreSession(appId: Self.appId, appSecret: Self.appSecret, ownKey: centre, peerKey: hospital.publicKey)
        let envelope = try hospitalSide.seal(.object([("hospRxno", .string("RX-2"))]))

        var signature = Array(Data(base64Encoded: envelope.signData)!)
        signature[10] ^= 1
        var tampered = envelope
        tampered.signData = Data(signature).base64EncodedString()
        XCTAssertThrowsError(try centreSide.open(tampered)) { guard case .badSignature = $0 as? RxCentreError else { return XCTFail("\($0)") } }

        tampered = envelope
        tampered.fields[3].1 = String(Int64(envelope.timestamp)! + 1)  // a signed field changed
        XCTAssertThrowsError(try centreSide.open(tampered)) { guard case .badSignature = $0 as? RxCentreError else { return XCTFail("\($0)") } }

        let wrongSecret = try RxCentreSession(appId: Self.appId, appSecret: "ANOTHERSECRET", ownKey: centre, peerKey: hospital.publicKey)
        XCTAssertThrowsError(try wrongSecret.open(envelope)) { guard case .decryptionFailed = $0 as? RxCentreError else { return XCTFail("\($0)") } }

        let stale = try hospitalSide.seal(.object([("hospRxno", .string("RX-2"))]), now: Date(timeIntervalSinceNow: -3600))
        XCTAssertThrowsError(try centreSide.open(stale)) { guard case .staleTimestamp = $0 as? RxCentreError else { return XCTFail("\($0)") } }

        XCTAssertThrowsError(try RxCentreSession(appId: "SHORT", appSecret: "x", ownKey: hospital, peerKey: centre.publicKey)) {
            guard case .configuration = $0 as? RxCentreError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try RxCentreEnvelope(bytes: Array("[1]".utf8))) { guard case .malformedEnvelope = $0 as? RxCentreError else { return XCTFail("\($0)") } }
    }

    private func openssl(_ arguments: [String], input: [UInt8], in directory: URL) throws -> [UInt8] {
        let inFile = directory.appendingPathComponent("in-\(UUID().uuidString)"), outFile = directory.appendingPathComponent("out-\(UUID().uuidString)")
        try Data(input).write(to: inFile)
        _ = try runTool("/usr/bin/openssl", arguments + ["-in", inFile.path, "-out", outFile.path])
        return Array(try Data(contentsOf: outFile))
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}
