import Foundation
import MedBusTLS
import XCTest

/// `makeContext()` refuses bad files at startup, naming the file and OpenSSL's reason.
final class TLSServerConfigurationTests: XCTestCase {
    private var certificates: TestCertificates!

    override func setUpWithError() throws {
        certificates = try TestCertificates.make()
    }

    override func tearDown() {
        certificates.remove()
    }

    func testValidFilesMakeAContext() throws {
        for mode in [TLSServerConfiguration.ClientCertificate.none, .optional, .required] {
            XCTAssertNoThrow(try certificates.serverConfiguration(clientCertificate: mode).makeContext())
        }
    }

    func testMissingFileIsNamed() {
        var configuration = certificates.serverConfiguration(clientCertificate: .none)
        configuration.privateKeyFile = certificates.path("missing.key")
        XCTAssertThrowsError(try configuration.makeContext()) { error in
            guard case TLSError.unreadableFile(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, self.certificates.path("missing.key"))
            XCTAssertTrue("\(error)".contains("No such file or directory"), "\(error)")
        }
    }

    func testGarbageInsteadOfPEMIsReportedWithOpenSSLReason() throws {
        let garbage = certificates.path("garbage.pem")
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: garbage))
        var configuration = certificates.serverConfiguration(clientCertificate: .none)
        configuration.certificateChainFile = garbage
        XCTAssertThrowsError(try configuration.makeContext()) { error in
            guard case TLSError.invalidCertificateChain(let path, let openSSL) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, garbage)
            XCTAssertTrue(openSSL.contains("no start line"), openSSL)
        }
    }

    func testCRLThatIsNotACRLIsNamed() {
        var configuration = certificates.serverConfiguration(clientCertificate: .required)
        configuration.clientCRLFile = certificates.path("ca.pem")
        XCTAssertThrowsError(try configuration.makeContext()) { error in
            guard case TLSError.invalidRevocationList(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, self.certificates.path("ca.pem"))
        }
    }

    func testKeyOfAnotherCertificateIsAMismatch() {
        var configuration = certificates.serverConfiguration(clientCertificate: .none)
        configuration.privateKeyFile = certificates.path("client.key")
        XCTAssertThrowsError(try configuration.makeContext()) { error in
            guard case TLSError.privateKeyMismatch = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("does not match"), "\(error)")
        }
    }

    func testCertificateGivenAsPrivateKeyIsInvalid() {
        var configuration = certificates.serverConfiguration(clientCertificate: .none)
        configuration.privateKeyFile = certificates.path("server.pem")
        XCTAssertThrowsError(try configuration.makeContext()) { error in
            guard case TLSError.invalidPrivateKey = error else { return XCTFail("\(error)") }
        }
    }

    func testRequiringClientCertificatesWithoutCAIsRefused() {
        var configuration = certificates.serverConfiguration(clientCertificate: .required)
        configuration.clientCAFile = nil
        XCTAssertThrowsError(try configuration.makeContext()) { error in
            guard case TLSError.clientCARequired = error else { return XCTFail("\(error)") }
        }
    }

    func testKeyGivenAsClientCAIsRefused() {
        var configuration = certificates.serverConfiguration(clientCertificate: .required)
        configuration.clientCAFile = certificates.path("ca.key")
        XCTAssertThrowsError(try configuration.makeContext()) { error in
            guard case TLSError.invalidClientCA = error else { return XCTFail("\(error)") }
        }
    }
}
