import Foundation
import GRDB
import MedBusCore
import MedBusSQLite

/// An API token as listed: never the secret, never its hash.
public struct APITokenInfo: Sendable, Hashable, Codable {
    /// `tok_` and 16 hex digits; the public half of the token, safe to log and show.
    public var id: String
    public var name: String
    public var role: AdminRole
    public var createdAt: Date
    public var createdBy: String
    public var revokedAt: Date?
}

/// API tokens of the admin API, in `<data-dir>/admin.sqlite` (`AdminDatabase`).
///
/// A token is `mbt_<id>_<secret>`: 8 random bytes of id and 32 random bytes of secret (hex), from
/// the system's CSPRNG. Only `SHA-256(salt ‖ secret)` with a per-token random salt is stored, so the
/// file does not let anyone call the API; the token is shown once, by `create`. Checking compares
/// digests in constant time. Revoking keeps the row (the audit log refers to its id).
public final class TokenStore: Sendable {
    private let pool: DatabasePool

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case blankName
        case nameTaken(String)
        case unknownToken(String)
        case database(String)

        public var description: String {
            switch self {
            case .blankName: "a token needs a name (who or what uses it)"
            case .nameTaken(let name): "a token named '\(name)' exists already (revoke it first)"
            case .unknownToken(let id): "no token \(id)"
            case .database(let detail): "token store: \(detail)"
            }
        }
    }

    public init(database: AdminDatabase) {
        pool = database.pool
    }

    /// Creates a token; the returned string is the only time the secret exists outside the caller.
    public func create(name: String, role: AdminRole, createdBy: String) throws -> (token: String, info: APITokenInfo) {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw Failure.blankName }
        let id = "tok_" + Self.hex(Self.randomBytes(8))
        let secret = Self.hex(Self.randomBytes(32))
        let salt = Self.randomBytes(16)
        let info = APITokenInfo(id: id, name: name, role: role, createdAt: Date().roundedToStoredPrecision, createdBy: createdBy, revokedAt: nil)
        do {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO api_tokens (id, name, role, salt, digest, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [id, name, role.rawValue, Data(salt), Data(Self.digest(salt: salt, secret: secret)), info.createdAt.storedMicroseconds, createdBy])
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw Failure.nameTaken(name)
        } catch {
            throw Failure.database("\(error)")
        }
        return ("mbt_\(id.dropFirst(4))_\(secret)", info)
    }

    /// The principal a presented token stands for, or nil when it is malformed, unknown, revoked or wrong.
    public func authenticate(_ token: String) -> AdminPrincipal? {
        let parts = token.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "mbt", parts[1].count == 16, parts[2].count == 64 else { return nil }
        let id = "tok_\(parts[1])"
        guard let row = try? pool.read({ db in
            try Row.fetchOne(db, sql: "SELECT name, role, salt, digest FROM api_tokens WHERE id = ? AND revoked_at IS NULL", arguments: [id])
        }) else { return nil }
        let salt: Data = row["salt"], stored: Data = row["digest"]
        let presented = Self.digest(salt: [UInt8](salt), secret: String(parts[2]))
        guard Self.constantTimeEqual(presented, [UInt8](stored)), let role = AdminRole(rawValue: row["role"]) else { return nil }
        return AdminPrincipal(tokenID: id, name: row["name"], role: role)
    }

    /// Every token, revoked ones included, oldest first.
    public func list() throws -> [APITokenInfo] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT id, name, role, created_at, created_by, revoked_at FROM api_tokens ORDER BY created_at, id").map { row in
                    APITokenInfo(id: row["id"], name: row["name"], role: AdminRole(rawValue: row["role"]) ?? .viewer,
                                 createdAt: Date(storedMicroseconds: row["created_at"]), createdBy: row["created_by"],
                                 revokedAt: (row["revoked_at"] as Int64?).map(Date.init(storedMicroseconds:)))
                }
            }
        } catch {
            throw Failure.database("\(error)")
        }
    }

    /// Revokes a live token by id or name; it stops working at once.
    @discardableResult
    public func revoke(_ idOrName: String) throws -> APITokenInfo {
        let now = Date().roundedToStoredPrecision
        let id: String?
        do {
            id = try pool.write { db in
                guard let id = try String.fetchOne(db, sql: "SELECT id FROM api_tokens WHERE (id = ? OR name = ?) AND revoked_at IS NULL", arguments: [idOrName, idOrName]) else { return nil }
                try db.execute(sql: "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", arguments: [now.storedMicroseconds, id])
                return id
            }
        } catch {
            throw Failure.database("\(error)")
        }
        guard let id, let info = try list().first(where: { $0.id == id }) else { throw Failure.unknownToken(idOrName) }
        return info
    }

    static func digest(salt: [UInt8], secret: String) -> [UInt8] { SHA256.digest(salt + Array(secret.utf8)) }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// `SystemRandomNumberGenerator` reads the kernel CSPRNG (getrandom on Linux).
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
