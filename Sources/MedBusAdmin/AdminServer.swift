import CoreMetrics
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The admin HTTP server of a MedBus process (Hummingbird).
///
/// Unauthenticated: `GET /healthz` (the process answers), `GET /readyz` (every `Readiness` check
/// passes, else 503). Everything else needs `Authorization: Bearer <token>`: `GET /metrics`
/// (`metrics` permission) and the `/v1` routes each `AdminRoutes` registers. Errors are
/// `application/problem+json`. Binds `127.0.0.1:8080` by default: expose it beyond the host only
/// behind TLS termination (tokens are bearer secrets).
public final class AdminServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int

        public init(host: String = "127.0.0.1", port: Int = 8080) {
            self.host = host
            self.port = port
        }
    }

    let configuration: Configuration
    let responder: RouterResponder<AdminContext>
    let logger: Logger
    let registered: RegisteredRoutes

    /// `METHOD /path` of every route this server answers (path parameters as `{name}`).
    public var routes: [String] { registered.all }

    public init(configuration: Configuration = .init(), tokens: TokenStore, trail: AuditTrail, readiness: Readiness, routes: [any AdminRoutes],
                logger: Logger = Logger(label: "medbus.admin")) {
        AdminMetrics.bootstrap()
        let router = Router(context: AdminContext.self)
        router.add(middleware: RequestMetrics())
        router.get("healthz") { _, _ in try AdminAPI.json(["status": "up"]) }
        router.get("readyz") { _, _ in
            let checks = await readiness.evaluate()
            if checks.values.allSatisfy({ $0 == "ok" }) { return try AdminAPI.json(ReadyBody(status: "ready", checks: checks)) }
            throw Problem(.serviceUnavailable, kind: "not-ready", title: "Not ready",
                          detail: checks.sorted { $0.key < $1.key }.filter { $0.value != "ok" }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))
        }
        let authenticated = router.group().add(middleware: TokenAuthentication(tokens: tokens))
        authenticated.get("metrics") { _, context in
            _ = try context.require(.metrics)
            var headers = HTTPFields()
            headers[.contentType] = AdminMetrics.contentType
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: AdminMetrics.exposition())))
        }
        let registered = RegisteredRoutes()
        for route in ["GET /healthz", "GET /readyz", "GET /metrics"] { registered.add(route) }
        let api = AdminAPI(group: authenticated.group("v1"), trail: trail, registered: registered)
        for contribution in routes + [TokenRoutes(tokens: tokens)] { contribution.register(on: api) }
        self.configuration = configuration
        self.registered = registered
        self.responder = router.buildResponder()
        self.logger = logger
    }

    /// Serves until the task is cancelled (then shuts down gracefully). `onBound` gets the port (useful with port 0).
    /// - Throws: when the address cannot be bound.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "MedBus-admin"),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
        // Cancellation becomes a graceful shutdown (requests in flight are answered), so the
        // group itself runs unstructured: cancelling it directly would abort those requests.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}

struct ReadyBody: Codable {
    var status: String
    var checks: [String: String]
}

/// `medbus_admin_requests_total{route,method,status}`: the route is the matched path template
/// (never the concrete path, which may hold ids), `unmatched` for 404s.
struct RequestMetrics: RouterMiddleware {
    typealias Context = AdminContext

    func handle(_ request: Request, context: AdminContext, next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            count(request, context, response.status)
            return response
        } catch let error as HTTPResponseError {
            count(request, context, error.status)
            throw error
        } catch {
            count(request, context, .internalServerError)
            throw error
        }
    }

    private func count(_ request: Request, _ context: AdminContext, _ status: HTTPResponse.Status) {
        let route = context.endpointPath.map { $0.hasPrefix("/") ? $0 : "/" + $0 } ?? "unmatched"
        Counter(label: "medbus_admin_requests_total", dimensions: [("route", route), ("method", request.method.rawValue), ("status", String(status.code))]).increment()
    }
}
