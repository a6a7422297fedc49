import Foundation
import Hummingbird

/// `/v1/tokens`: list, create (the token is in the 201 response, once) and revoke; `tokens` permission, audited.
public struct TokenRoutes: AdminRoutes {
    let tokens: TokenStore

    public init(tokens: TokenStore) { self.tokens = tokens }

    struct CreateRequest: Decodable {
        var name: String
        var role: String
    }

    public func register(on api: AdminAPI) {
        let trail = api.trail
        api.get("tokens", requires: .tokens) { _, _, _ in try AdminAPI.json(["tokens": try tokens.list()]) }
        api.post("tokens", requires: .tokens) { request, context, caller in
            let body = try await request.body.collect(upTo: 64 * 1024)
            guard let create = try? JSONDecoder().decode(CreateRequest.self, from: Data(buffer: body)) else {
                throw Problem.badRequest("expected JSON {\"name\": \"…\", \"role\": \"viewer|operator|auditor|admin\"}")
            }
            guard let role = AdminRole(rawValue: create.role) else { throw Problem.badRequest("unknown role '\(create.role)'") }
            let created: (token: String, info: APITokenInfo)
            do { created = try tokens.create(name: create.name, role: role, createdBy: caller.name) } catch let failure as TokenStore.Failure {
                throw Problem(.conflict, kind: "token-refused", title: "Token not created", detail: "\(failure)")
            }
            try trail.record(caller, action: "token.create", object: "token:\(created.info.id)", detail: "name \(created.info.name), role \(role.rawValue)")
            return try AdminAPI.json(CreatedToken(token: created.token, info: created.info), status: .created)
        }
        api.delete("tokens/{id}", requires: .tokens) { _, context, caller in
            let id = context.parameters.get("id") ?? ""
            let info: APITokenInfo
            do { info = try tokens.revoke(id) } catch TokenStore.Failure.unknownToken { throw Problem.notFound("no live token \(id)") }
            try trail.record(caller, action: "token.revoke", object: "token:\(info.id)", detail: "name \(info.name)")
            return try AdminAPI.json(info)
        }
    }
}

/// The answer to creating a token: the token itself (shown once) and its listing.
public struct CreatedToken: Codable, Sendable {
    public var token: String
    public var info: APITokenInfo

    public init(token: String, info: APITokenInfo) {
        self.token = token
        self.info = info
    }
}
