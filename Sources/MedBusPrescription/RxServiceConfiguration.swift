import Foundation
import MedBusCore
import MedBusCrypto
import MedBusRxCentre
import MedBusTLS
import Yams

/// The topics of prescription circulation. Every record is keyed by prescription id (`rxId`), except
/// command results, keyed by command id.
public enum RxTopics {
    /// The signed prescription as issued (envelope with `prescription` and `signature`).
    public static let issued = TopicName.rxIssued
    /// Every status transition (`issued`, `claimed`, …, `dispensed`, `expired`, `revoked`).
    public static let events = TopicName.rxEvents
    /// Pharmacies' commands (claim, review, dispense, release, revoke, lookup) and their results.
    public static let commands = "rx.commands"
    public static let commandResults = "rx.command-results"
    /// Prescriptions from the HIS that could not be issued, with `medbus-error-reason` = the problem code.
    public static let deadLetters = "dlq.rx"
    /// The signed prescription for the pharmacies of one region (administrative division code).
    public static func available(region: String) -> String { "rx.available.\(region)" }
}

/// The prescription service as an operator describes it (`Adapters/pharmacy/rx-service.yaml`):
///
/// ```yaml
/// kind: rx-service
/// name: rx-service
/// listen: 127.0.0.1:8095          # the pharmacy and hospital HTTP API
/// drugTable: ../../Mappings/codes/rx-circulation-drugs.csv
/// inputTopic: canonical.prescription
/// defaultValidityDays: 3
/// requireDiagnosis: false             # true is implied (and false refused) with a centre: block
/// claimLeaseMinutes: 30
/// sweepIntervalSeconds: 5
/// hospitals:
///   - code: H37010200001
///     region: "370100"
///     keyId: H37010200001-2025
///     key: keys/H37010200001.sm2.key.pem
///     certificate: keys/H37010200001.sm2.cert.pem
/// tlsCertificate: tls/server.pem      # optional: HTTPS; with tlsClientCA, mutual TLS (see PharmacyAPIServer)
/// tlsKey: tls/server.key
/// tlsClientCA: tls/pharmacies-ca.pem
/// tlsClientCertificate: required      # required (the default with a CA), optional or none
/// tlsClientCRL: tls/pharmacies-ca.crl.pem   # optional: revoked client certificates
/// centre:                             # optional: the insurance e-prescription centre (PrescriptionCentreForwarder)
///   url: http://rx-centre.example:8093
///   centreKey: keys/rx-centre.sm2.pub.pem   # the centre's SM2 public key or certificate
///   timeoutSeconds: 10
///   maxRetrySeconds: 60               # the longest wait between retries of a transient failure
///   hospitals:
///     - code: H37010200001
///       appId: 1G0A5B7C9D2E4F6H   # the appId the centre issued (≥ 16 characters)
///       appSecretFile: keys/H37010200001.rx-centre.secret   # its secret; the SM4 key derives from both
///       key: keys/H37010200001.sm2.key.pem   # optional: our SM2 key for the centre (default: the signing key)
/// ```
///
/// Relative file names are relative to the manifest's folder.
public struct RxServiceConfiguration: Sendable {
    public var name: String
    public var host: String
    public var port: Int
    /// Canonical prescriptions from the routing core (the RDE^O11 mapping's target).
    public var inputTopic: String
    public var defaultValidityDays: Int
    /// Refuse prescriptions without a diagnosis. The prescriptions of a hospital in `centre` need one (and each
    /// drug line its generic name) whatever this says: the centre refuses an upload without (`draftPolicy`).
    public var requireDiagnosis: Bool
    /// How long a claim holds without the holder finishing: after it, the sweeper (or the next claim)
    /// returns the prescription to `valid` (event `claim-lapsed`).
    public var claimLease: Duration
    public var sweepInterval: Duration
    public var drugs: DrugCodeTable
    public var signer: PrescriptionSigner
    /// Hospital → region, for `rx.available.<region>`.
    public var regions: [String: String]
    /// HTTPS, and with client certificates the caller identity the pharmacy API checks.
    public var tls: TLSServerConfiguration?
    /// The insurance e-prescription centre, when issued and revoked prescriptions are forwarded to it.
    public var centre: RxCentreLink?

