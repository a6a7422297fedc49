import Foundation
import MedBusCrypto
import MedBusTestSupport
import XCTest

final class SM2Tests: XCTestCase {
    let message = Array(#"{"hospRxno":"RX-0001","rxDrugCnt":2}"#.utf8)

    func testSignVerifyRoundTripAndEveryFlippedByteFails() throws {
        let key = try SM2PrivateKey.generate()
        let signature = try key.signature(for: message)
        XCTAssertTrue(key.publicKey.isValidSignature(signature, for: message))
        // SM2 signatures are randomised: a second signature differs but verifies too.
        let second = try key.signature(for: message)
        XCTAssertNotEqual(signature, second)
        XCTAssertTrue(key.publicKey.isValidSignature(second, for: message))

        for index in message.indices {
            var altered = message
            altered[index] ^= 0x01
            XCTAssertFalse(key.publicKey.isValidSignature(signature, for: altered), "message byte \(index) flipped")
        }
        for index in signature.indices {
            var altered = signature
            altered[index] ^= 0x01
            XCTAssertFalse(key.publicKey.isValidSignature(altered, for: message), "signature byte \(index) flipped")
        }
        XCTAssertFalse(key.publicKey.isValidSignature(Array(signature.dropLast()), for: message))
        XCTAssertFalse(key.publicKey.isValidSignature([], for: message))
    }

    /// Many threads signing and verifying with one key share its pooled contexts safely.
    func testConcurrentUseOfOneKey() throws {
        let key = try SM2PrivateKey.generate()
        let publicKey = key.publicKey
        let failures = NSLock()
        nonisolated(unsafe) var failed = 0
        DispatchQueue.concurrentPerform(iterations: 400) { index in
            let id = Array((index % 2 == 0 ? "1234567812345678" : "hospital-\(index % 3)").utf8)
            let text = Array("prescription \(index)".utf8)
            let ok = (try? key.signature(for: text, id: id)).map { publicKey.isValidSignature($0, for: text, id: id) && !publicKey.isValidSignature($0, for: text + [1], id: id) } ?? false
            if !ok { failures.withLock { failed += 1 } }
        }
        XCTAssertEqual(failed, 0)
    }

    func testWrongKeyAndWrongIDFail() throws {
        let key = try SM2PrivateKey.generate()
        let other = try SM2PrivateKey.generate()
        let signature = try key.signature(for: message)
        XCTAssertFalse(other.publicKey.isValidSignature(signature, for: message))
        XCTAssertFalse(key.publicKey.isValidSignature(signature, for: message, id: Array("another-id".utf8)))
        let withID = try key.signature(for: message, id: Array("hospital-37".utf8))
        XCTAssertTrue(key.publicKey.isValidSignature(withID, for: message, id: Array("hospital-37".utf8)))
        XCTAssertFalse(key.publicKey.isValidSignature(withID, for: message))
    }

    /// DER ⇄ 64-byte r ‖ s, including halves with leading zero bytes and high bits set.
    func testRawSignatureEncodingRoundTrips() throws {
        let key = try SM2PrivateKey.generate()
        for _ in 0..<20 {
            let der = try key.signature(for: message)
            let raw = try SM2.rawSignature(fromDER: der)
            XCTAssertEqual(raw.count, 64)
            XCTAssertEqual(try SM2.derSignature(fromRaw: raw), der)
        }
        let edge = [UInt8](repeating: 0, count: 31) + [0x01] + [0x80] + [UInt8](repeating: 0xff, count: 31)
        let der = try SM2.derSignature(fromRaw: edge)
        XCTAssertEqual(Array(der.prefix(5)), [0x30, 0x26, 0x02, 0x01, 0x01])
        XCTAssertEqual(try SM2.rawSignature(fromDER: der), edge)
        XCTAssertThrowsError(try SM2.rawSignature(fromDER: [0x30, 0x02, 0x05, 0x00])) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
        XCTAssertThrowsError(try SM2.derSignature(fromRaw: [1, 2, 3])) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
    }

    func testPEMRoundTrips() throws {
        let key = try SM2PrivateKey.generate()
        XCTAssertTrue(key.pemRepresentation.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        XCTAssertTrue(key.publicKey.pemRepresentation.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        let reloaded = try SM2PrivateKey(pem: key.pemRepresentation)
        let publicKey = try SM2PublicKey(pem: key.publicKey.pemRepresentation)
        XCTAssertEqual(publicKey.pemRepresentation, key.publicKey.pemRepresentation)
        XCTAssertTrue(publicKey.isValidSignature(try reloaded.signature(for: message), for: message))
    }

    func testNonSM2AndMalformedKeysAreRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let p256 = directory.appendingPathComponent("p256.pem").path
        _ = try runTool("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p256])
        XCTAssertThrowsError(try SM2PrivateKey(pemFile: p256)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .invalidKey)
            XCTAssertTrue("\(error)".contains("not an SM2 key"), "\(error)")
        }
        XCTAssertThrowsError(try SM2PublicKey(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidKey) }
        XCTAssertThrowsError(try SM2PrivateKey(pemFile: directory.appendingPathComponent("missing.pem").path)) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidKey) }
    }

