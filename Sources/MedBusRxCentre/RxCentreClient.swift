import Foundation
import MedBusCore
import MedBusCrypto
import MedBusHTTPClient
import MedBusTLS

/// The interface paths of the e-prescription centre. Provinces wrap them in their own numbering,
/// and some deployments move them under a prefix: all are configuration (DOMAIN.md §2).
public struct RxCentrePaths: Sendable, Equatable {
    public var uploadCheck = "/fixmedins/uploadChk"
    public var upload = "/fixmedins/rxFileUpld"
    public var revoke = "/fixmedins/rxUndo"

    public init() {}
}

/// What a hospital needs to talk to the centre: where it is, the appId and secret it issued, the
/// hospital's SM2 signing key and the centre's SM2 public key (or certificate).
public struct RxCentreConfiguration: Sendable {
    /// Base URL, e.g. `http://rx-centre.example:8093`; the operation paths are appended to its path.
    public var url: String
    public var appId: String
    public var appSecret: String
    public var hospitalKey: SM2PrivateKey
    public var centreKey: SM2PublicKey
    public var paths = RxCentrePaths()
    public var timeout: Duration = .seconds(10)
    public var maxClockSkew: Duration = .seconds(300)
    /// For an `https` url: the centre's CA, our client certificate, the server name (nil there:
    /// the system trust store, no client certificate).
    public var tls: TLSClientConfiguration?

    public init(url: String, appId: String, appSecret: String, hospitalKey: SM2PrivateKey, centreKey: SM2PublicKey) {
        self.url = url
        self.appId = appId
        self.appSecret = appSecret
        self.hospitalKey = hospitalKey
        self.centreKey = centreKey
    }

    /// Reads the keys from PEM files: `hospitalKeyFile` a PKCS#8 SM2 private key, `centreKeyFile`
    /// an SM2 public key or certificate; `appSecretFile` holds the secret (trailing newline ignored).
    public init(url: String, appId: String, appSecretFile: String, hospitalKeyFile: String, centreKeyFile: String) throws(RxCentreError) {
        let hospitalKey: SM2PrivateKey
        do { hospitalKey = try SM2PrivateKey(pemFile: hospitalKeyFile) } catch { throw .configuration("\(error)") }
        try self.init(url: url, appId: appId, appSecretFile: appSecretFile, hospitalKey: hospitalKey, centreKeyFile: centreKeyFile)
    }

    /// As above, with the hospital's key already loaded (the key it signs prescriptions with).
    public init(url: String, appId: String, appSecretFile: String, hospitalKey: SM2PrivateKey, centreKeyFile: String) throws(RxCentreError) {
        guard let secret = try? String(contentsOfFile: appSecretFile, encoding: .utf8) else {
            throw .configuration("cannot read the app secret file \(appSecretFile)")
        }
        guard let centrePEM = try? String(contentsOfFile: centreKeyFile, encoding: .utf8) else {
            throw .configuration("cannot read the centre's key file \(centreKeyFile)")
        }
        do {
            let centreKey = centrePEM.contains("BEGIN CERTIFICATE") ? try SM2PublicKey(certificatePEM: centrePEM) : try SM2PublicKey(pem: centrePEM)
            self.init(url: url, appId: appId, appSecret: secret.trimmingCharacters(in: .whitespacesAndNewlines), hospitalKey: hospitalKey, centreKey: centreKey)
        } catch {
            throw .configuration("\(centreKeyFile): \(error)")
        }
    }
}

/// The hospital side of the insurance e-prescription centre: upload pre-check, upload and revoke,
/// each one signed and encrypted envelope over HTTP POST, the reply verified and decrypted.
///
/// Usage when a prescription is issued: `uploadCheck(input)` → `RxUploadCheckResult` (trace code
/// and `hiRxno`), then `upload(input)` with them (the caller adds the signed prescription file);
/// when the hospital revokes it: `revoke(input)`. Inputs and outputs are the centre's camelCase
/// JSON (DOMAIN.md §2), passed through unchanged.
public final class RxCentreClient: Sendable {
    public let configuration: RxCentreConfiguration
    private let session: RxCentreSession
    private let http: HTTPClient
    private let basePath: String

