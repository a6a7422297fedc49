import MedBusCrypto
import MedBusTestSupport
import XCTest

final class SM3SM4Tests: XCTestCase {
    /// GB/T 32905-2016 Appendix A, examples 1 and 2.
    func testSM3PublishedVectors() {
        XCTAssertEqual(hex(SM3.digest("abc".utf8)), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        XCTAssertEqual(hex(SM3.digest(String(repeating: "abcd", count: 16).utf8)), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
        XCTAssertEqual(SM3.digest([UInt8]()).count, 32)
    }

    /// HMAC-SM3 agrees with `openssl mac`, an independent computation.
    func testHMACSM3MatchesOpenSSLCLI() throws {
        let key = Array("medbus-hmac-key".utf8)
        let message = Array("the quick brown fox".utf8)
        let output = try runTool("/usr/bin/openssl", ["mac", "-digest", "SM3", "-macopt", "hexkey:\(hex(key))", "-in", "/dev/stdin", "HMAC"], input: Data(message))
        XCTAssertEqual(hex(SM3.hmac(key: key, message)), output.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
    }

    /// GB/T 32907-2016 Appendix A, example 1: one block, key = plaintext.
    func testSM4StandardVector() throws {
        let key = bytes("0123456789abcdeffedcba9876543210")
        XCTAssertEqual(hex(try SM4.encryptBlock(key, key: key)), "681edf34d206965e86b3e94f536e4246")
        // ECB with PKCS#7 adds a full padding block after the same first block.
        let ecb = try SM4.encryptECB(key, key: key)
        XCTAssertEqual(ecb.count, 32)
        XCTAssertEqual(hex(Array(ecb.prefix(16))), "681edf34d206965e86b3e94f536e4246")
        XCTAssertEqual(try SM4.decryptECB(ecb, key: key), key)
    }

    /// Our CBC and ECB output equals `openssl enc`'s (PKCS#7 padding both ways) and decrypts its output.
    func testSM4ModesMatchOpenSSLCLI() throws {
        let key = bytes("00112233445566778899aabbccddeeff")
        let iv = bytes("0f0e0d0c0b0a09080706050403020100")
        let plain = Array("处方 rx 37 bytes of business JSON {}".utf8)
        let cbc = try SM4.encryptCBC(plain, key: key, iv: iv)
        let cliCBC = try runToolBytes(["enc", "-sm4-cbc", "-K", hex(key), "-iv", hex(iv)], input: plain)
        XCTAssertEqual(cbc, cliCBC)
        XCTAssertEqual(try SM4.decryptCBC(cliCBC, key: key, iv: iv), plain)
        let ecb = try SM4.encryptECB(plain, key: key)
        XCTAssertEqual(ecb, try runToolBytes(["enc", "-sm4-ecb", "-K", hex(key)], input: plain))
        XCTAssertEqual(try SM4.decryptECB(ecb, key: key), plain)
    }

    func testSM4RejectsBadSizesAndWrongKey() throws {
        let key = bytes("00112233445566778899aabbccddeeff")
        XCTAssertThrowsError(try SM4.encryptECB([1, 2, 3], key: Array(key.prefix(15)))) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
        XCTAssertThrowsError(try SM4.encryptCBC([1, 2, 3], key: key, iv: [0])) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
        XCTAssertThrowsError(try SM4.decryptECB([1, 2, 3], key: key)) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
        let sealed = try SM4.encryptECB(Array("some business json".utf8), key: key)
        let otherKey = bytes("ffeeddccbbaa99887766554433221100")
        XCTAssertThrowsError(try SM4.decryptECB(sealed, key: otherKey)) { XCTAssertEqual(($0 as? CryptoError)?.code, .invalidInput) }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func bytes(_ hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return result
}

/// Runs the openssl CLI with binary standard input and output.
func runToolBytes(_ arguments: [String], input: [UInt8]) throws -> [UInt8] {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let inFile = directory.appendingPathComponent("in").path
    let outFile = directory.appendingPathComponent("out").path
    try Data(input).write(to: URL(fileURLWithPath: inFile))
    _ = try runTool("/usr/bin/openssl", arguments + ["-in", inFile, "-out", outFile])
    return Array(try Data(contentsOf: URL(fileURLWithPath: outFile)))
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-crypto-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
