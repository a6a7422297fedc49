import Foundation
import MedBusCore
import MedBusCrypto
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
/// requireDiagnosis: false
/// claimLeaseMinutes: 30
/// sweepIntervalSeconds: 5
/// hospitals:
///   - code: H37010200001
///     region: "370100"
///     keyId: H37010200001-2025
///     key: keys/H37010200001.sm2.key.pem
///     certificate: keys/H37010200001.sm2.cert.pem
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
    public var requireDiagnosis: Bool
    /// How long a claim holds without the holder finishing: after it, the sweeper (or the next claim)
    /// returns the prescription to `valid` (event `claim-lapsed`).
    public var claimLease: Duration
    public var sweepInterval: Duration
    public var drugs: DrugCodeTable
    public var signer: PrescriptionSigner
    /// Hospital → region, for `rx.available.<region>`.
    public var regions: [String: String]

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
                                  "claimLeaseMinutes", "sweepIntervalSeconds", "hospitals"]
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
        return RxServiceConfiguration(
            name: fields["name"] as? String ?? "rx-service",
            host: String(listen[..<colon]), port: port,
            inputTopic: fields["inputTopic"] as? String ?? "canonical.prescription",
            defaultValidityDays: try positive("defaultValidityDays", 3),
            requireDiagnosis: fields["requireDiagnosis"] as? Bool ?? false,
            claimLease: .seconds(try positive("claimLeaseMinutes", 30) * 60),
            sweepInterval: .seconds(try positive("sweepIntervalSeconds", 5)),
            drugs: drugs, keys: keys)
    }
}
