import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// A component's contribution to the admin server: settlements, prescriptions, dispatch tasks…
///
/// ```swift
/// struct SettlementRoutes: AdminRoutes {
///     let store: SettlementStore
///     func register(on api: AdminAPI) {
///         api.get("settlements", requires: .states) { request, context, caller in
///             try AdminAPI.json(try store.recent(limit: 100))
///         }
///     }
/// }
/// // wiring: AdminServer(…, routes: [SettlementRoutes(store: store)])
/// ```
/// Paths are relative to `/v1`. Every route registered through `AdminAPI` is behind bearer-token
/// authentication (401 otherwise) and its permission (403 otherwise, recorded in the audit log);
/// handlers throw `Problem` for their own errors, so every error body is `application/problem+json`.
/// Add each new path to `deploy/openapi.yaml`: `AdminOpenAPITests` checks every documented path
/// against the running server and fails for routes it does not know.
public protocol AdminRoutes: Sendable {
    func register(on api: AdminAPI)
}

/// The authenticated `/v1` group of the admin server, with per-route permissions.
public struct AdminAPI {
    let group: RouterGroup<AdminContext>
    /// The audit log, for handlers that perform or reveal something (`trail.record(caller, …)`).
    public let trail: AuditTrail
    /// Every `METHOD /path` registered, for the OpenAPI check.
    let registered: RegisteredRoutes

    public typealias Handler = @Sendable (Request, AdminContext, AdminPrincipal) async throws -> Response

    public func get(_ path: String, requires permission: AdminPermission, _ handler: @escaping Handler) {
        group.get(RouterPath(path), use: guarded(.get, path, permission, handler))
    }

    public func post(_ path: String, requires permission: AdminPermission, _ handler: @escaping Handler) {
        group.post(RouterPath(path), use: guarded(.post, path, permission, handler))
    }

    public func delete(_ path: String, requires permission: AdminPermission, _ handler: @escaping Handler) {
        group.delete(RouterPath(path), use: guarded(.delete, path, permission, handler))
    }

    private func guarded(_ method: HTTPRequest.Method, _ path: String, _ permission: AdminPermission, _ handler: @escaping Handler) -> @Sendable (Request, AdminContext) async throws -> Response {
        registered.add("\(method.rawValue) /v1/\(path)")
        let trail = trail
        return { request, context in
            guard let caller = context.principal else { throw Problem.unauthorized("missing bearer token") }
            guard caller.role.allows(permission) else {
                _ = try? trail.record(caller, action: "api.request", object: "\(method.rawValue) /v1/\(path)", outcome: .denied,
                                      detail: "needs \(permission.rawValue)")
                throw Problem.forbidden(caller.role, permission)
            }
            return try await handler(request, context, caller)
        }
    }

    /// A JSON response (ISO 8601 dates, sorted keys).
    public static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// A query parameter parsed as an RFC 3339 time.
    /// - Throws: `Problem` 400 naming the parameter when it is not one.
    public static func time(_ request: Request, _ name: String) throws -> Date? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        throw Problem.badRequest("\(name) '\(text)' is not an RFC 3339 time such as 2026-01-31T08:00:00Z")
    }

    /// `limit` between 1 and `maximum` (default `standard`).
    public static func limit(_ request: Request, standard: Int = 100, maximum: Int = 1000) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return standard }
        guard let value = Int(text), (1...maximum).contains(value) else { throw Problem.badRequest("limit must be between 1 and \(maximum)") }
        return value
    }
}

/// The routes an `AdminServer` answers, as `METHOD /path` with `{parameter}` templates.
final class RegisteredRoutes: Sendable {
    private let routes = NIOLockedValueBox<[String]>([])

    func add(_ route: String) { routes.withLockedValue { $0.append(route) } }
    var all: [String] { routes.withLockedValue { $0 } }
}
