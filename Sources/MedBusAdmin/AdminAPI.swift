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

    /// A query parameter that must be one of `T`'s values (nil when absent).
    /// - Throws: `Problem` 400 listing the values.
    public static func choice<T: RawRepresentable & CaseIterable>(_ request: Request, _ name: String, _ type: T.Type) throws -> T?
    where T.RawValue == String {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw Problem.badRequest("\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// `offset`: rows to skip for the next page (default 0).
    public static func offset(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("offset") else { return 0 }
        guard let value = Int(text), value >= 0 else { throw Problem.badRequest("offset must be a whole number ≥ 0") }
        return value
    }

    /// The body of a paged list: `{"<name>": [...], "offset": o, "next": o + limit}` (`next` only
    /// when the page is full, so more rows may follow).
    public static func page<T: Encodable>(_ name: String, _ rows: [T], offset: Int, limit: Int) throws -> Response {
        try json(Page(name: name, rows: rows, offset: offset, next: rows.count == limit ? offset + limit : nil))
    }
}

private struct Page<T: Encodable>: Encodable {
    let name: String
    let rows: [T]
    let offset: Int
    let next: Int?

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(rows, forKey: Key(stringValue: name))
        try container.encode(offset, forKey: Key(stringValue: "offset"))
        try container.encodeIfPresent(next, forKey: Key(stringValue: "next"))
    }
}

/// The routes an `AdminServer` answers, as `METHOD /path` with `{parameter}` templates.
final class RegisteredRoutes: Sendable {
    private let routes = NIOLockedValueBox<[String]>([])

    func add(_ route: String) { routes.withLockedValue { $0.append(route) } }
    var all: [String] { routes.withLockedValue { $0 } }
}
