import Foundation
import MedBusCore
import MedBusTLS

/// The NHSA insurer adapter's manifest (`Adapters/insurers/insurer-nhsa.yaml`, kind
/// `insurer-nhsa`). Its own small type: the HIS adapters' `AdapterManifest` describes a listener
/// (`listen`, `sender`), while this adapter listens on nothing and calls out to a URL.
///
/// ```yaml
/// kind: insurer-nhsa
/// name: insurer-nhsa
/// insurer: nhsa                  # topics insurer.nhsa.requests / insurer.nhsa.replies
/// url: http://127.0.0.1:8091/fsi/api/rsfComIfsService/callService
/// fixmedins_code: H37010200001   # for 9001 sign-in (requests carry their own)
/// opter: "0321"
/// tls:                           # for an https url (optional there: default the system trust store)
///   caFile: /etc/medbus/tls/nhsa-ca.pem
///   certificateFile: /etc/medbus/tls/H37010200001.pem   # when the platform requires mutual TLS
///   privateKeyFile: /etc/medbus/tls/H37010200001.key
/// ```
public struct NHSAAdapterManifest: Sendable, Equatable {
    public var name: String
    public var insurer: String
    public var url: String
    public var fixmedinsCode: String
    public var fixmedinsName: String
    public var mdtrtareaAdmvs: String
    public var opter: String
    public var opterName: String
    public var opterType: String
    public var mac: String
    public var ip: String
    /// Consumer group; default `medbus-insurer-<insurer>`.
    public var group: String
    public var timeoutSeconds: Int
    /// Attempts to connect when the platform refuses connections (nothing sent, so safe to retry).
    public var connectAttempts: Int
    /// Text in `err_msg` that means "sign_no expired: sign in again" **[UNCONFIRMED]**: the real
    /// platform's wording is not public.
    public var signInExpiredMarker: String
    public var gateway: GatewaySigner?
    /// For an `https` url: the platform's CA, our client certificate, the server name.
    public var tls: TLSClientConfiguration?
    public var file: String

    /// `insurer.<insurer>.requests` (the insurer id is checked when the manifest loads).
    public var requestsTopic: String { (try? TopicName.insurerRequests(insurer)) ?? "insurer.\(insurer).requests" }
    public var repliesTopic: String { (try? TopicName.insurerReplies(insurer)) ?? "insurer.\(insurer).replies" }

    public init(name: String = "insurer-nhsa", insurer: String = "nhsa", url: String, fixmedinsCode: String, fixmedinsName: String = "", mdtrtareaAdmvs: String = "",
                opter: String = "medbus", opterName: String = "MedBus", opterType: String = "1", mac: String = "", ip: String = "127.0.0.1",
                group: String? = nil, timeoutSeconds: Int = 10, connectAttempts: Int = 3, signInExpiredMarker: String = "sign_no",
                gateway: GatewaySigner? = nil, file: String = "<inline>") {
        self.name = name
        self.insurer = insurer
        self.url = url
        self.fixmedinsCode = fixmedinsCode
        self.fixmedinsName = fixmedinsName
        self.mdtrtareaAdmvs = mdtrtareaAdmvs
        self.opter = opter
        self.opterName = opterName
        self.opterType = opterType
        self.mac = mac
        self.ip = ip
        self.group = group ?? "medbus-insurer-\(insurer)"
        self.timeoutSeconds = timeoutSeconds
        self.connectAttempts = connectAttempts
        self.signInExpiredMarker = signInExpiredMarker
        self.gateway = gateway
        self.file = file
    }

    /// - Throws: `InsurerConfigError` at `file:line:column`; a gateway secret named by `secretEnv`
    ///   that is not set in the environment is an error too (secrets never live in the file).
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NHSAAdapterManifest {
        let root = try YAMLFields.load(path: path)
        try root.checkKeys(["kind", "name", "insurer", "url", "fixmedins_code", "fixmedins_name", "mdtrtarea_admvs", "opter", "opter_name", "opter_type", "mac", "ip", "group", "options", "gateway", "tls"])
        let kind = try root.required("kind").string()
        guard kind == "insurer-nhsa" else { throw root.child("kind")!.failure("kind must be insurer-nhsa") }
        let insurer = try root.child("insurer")?.string() ?? "nhsa"
        guard (try? TopicName.insurerRequests(insurer)) != nil else { throw root.child("insurer")!.failure("not usable in a topic name") }
        let options = root.child("options")
        try options?.checkKeys(["timeoutSeconds", "connectAttempts", "signInExpiredMarker"])
        var gateway: GatewaySigner?
        if let field = root.child("gateway") {
            try field.checkKeys(["paasid", "secretEnv", "signature"])
            let variable = try field.required("secretEnv").string()
            guard let secret = environment[variable], !secret.isEmpty else { throw field.failure("environment variable \(variable) (gateway secret) is not set") }
            let schemeText = try field.child("signature")?.string() ?? GatewaySigner.Scheme.sha256TimestampSecretNonce.rawValue
            guard let scheme = GatewaySigner.Scheme(rawValue: schemeText) else { throw field.failure("signature must be one of \(GatewaySigner.Scheme.allCases.map(\.rawValue))") }
            gateway = GatewaySigner(paasid: try field.required("paasid").string(), secret: secret, scheme: scheme)
        }
        func text(_ key: String, _ fallback: String) -> String { root.child(key).map { $0.scalarText ?? "" } ?? fallback }
        var manifest = NHSAAdapterManifest(
            name: try root.required("name").string(), insurer: insurer, url: try root.required("url").string(),
            fixmedinsCode: try root.required("fixmedins_code").string(), fixmedinsName: text("fixmedins_name", ""),
            mdtrtareaAdmvs: text("mdtrtarea_admvs", ""), opter: text("opter", "medbus"), opterName: text("opter_name", "MedBus"),
            opterType: text("opter_type", "1"), mac: text("mac", ""), ip: text("ip", "127.0.0.1"),
            group: try root.child("group")?.string(), timeoutSeconds: try options?.child("timeoutSeconds")?.int() ?? 10,
            connectAttempts: try options?.child("connectAttempts")?.int() ?? 3,
            signInExpiredMarker: try options?.child("signInExpiredMarker")?.string() ?? "sign_no", gateway: gateway, file: path
        )
        guard manifest.timeoutSeconds > 0, manifest.connectAttempts > 0 else { throw (options ?? root).failure("timeoutSeconds and connectAttempts must be positive") }
        if let field = root.child("tls") {
            do {
                let options = try field.entries().map { ($0.key, try $0.value.string()) }
                manifest.tls = try TLSClientConfiguration(manifest: Dictionary(options) { first, _ in first })
            } catch { throw field.failure("\(error)") }
        }
        do { _ = try PlatformHTTPClient(url: manifest.url, tls: manifest.tls, timeout: .seconds(1)) } catch { throw root.child("url")!.failure("\(error)") }
        return manifest
    }
}