    public init(configuration: RxCentreConfiguration) throws(RxCentreError) {
        self.configuration = configuration
        let endpoint: HTTPEndpoint
        do { endpoint = try HTTPEndpoint(configuration.url) } catch { throw .configuration("\(error)") }
        session = try RxCentreSession(appId: configuration.appId, appSecret: configuration.appSecret, ownKey: configuration.hospitalKey,
                                      peerKey: configuration.centreKey, maxClockSkew: configuration.maxClockSkew)
        guard configuration.tls == nil || endpoint.usesTLS else { throw .configuration("tls needs an https url") }
        do { http = HTTPClient(endpoint: endpoint, tls: try configuration.tls?.makeContext()) } catch { throw .configuration("\(error)") }
        basePath = endpoint.target.split(separator: "?").first.map { $0.hasSuffix("/") ? String($0.dropLast()) : String($0) } ?? ""
    }

    /// `uploadChk`: validates the prescription at the centre and reserves a single-use trace code.
    public func uploadCheck(_ input: JSONValue) async throws(RxCentreError) -> RxUploadCheckResult {
        let output = try await call(path: configuration.paths.uploadCheck, input)
        let status = output["rxStasCodg"]?.scalarText
        guard let hiRxno = output["hiRxno"]?.stringValue, let traceCode = output["rxTraceCode"]?.stringValue ?? (status != nil ? "" : nil) else {
            throw .malformedEnvelope("uploadChk output lacks rxTraceCode or hiRxno")
        }
        return RxUploadCheckResult(rxTraceCode: traceCode, hiRxno: hiRxno, rxStasCodg: status, output: output)
    }

    /// `rxFileUpld`: uploads the (signed) prescription under the trace code; it becomes valid.
    public func upload(_ input: JSONValue) async throws(RxCentreError) -> RxStatusResult {
        try RxStatusResult(try await call(path: configuration.paths.upload, input))
    }

    /// `rxUndo`: revokes an uploaded prescription.
    public func revoke(_ input: JSONValue) async throws(RxCentreError) -> RxStatusResult {
        try RxStatusResult(try await call(path: configuration.paths.revoke, input))
    }

    /// Any centre operation by path: seals `input`, posts it, opens the reply and returns its
    /// `output` when `infcode` is 0.
    /// - Throws: `.refused` (infcode ≠ 0), `.envelopeRefused` (the centre could not read ours),
    ///   `.untrustedReply` (its reply does not verify or decrypt), `.transport`, `.httpStatus`.
    public func call(path: String, _ input: JSONValue) async throws(RxCentreError) -> JSONValue {
        let envelope = try session.seal(input)
        let request = HTTPClientRequest(method: "POST", target: basePath + path, headers: [("Content-Type", "application/json; charset=utf-8")], body: envelope.json.jsonBytes)
        let response: HTTPClientResponse
        do {
            response = try await http.send(request, timeout: configuration.timeout)
        } catch {
            throw .transport(error)
        }
        guard let reply = try? RxCentreEnvelope(bytes: response.body), reply.code != nil || !reply.encData.isEmpty else {
            throw .httpStatus(response.status)
        }
        if let code = reply.code, code != 0 {
            throw .envelopeRefused(code: code, message: reply.field("message") ?? "")
        }
        let data: JSONValue
        do { data = try session.open(reply) } catch { throw .untrustedReply("\(error)") }
        let infcode = data["infcode"]?.intValue ?? -1
        guard infcode == 0 else {
            throw .refused(infcode: infcode, message: data["err_msg"]?.stringValue ?? data["errMsg"]?.stringValue ?? "")
        }
        return data["output"] ?? .object([])
    }

    public func close() async {
        await http.close()
    }
}

public struct RxUploadCheckResult: Sendable, Equatable {
    /// Single use: the upload that follows must carry it. Empty when the prescription is already uploaded.
    public var rxTraceCode: String
    /// The centre's prescription number, used by upload, revoke and queries.
    public var hiRxno: String
    /// Set when the centre says the prescription is already uploaded (1 valid, 3 revoked): nothing to upload.
    public var rxStasCodg: String?
    public var output: JSONValue
}

public struct RxStatusResult: Sendable, Equatable {
    public var hiRxno: String
    /// 1 valid, 2 expired, 3 revoked (DOMAIN.md §2).
    public var rxStasCodg: String
    public var rxStasName: String
    public var output: JSONValue

    init(_ output: JSONValue) throws(RxCentreError) {
        guard let hiRxno = output["hiRxno"]?.stringValue, let status = output["rxStasCodg"]?.scalarText else {
            throw .malformedEnvelope("output lacks hiRxno or rxStasCodg")
        }
        self.hiRxno = hiRxno
        self.rxStasCodg = status
        self.rxStasName = output["rxStasName"]?.stringValue ?? ""
        self.output = output
    }
}
