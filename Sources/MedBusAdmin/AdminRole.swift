/// What a caller of the admin API may do. Roles are fixed sets of permissions, so the role ×
/// endpoint matrix in the README (and `deploy/openapi.yaml`) is the whole truth.
public enum AdminRole: String, Sendable, CaseIterable, Codable {
    /// Metrics and states (message metadata with identifiers masked, mappings, dead letters), no patient data.
    case viewer
    /// A viewer who also replays dead letters and sees payloads and identifiers.
    case `operator`
    /// A viewer who also reads the audit log.
    case auditor
    /// Everything, including API tokens.
    case admin

    public var permissions: Set<AdminPermission> {
        switch self {
        case .viewer: [.metrics, .states]
        case .operator: [.metrics, .states, .patientData, .operate]
        case .auditor: [.metrics, .states, .audit]
        case .admin: Set(AdminPermission.allCases)
        }
    }

    public func allows(_ permission: AdminPermission) -> Bool { permissions.contains(permission) }
}

/// One thing an endpoint needs; each admin route requires exactly one.
public enum AdminPermission: String, Sendable, CaseIterable {
    /// `/metrics`.
    case metrics
    /// Read-only state: messages (metadata), mappings, dead letters, settlements, prescriptions, dispatch tasks.
    case states
    /// Payloads and unmasked patient identifiers (every access is audited).
    case patientData = "patient-data"
    /// Changing things: replaying dead letters.
    case operate
    /// The audit log.
    case audit
    /// Creating, listing and revoking API tokens.
    case tokens
}

/// Who is calling: the token's name and role. Never holds the token itself.
public struct AdminPrincipal: Sendable, Hashable {
    /// The token's id (`tok_…`), safe to log.
    public var tokenID: String
    /// The name given at `medbus token create --name`; the audit log's actor.
    public var name: String
    public var role: AdminRole

    public init(tokenID: String, name: String, role: AdminRole) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
    }
}
