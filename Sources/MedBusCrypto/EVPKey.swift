import COpenSSL
import Foundation

/// Owns one `EVP_PKEY`. OpenSSL 3 keys are safe to share between threads for signing and
/// verifying (each operation gets its own context), hence `@unchecked Sendable`.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// Refuses keys of another algorithm: an RSA or NIST P-256 key must not silently produce
    /// "SM2" signatures. OpenSSL 3 decodes keys on the SM2 curve as type SM2.
    func requireSM2(_ what: String) throws(CryptoError) {
        guard EVP_PKEY_is_a(pointer, "SM2") == 1 else {
            throw CryptoError(.invalidKey, "\(what) is not an SM2 key (it is \(typeName))")
        }
    }

    var typeName: String {
        guard let name = EVP_PKEY_get0_type_name(pointer) else { return "an unknown type" }
        return String(cString: name)
    }
}

/// PEM in and out of OpenSSL through memory BIOs.
enum PEM {
    static func withReadBIO<T>(_ text: String, _ body: (OpaquePointer) -> T?) -> T? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw -> T? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return body(bio)
        }
    }

    static func write(_ body: (OpaquePointer) -> Int32) throws(CryptoError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .openSSL("BIO_new") }
        defer { BIO_free(bio) }
        guard body(bio) == 1 else { throw .openSSL("PEM encoding") }
        var output = [UInt8](repeating: 0, count: medbus_BIO_pending(bio))
        let read = BIO_read(bio, &output, Int32(output.count))
        return String(decoding: output.prefix(Int(max(read, 0))), as: UTF8.self)
    }

    static func readFile(_ path: String, code: CryptoError.Code = .invalidKey) throws(CryptoError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CryptoError(code, "cannot read \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