    public init(name: String = "rx-service", host: String = "127.0.0.1", port: Int, inputTopic: String = "canonical.prescription",
                defaultValidityDays: Int = 3, requireDiagnosis: Bool = false, claimLease: Duration = .seconds(1800),
                sweepInterval: Duration = .seconds(5), drugs: DrugCodeTable, keys: [HospitalSigningKey]) {
        self.name = name
        self.host = host
        self.port = port
        self.inputTopic = inputTopic
        self.defaultValidityDays = defaultValidityDays
        self.requireDiagnosis = requireDiagnosis
        self.claimLease = claimLease
        self.sweepInterval = sweepInterval
        self.drugs = drugs
        self.signer = PrescriptionSigner(keys: keys)
        self.regions = Dictionary(keys.map { ($0.hospital, $0.region) }, uniquingKeysWith: { _, last in last })
    }

    /// What a hospital's prescriptions are checked for: the manifest's choices, and what the insurance
    /// prescription centre refuses an upload without when this hospital's prescriptions go to it — a
    /// prescription issued without it would be in the pharmacies' hands and then fail at the centre.
    func draftPolicy(hospital: String?) -> PrescriptionDraft.Policy {
        PrescriptionDraft.Policy(drugs: drugs, defaultValidityDays: defaultValidityDays, requireDiagnosis: requireDiagnosis,
                                 forCentre: hospital.map { centre?.hospitals[$0] != nil } ?? false)
    }

    /// The topics the service writes, for provisioning.
    public var topics: [String] {
        [RxTopics.issued, RxTopics.events, RxTopics.commands, RxTopics.commandResults, RxTopics.deadLetters]
            + Set(regions.values).sorted().map(RxTopics.available(region:))
    }