    /// `openssl dgst -sm3 -verify … -sigopt distid:…` accepts our signatures, for the default id
    /// and another id, and rejects ours under the wrong id.
    func testOpenSSLCLIVerifiesOurSignatures() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = try SM2PrivateKey.generate()
        let publicFile = try write(key.publicKey.pemRepresentation, directory, "pub.pem")
        let messageFile = try write(message, directory, "msg")
        // Each id more than once: every signature must carry its own id.
        for id in ["1234567812345678", "hospital-37", "1234567812345678", "hospital-37", "hospital-37"] {
            let signatureFile = try write(try key.signature(for: message, id: Array(id.utf8)), directory, "sig")
            let output = try runTool("/usr/bin/openssl", ["dgst", "-sm3", "-verify", publicFile, "-sigopt", "distid:\(id)", "-signature", signatureFile, messageFile])
            XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "Verified OK")
        }
        XCTAssertThrowsError(try runTool("/usr/bin/openssl", ["dgst", "-sm3", "-verify", publicFile, "-sigopt", "distid:1234567812345678", "-signature", directory.appendingPathComponent("sig").path, messageFile]))
    }

    /// A key and certificate made by the openssl CLI, and its signatures, work with ours.
    func testWeVerifyOpenSSLCLISignaturesAndCertificates() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("key.pem").path
        let certificateFile = directory.appendingPathComponent("cert.pem").path
        let signatureFile = directory.appendingPathComponent("sig").path
        let messageFile = try write(message, directory, "msg")
        _ = try runTool("/usr/bin/openssl", ["genpkey", "-algorithm", "SM2", "-out", keyFile])
        _ = try runTool("/usr/bin/openssl", ["req", "-new", "-x509", "-key", keyFile, "-sm3", "-sigopt", "distid:1234567812345678", "-subj", "/CN=hospital-37", "-days", "2", "-out", certificateFile])
        _ = try runTool("/usr/bin/openssl", ["dgst", "-sm3", "-sign", keyFile, "-sigopt", "distid:1234567812345678", "-out", signatureFile, messageFile])
        let signature = Array(try Data(contentsOf: URL(fileURLWithPath: signatureFile)))

        let fromCertificate = try SM2PublicKey(certificatePEM: String(contentsOfFile: certificateFile, encoding: .utf8))
        XCTAssertTrue(fromCertificate.isValidSignature(signature, for: message))
        XCTAssertFalse(fromCertificate.isValidSignature(signature, for: message.dropLast()))
        let privateKey = try SM2PrivateKey(pemFile: keyFile)
        XCTAssertTrue(privateKey.publicKey.isValidSignature(signature, for: message))
        XCTAssertEqual(privateKey.publicKey.pemRepresentation, fromCertificate.pemRepresentation)
    }

    private func write(_ text: String, _ directory: URL, _ name: String) throws -> String {
        try write(Array(text.utf8), directory, name)
    }

    private func write(_ bytes: [UInt8], _ directory: URL, _ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}
