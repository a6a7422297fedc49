import Foundation
import MedBusCore

/// The adapter's current `sign_no`: signs in with 9001 the first time one is needed and again
/// after the platform says it expired. Concurrent callers share one sign-in.
actor PlatformSignIn {
    private let manifest: NHSAAdapterManifest
    private let client: PlatformHTTPClient
    private let headers: @Sendable () -> [(String, String)]
    private var current: String?
    private var inFlight: Task<String, Error>?
    private var sequence = 0
    /// Sign-ins done, for tests and logs.
    private(set) var count = 0

    init(manifest: NHSAAdapterManifest, client: PlatformHTTPClient, headers: @escaping @Sendable () -> [(String, String)]) {
        self.manifest = manifest
        self.client = client
        self.headers = headers
    }

    /// The sign_no to use; signs in when there is none.
    /// - Throws: `PlatformHTTPClient.Failure` or `PlatformEnvelopeError` when 9001 fails.
    func signNo() async throws -> String {
        if let current { return current }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await self.signIn() }
        inFlight = task
        defer { inFlight = nil }
        let signNo = try await task.value
        current = signNo
        count += 1
        return signNo
    }

    /// Forgets `stale` (if still current), so the next `signNo()` signs in again.
    func expire(_ stale: String) {
        if current == stale { current = nil }
    }

    private func signIn() async throws -> String {
        let envelope = nextEnvelope()
        let answer = try await client.post(envelope.jsonBytes, headers: headers())
        let response = try JSONValue.parse(answer.body)
        guard PlatformResponse.infcode(of: response) == 0,
              let signNo = (response["output"]?["signinoutb"]?["sign_no"] ?? response["output"]?["sign_no"])?.stringValue else {
            throw PlatformEnvelopeError("9001 sign-in refused (infcode \(PlatformResponse.infcode(of: response).map(String.init) ?? "?"))")
        }
        return signNo
    }

    /// A 9001 envelope: msgid = fixmedins_code + yyyyMMddHHmmss + 4-digit sequence from 9000–9999,
    /// the range the orchestrator leaves free, so a sign-in never reuses a settlement step's msgid.
    private func nextEnvelope() -> JSONValue {
        sequence = (sequence + 1) % 1_000
        let now = Date()
        return .object([
            ("infno", .string("9001")),
            ("msgid", .string("\(manifest.fixmedinsCode)\(PlatformTime.msgidStamp(now))\(String(format: "%04d", 9_000 + sequence))")),
            ("mdtrtarea_admvs", .string(manifest.mdtrtareaAdmvs)), ("insuplc_admdvs", .string("")),
            ("recer_sys_code", .string("MEDBUS")), ("dev_no", .string("")), ("dev_safe_info", .string("")),
            ("cainfo", .string("")), ("signtype", .string("")), ("infver", .string("V1.0")),
            ("opter_type", .string(manifest.opterType)), ("opter", .string(manifest.opter)), ("opter_name", .string(manifest.opterName)),
            ("inf_time", .string(PlatformTime.readable(now))), ("fixmedins_code", .string(manifest.fixmedinsCode)),
            ("fixmedins_name", .string(manifest.fixmedinsName)), ("sign_no", .string("")),
            ("input", .object([("signIn", .object([("opter_no", .string(manifest.opter)), ("mac", .string(manifest.mac)), ("ip", .string(manifest.ip))]))])),
        ])
    }
}