    /// - Throws: `RxConfigurationError` naming the file and the field (a missing key file, a key that is not SM2…).
    public static func load(path: String) throws -> RxServiceConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else { throw RxConfigurationError(file: path, message: "cannot read file") }
        let root: Any?
        do { root = try Yams.load(yaml: String(decoding: data, as: UTF8.self)) } catch {
            throw RxConfigurationError(file: path, message: "not valid YAML: \(error)")
        }
        guard let fields = root as? [String: Any] else { throw RxConfigurationError(file: path, message: "expected a mapping") }
        let known: Set<String> = ["kind", "name", "listen", "drugTable", "inputTopic", "defaultValidityDays", "requireDiagnosis",
                                  "claimLeaseMinutes", "sweepIntervalSeconds", "hospitals", "tlsCertificate", "tlsKey", "tlsClientCA",
                                  "tlsClientCertificate", "tlsClientCRL", "centre"]
        if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
            throw RxConfigurationError(file: path, message: "unknown field \(unknown)")
        }
        guard fields["kind"] as? String == "rx-service" else { throw RxConfigurationError(file: path, message: "kind must be rx-service") }
        let folder = (path as NSString).deletingLastPathComponent
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : (folder as NSString).appendingPathComponent(file) }
        func positive(_ key: String, _ fallback: Int) throws -> Int {
            guard let value = fields[key] else { return fallback }
            guard let number = value as? Int, number > 0 else { throw RxConfigurationError(file: path, message: "\(key) must be a positive integer") }
            return number
        }

        guard let listen = fields["listen"] as? String, let colon = listen.lastIndex(of: ":"),
              let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
            throw RxConfigurationError(file: path, message: "listen must be HOST:PORT")
        }
        guard let drugFile = fields["drugTable"] as? String else { throw RxConfigurationError(file: path, message: "drugTable is required") }
        let drugs = try DrugCodeTable.load(path: resolve(drugFile))
        guard let hospitals = fields["hospitals"] as? [[String: Any]], !hospitals.isEmpty else {
            throw RxConfigurationError(file: path, message: "hospitals must list at least one hospital")
        }
        var keys: [HospitalSigningKey] = []
        for (index, entry) in hospitals.enumerated() {
            func field(_ name: String) throws -> String {
                guard let value = entry[name].map({ "\($0)" }), !value.isEmpty else {
                    throw RxConfigurationError(file: path, message: "hospitals[\(index)].\(name) is required")
                }
                return value
            }
            let code = try field("code")
            let keyFile = resolve(try field("key"))
            let privateKey: SM2PrivateKey
            do { privateKey = try SM2PrivateKey(pemFile: keyFile) } catch {
                throw RxConfigurationError(file: path, message: "hospitals[\(index)].key \(keyFile): \(error)")
            }
            var certificate: String?
            if let certificateFile = entry["certificate"] as? String {
                let resolved = resolve(certificateFile)
                guard let text = FileManager.default.contents(atPath: resolved).map({ String(decoding: $0, as: UTF8.self) }) else {
                    throw RxConfigurationError(file: path, message: "hospitals[\(index)].certificate \(resolved): cannot read file")
                }
                // The certificate must carry this key: a pharmacy verifying with it would otherwise reject everything.
                do {
                    let probe = Array("medbus-rx-key-check".utf8)
                    guard try SM2PublicKey(certificatePEM: text).isValidSignature(privateKey.signature(for: probe), for: probe) else {
                        throw RxConfigurationError(file: path, message: "hospitals[\(index)].certificate does not match its key")
                    }
                } catch let error as RxConfigurationError { throw error } catch {
                    throw RxConfigurationError(file: path, message: "hospitals[\(index)].certificate \(resolved): \(error)")
                }
                certificate = text
            }
            keys.append(HospitalSigningKey(hospital: code, region: try field("region"), keyID: (entry["keyId"] as? String) ?? code,
                                           privateKey: privateKey, certificatePEM: certificate))
        }
        var configuration = RxServiceConfiguration(
            name: fields["name"] as? String ?? "rx-service",
            host: String(listen[..<colon]), port: port,
            inputTopic: fields["inputTopic"] as? String ?? "canonical.prescription",
            defaultValidityDays: try positive("defaultValidityDays", 3),
            requireDiagnosis: fields["requireDiagnosis"] as? Bool ?? false,
            claimLease: .seconds(try positive("claimLeaseMinutes", 30) * 60),
            sweepInterval: .seconds(try positive("sweepIntervalSeconds", 5)),
            drugs: drugs, keys: keys)
        configuration.tls = try tlsConfiguration(fields, file: path, resolve: resolve)
        if let block = fields["centre"] {
            if fields["requireDiagnosis"] as? Bool == false {
                throw RxConfigurationError(file: path, message: """
                    requireDiagnosis: false contradicts centre: the insurance prescription centre refuses a prescription without a diagnosis \
                    (diseinfo), so one issued without would fail there after reaching the pharmacies; remove requireDiagnosis (a centre \
                    implies true) or set it to true
                    """)
            }
            configuration.centre = try centreLink(block, keys: keys, file: path, resolve: resolve)
            configuration.requireDiagnosis = true
        }
        return configuration
    }

    /// `tlsCertificate`, `tlsKey`, `tlsClientCA`, `tlsClientCertificate`, `tlsClientCRL`: the TLS options of every MedBus listener
    /// (as adapter manifests name them), checked by loading the files.
    private static func tlsConfiguration(_ fields: [String: Any], file: String, resolve: (String) -> String) throws -> TLSServerConfiguration? {
        guard let certificate = fields["tlsCertificate"] as? String else { return nil }
        guard let key = fields["tlsKey"] as? String else { throw RxConfigurationError(file: file, message: "tlsKey is required with tlsCertificate") }
        let clientCA = (fields["tlsClientCA"] as? String).map(resolve)
        let mode: TLSServerConfiguration.ClientCertificate
        switch fields["tlsClientCertificate"] as? String ?? (clientCA == nil ? "none" : "required") {
        case "required": mode = .required
        case "optional": mode = .optional
        case "none": mode = .none
        default: throw RxConfigurationError(file: file, message: "tlsClientCertificate must be required, optional or none")
        }
        let tls = TLSServerConfiguration(certificateChainFile: resolve(certificate), privateKeyFile: resolve(key), clientCAFile: clientCA, clientCertificate: mode,
                                         clientCRLFile: (fields["tlsClientCRL"] as? String).map(resolve))
        do { _ = try tls.makeContext() } catch { throw RxConfigurationError(file: file, message: "\(error)") }
        return tls
    }

    /// The `centre:` block (see the type's comment): every hospital's envelope keys are loaded and checked here.
    private static func centreLink(_ block: Any, keys: [HospitalSigningKey], file: String, resolve: (String) -> String) throws -> RxCentreLink {
        guard let centre = block as? [String: Any] else { throw RxConfigurationError(file: file, message: "centre must be a mapping") }
        if let unknown = centre.keys.filter({ !["url", "centreKey", "timeoutSeconds", "maxRetrySeconds", "hospitals", "tls"].contains($0) }).sorted().first {
            throw RxConfigurationError(file: file, message: "unknown field centre.\(unknown)")
        }
        func seconds(_ name: String, _ fallback: Int) throws -> Duration {
            guard let value = centre[name] else { return .seconds(fallback) }
            guard let number = value as? Int, number > 0 else { throw RxConfigurationError(file: file, message: "centre.\(name) must be a positive integer") }
            return .seconds(number)
        }
        guard let url = centre["url"] as? String else { throw RxConfigurationError(file: file, message: "centre.url is required") }
        guard let hospitals = centre["hospitals"] as? [[String: Any]], !hospitals.isEmpty else {
            throw RxConfigurationError(file: file, message: "centre.hospitals must list at least one hospital")
        }
        let timeout = try seconds("timeoutSeconds", 10)
        // For an https url: the centre's CA, our client certificate (mutual TLS), the server name.
        var tls: TLSClientConfiguration?
        if let block = centre["tls"] {
            guard let options = block as? [String: Any] else { throw RxConfigurationError(file: file, message: "centre.tls must be a mapping") }
            do {
                var configuration = try TLSClientConfiguration(manifest: options.mapValues { "\($0)" })
                configuration.caFile = configuration.caFile.map(resolve)
                configuration.certificateFile = configuration.certificateFile.map(resolve)
                configuration.privateKeyFile = configuration.privateKeyFile.map(resolve)
                tls = configuration
            } catch { throw RxConfigurationError(file: file, message: "centre.tls: \(error)") }
        }
        var configurations: [String: RxCentreConfiguration] = [:]
        for (index, entry) in hospitals.enumerated() {
            let at = "centre.hospitals[\(index)]"
            guard let code = entry["code"].map({ "\($0)" }), let signing = keys.first(where: { $0.hospital == code }) else {
                throw RxConfigurationError(file: file, message: "\(at).code must name a hospital of hospitals")
            }
            guard let appId = entry["appId"].map({ "\($0)" }), let secretFile = entry["appSecretFile"] as? String,
                  let centreKey = (entry["centreKey"] ?? centre["centreKey"]) as? String else {
                throw RxConfigurationError(file: file, message: "\(at) needs appId, appSecretFile and centreKey (here or in centre)")
            }
            do {
                var configuration = if let keyFile = entry["key"] as? String {
                    try RxCentreConfiguration(url: url, appId: appId, appSecretFile: resolve(secretFile), hospitalKeyFile: resolve(keyFile),
                                              centreKeyFile: resolve(centreKey))
                } else {
                    try RxCentreConfiguration(url: url, appId: appId, appSecretFile: resolve(secretFile), hospitalKey: signing.privateKey,
                                              centreKeyFile: resolve(centreKey))
                }
                configuration.timeout = timeout
                configuration.tls = tls
                // Derives the SM4 key: an appId or secret that cannot work fails here, not at the first upload.
                _ = try RxCentreClient(configuration: configuration)
                configurations[code] = configuration
            } catch {
                throw RxConfigurationError(file: file, message: "\(at): \(error)")
            }
        }
        var link = RxCentreLink(hospitals: configurations)
        link.maxRetryDelay = try seconds("maxRetrySeconds", 60)
        return link
    }
}
