import Foundation
import MedBusCrypto
import XCTest

final class PayloadKeyringTests: XCTestCase {
    let plain = Array(#"{"patnName":"张三","certno":"370102199001011234"}"#.utf8)
    let rowID = Array("row-42".utf8)

    func testRoundTripAndEveryTamperFailsForBothAlgorithms() throws {
        for algorithm in SealedPayload.Algorithm.allCases {
            let keyring = try PayloadKeyring(keys: ["k1": PayloadKeyring.generateKey()], current: "k1", algorithm: algorithm)
            let sealed = try keyring.seal(plain, associatedData: rowID)
            XCTAssertEqual(sealed.keyID, "k1")
            XCTAssertEqual(sealed.algorithm, algorithm)
            XCTAssertEqual(sealed.ciphertext.count, plain.count)
            XCTAssertNil(find(Array("张三".utf8), in: sealed.combined))
            XCTAssertEqual(try keyring.open(sealed, associatedData: rowID), plain)
            XCTAssertEqual(try keyring.open(SealedPayload(combined: sealed.combined), associatedData: rowID), plain)
            // Same plaintext twice: fresh nonce, different ciphertext.
            XCTAssertNotEqual(try keyring.seal(plain, associatedData: rowID).ciphertext, sealed.ciphertext)

            var tampered: [(String, SealedPayload)] = []
            for index in [0, plain.count / 2, plain.count - 1] {
                var copy = sealed
                copy.ciphertext[index] ^= 0x80
                tampered.append(("ciphertext[\(index)]", copy))
            }
            var tag = sealed
            tag.tag[0] ^= 1
            tampered.append(("tag", tag))
            var nonce = sealed
            nonce.nonce[nonce.nonce.count - 1] ^= 1
            tampered.append(("nonce", nonce))
            var truncated = sealed
            truncated.ciphertext.removeLast()
            tampered.append(("truncated", truncated))
            for (what, payload) in tampered {
                XCTAssertThrowsError(try keyring.open(payload, associatedData: rowID), "\(algorithm) \(what)") { error in
                    XCTAssertEqual((error as? CryptoError)?.code, .authenticationFailed)
                    XCTAssertTrue("\(error)".contains("'k1'"), "\(error)")
                }
            }
            // A payload moved to another row does not open there.
            XCTAssertThrowsError(try keyring.open(sealed, associatedData: Array("row-43".utf8))) { XCTAssertEqual(($0 as? CryptoError)?.code, .authenticationFailed) }
        }
    }

    func testRotationKeepsOldPayloadsReadable() throws {
        let old = try PayloadKeyring(keys: ["2025": PayloadKeyring.generateKey()], current: "2025")
        let sealedOld = try old.seal(plain, associatedData: rowID)
        let rotated = try old.rotated(to: "2026", key: PayloadKeyring.generateKey())
        XCTAssertEqual(rotated.currentKeyID, "2026")
        let sealedNew = try rotated.seal(plain, associatedData: rowID)
        XCTAssertEqual(sealedNew.keyID, "2026")
        XCTAssertEqual(try rotated.open(sealedOld, associatedData: rowID), plain)
        XCTAssertEqual(try rotated.open(sealedNew, associatedData: rowID), plain)
        // The old keyring does not know the new key: a specific error naming it.
        XCTAssertThrowsError(try old.open(sealedNew, associatedData: rowID)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .unknownKeyID)
            XCTAssertTrue("\(error)".contains("'2026'"), "\(error)")
        }
        // Same id, different key bytes: authentication fails, naming the id.
        let impostor = try PayloadKeyring(keys: ["2025": PayloadKeyring.generateKey()], current: "2025")
        XCTAssertThrowsError(try impostor.open(sealedOld, associatedData: rowID)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .authenticationFailed)
            XCTAssertTrue("\(error)".contains("'2025'"), "\(error)")
        }
    }

    func testKeyFileFormatEnvironmentAndErrors() throws {
        let a = PayloadKeyring.generateKey(), b = PayloadKeyring.generateKey()
        let text = "# comment\n\na:\(Data(a).base64EncodedString())\nb:\(Data(b).base64EncodedString())\n"
        XCTAssertEqual(try PayloadKeyring(keyFileText: text).currentKeyID, "a")
        XCTAssertEqual(try PayloadKeyring(keyFileText: text, current: "b").currentKeyID, "b")
        let fromVariable = try XCTUnwrap(PayloadKeyring.fromEnvironment(["MEDBUS_PAYLOAD_KEYS": text, "MEDBUS_PAYLOAD_KEY_CURRENT": "b", "MEDBUS_PAYLOAD_ALGORITHM": "sm4-ctr-hmac-sm3"]))
        XCTAssertEqual(fromVariable.currentKeyID, "b")
        XCTAssertEqual(fromVariable.algorithm, .sm4ctrHMACSM3)
        XCTAssertEqual(fromVariable.keyIDs, ["a", "b"])
        XCTAssertNil(try PayloadKeyring.fromEnvironment([:]))

        let cases: [(String, String)] = [
            ("a:\(Data(a).base64EncodedString())\na:\(Data(b).base64EncodedString())", "appears twice"),
            ("a \(Data(a).base64EncodedString())", "line 1: expected id:base64key"),
            ("a:not base64!", "not valid base64"),
            ("a:\(Data(a.prefix(16)).base64EncodedString())", "16 bytes"),
            ("bad id:\(Data(a).base64EncodedString())", "must be 1–64 characters"),
            ("# only a comment\n", "holds no key"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try PayloadKeyring(keyFileText: text)) { error in
                XCTAssertEqual((error as? CryptoError)?.code, .keyringConfiguration)
                XCTAssertTrue("\(error)".contains(expected), "\(error) should say \(expected)")
                XCTAssertFalse("\(error)".contains(Data(a).base64EncodedString()), "an error must not quote key material")
            }
        }
        XCTAssertThrowsError(try PayloadKeyring(keyFileText: text, current: "c")) { XCTAssertTrue("\($0)".contains("'c' is not in the keyring")) }
        XCTAssertThrowsError(try PayloadKeyring.fromEnvironment(["MEDBUS_PAYLOAD_KEYS": text, "MEDBUS_PAYLOAD_ALGORITHM": "des"])) { XCTAssertEqual(($0 as? CryptoError)?.code, .keyringConfiguration) }
    }

    func testCreatedKeyFileIsOwnerOnlyAndNeverOverwritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-keyring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("payload.keys").path
        let created = try PayloadKeyring.createKeyFile(at: path, keyID: "first")
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(permissions, 0o600)
        let reread = try PayloadKeyring(keyFile: path, environment: [:])
        XCTAssertEqual(reread.currentKeyID, "first")
        XCTAssertEqual(try reread.open(created.seal(plain, associatedData: rowID), associatedData: rowID), plain)
        XCTAssertThrowsError(try PayloadKeyring.createKeyFile(at: path, keyID: "second")) { XCTAssertEqual(($0 as? CryptoError)?.code, .keyringConfiguration) }
        XCTAssertEqual(try PayloadKeyring(keyFile: path, environment: [:]).keyIDs, ["first"])
        XCTAssertThrowsError(try SealedPayload(combined: [9, 1, 2])) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
        XCTAssertThrowsError(try SealedPayload(combined: [1, 1, 5, 65])) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
    }

    /// Option, then environment, then the default file; created (0600, once) only when asked, and
    /// concurrent creators agree on one key.
    func testResolveOrderAndCreation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-resolve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let defaultFile = directory.appendingPathComponent("payload.keys").path
        guard case .none = try PayloadKeyring.resolve(explicitFile: nil, defaultFile: defaultFile, createIfMissing: false, environment: [:]) else { return XCTFail("nothing configured") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: defaultFile))

        let results = ConcurrentResults()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            results.append(Result { try PayloadKeyring.resolve(explicitFile: nil, defaultFile: defaultFile, createIfMissing: true, environment: [:]) })
        }
        let resolutions = try results.values.map { try $0.get() }
        XCTAssertEqual(resolutions.filter { if case .created = $0 { true } else { false } }.count, 1, "exactly one process creates the file")
        XCTAssertEqual(Set(resolutions.compactMap { $0.keyring?.currentKeyID }).count, 1)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: defaultFile)[.posixPermissions] as? Int, 0o600)

        let explicit = directory.appendingPathComponent("explicit.keys").path
        try "e1:\(Data(PayloadKeyring.generateKey()).base64EncodedString())\n".write(toFile: explicit, atomically: true, encoding: .utf8)
        let environment = ["MEDBUS_PAYLOAD_KEYS": "v1:\(Data(PayloadKeyring.generateKey()).base64EncodedString())"]
        XCTAssertEqual(try PayloadKeyring.resolve(explicitFile: explicit, defaultFile: defaultFile, createIfMissing: true, environment: environment).keyring?.currentKeyID, "e1")
        XCTAssertEqual(try PayloadKeyring.resolve(explicitFile: nil, defaultFile: defaultFile, createIfMissing: true, environment: environment).keyring?.currentKeyID, "v1")
        XCTAssertEqual(try PayloadKeyring.resolve(explicitFile: nil, defaultFile: defaultFile, createIfMissing: true, environment: [:]).keyring?.currentKeyID,
                       resolutions[0].keyring?.currentKeyID)
        XCTAssertThrowsError(try PayloadKeyring.resolve(explicitFile: directory.appendingPathComponent("missing").path, defaultFile: defaultFile, createIfMissing: true, environment: [:])) {
            XCTAssertEqual(($0 as? CryptoError)?.code, .keyringConfiguration)
        }
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}

private final class ConcurrentResults: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Result<PayloadKeyring.Resolution, Error>] = []

    func append(_ result: Result<PayloadKeyring.Resolution, Error>) { lock.withLock { stored.append(result) } }
    var values: [Result<PayloadKeyring.Resolution, Error>] { lock.withLock { stored } }
}
