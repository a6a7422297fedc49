import Foundation
import Hummingbird

/// The request context of the admin API: who is calling, once `TokenAuthentication` has run.
public struct AdminContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller; nil only on the unauthenticated routes (`/healthz`, `/readyz`).
    public var principal: AdminPrincipal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
    }

    /// The caller, if their role has `permission`.
    /// - Throws: `Problem` 401 without a principal, 403 when the role lacks the permission.
    public func require(_ permission: AdminPermission) throws -> AdminPrincipal {
        guard let principal else { throw Problem.unauthorized("missing bearer token") }
        guard principal.role.allows(permission) else { throw Problem.forbidden(principal.role, permission) }
        return principal
    }
}

/// Turns `Authorization: Bearer <token>` into the context's principal, or answers 401.
/// The token is never logged: only the principal's token id and name are.
struct TokenAuthentication: RouterMiddleware {
    typealias Context = AdminContext
    let tokens: TokenStore

    func handle(_ request: Request, context: AdminContext, next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { throw refused("missing bearer token", request, context) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw refused("expected 'Authorization: Bearer <token>'", request, context) }
        guard let principal = tokens.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw refused("invalid or revoked token", request, context)
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "token"] = "\(principal.tokenID)"
        context.logger.debug("authenticated", metadata: ["role": "\(principal.role.rawValue)", "path": "\(request.uri.path)"])
        return try await next(request, context)
    }

    private func refused(_ reason: String, _ request: Request, _ context: AdminContext) -> Problem {
        context.logger.info("authentication refused", metadata: ["reason": "\(reason)", "path": "\(request.uri.path)"])
        return Problem.unauthorized(reason)
    }
}
