import Foundation
import Hummingbird
import Logging
import MedBusCore
import MedBusHTTPServer
import MedBusSettlement
import MedBusTLS
import NIOCore

/// The HIS's and operators' HTTP surface of the settlement orchestrator (Hummingbird):
///
/// | route | answer |
/// | --- | --- |
/// | `POST /v1/settlements[?wait=5s]` | body `settlement-request.schema.json`; 202 with the settlement's status (`Location: /v1/settlements/{id}`), or — with `wait` (up to 60 s) — 200 once it is final, else 202 when the wait ran out. A repeat of the same (fixmedins_code, chrg_bchno) answers the same settlement |
/// | `GET /v1/settlements[?state=S&limit=N]` | newest first |
/// | `GET /v1/settlements/{id}` | its status, with the result once final |
/// | `POST /v1/settlements/{id}/cancel` | 2208 (and the commercial reversal) started: 202 with the status; 409 unless completed |
/// | `GET /v1/reconciliation?date=yyyy-MM-dd[&insurer=nhsa][&hospital=H&insutype=T]` | `ReconciliationReport` (3201 per hospital and insurance type) |
///
/// Errors are `application/problem+json` (RFC 9457) with `type` ending in a machine-readable
/// reason (`missing-field`, `bad-field`, `not-json`, `invalid-request`, `unknown-hospital`,
/// `not-found`, `not-cancellable`, `bad-parameter`, `too-large`, `insurer`, `unavailable`) and a
/// `detail` naming the field, never its value. Logs carry settlement ids only.
public final class SettlementAPI: Sendable {
    private let listener: HTTPListener<BasicRequestContext>

    /// Longest `?wait=`.
    public static let maxWait: Duration = .seconds(60)
    static let maxBodyBytes = 4 << 20

    /// - Parameter tls: TLS (and mutual TLS) for the API; `nil` is plain HTTP.
    public init(orchestrator: SettlementOrchestrator, host: String, port: Int, tls: TLSContext? = nil,
                logger: Logger = Logger(label: "medbus.settlement.api")) {
        let routes = SettlementRoutes(orchestrator: orchestrator, logger: logger)
        let router = Router()
        router.post("v1/settlements") { request, _ in await routes.submit(request) }
        router.get("v1/settlements") { request, _ in await routes.list(request) }
        router.get("v1/settlements/{id}") { _, context in await routes.status(context.parameters.get("id") ?? "") }
        router.post("v1/settlements/{id}/cancel") { _, context in await routes.cancel(context.parameters.get("id") ?? "") }
        router.get("v1/reconciliation") { request, _ in await routes.reconcile(request) }
        listener = HTTPListener(router: router, host: host, port: port, tls: tls, logger: logger)
    }

    /// Serves until `shutdown()` (see `HTTPListener`); `onBound` receives the listening port.
    /// - Throws: when the address cannot be bound.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await listener.run(onBound: onBound)
    }

    /// Graceful shutdown: the listener closes, requests in flight are answered, `run` returns.
    public func shutdown() { listener.shutdown() }
}

/// The handlers: each turns the orchestrator's answer or error into a response.
struct SettlementRoutes: Sendable {
    let orchestrator: SettlementOrchestrator
    let logger: Logger

    func submit(_ request: Request) async -> Response {
        let wait: Duration?
        do { wait = try request.uri.queryParameters.get("wait").map(Self.duration) } catch { return Self.problem(error) }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: SettlementAPI.maxBodyBytes) } catch {
            return Self.problem(.contentTooLarge, "too-large", "the body is larger than \(SettlementAPI.maxBodyBytes) bytes")
        }
        do {
            let settlement = try JSONDecoder().decode(SettlementRequest.self, from: Data(buffer: body))
            let id = try await orchestrator.submit(settlement)
            let status = if let wait { try await orchestrator.status(id, waitingUpTo: wait) } else { try await orchestrator.status(id) }
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[.location] = "/v1/settlements/\(id)"
            return Self.json(status.jsonValue, status: status.state.isTerminal ? .ok : .accepted, headers: headers)
        } catch {
            return Self.problem(error)
        }
    }

    func list(_ request: Request) async -> Response {
        do {
            let state = try request.uri.queryParameters.get("state").map { text in
                guard let state = SettlementState(rawValue: text) else {
                    throw APIProblem(.badRequest, "bad-parameter", "state must be one of \(SettlementState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return state
            }
            let limit = try request.uri.queryParameters.get("limit").map { text in
                guard let limit = Int(text), (1...10_000).contains(limit) else { throw APIProblem(.badRequest, "bad-parameter", "limit must be 1…10000") }
                return limit
            } ?? 100
            let statuses = try await orchestrator.list(state: state, limit: limit)
            return Self.json(.object(["settlements": .array(statuses.map(\.jsonValue))]))
        } catch {
            return Self.problem(error)
        }
    }

    func status(_ id: String) async -> Response {
        do { return Self.json(try await orchestrator.status(id).jsonValue) } catch { return Self.problem(error) }
    }

    func cancel(_ id: String) async -> Response {
        do {
            let status = try await orchestrator.cancel(id)
            logger.info("settlement cancel requested", metadata: ["settlement": "\(id)"])
            return Self.json(status.jsonValue, status: status.state == .cancelled ? .ok : .accepted)
        } catch {
            return Self.problem(error)
        }
    }

    func reconcile(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        guard let date = query.get("date") else { return Self.problem(.badRequest, "bad-parameter", "date (yyyy-MM-dd) is required") }
        var extra: [(fixmedinsCode: String, insutype: String)] = []
        if let hospital = query.get("hospital"), let insutype = query.get("insutype") { extra.append((hospital, insutype)) }
        do {
            let report = try await orchestrator.reconcile(date: date, insurer: query.get("insurer") ?? "nhsa", extraGroups: extra)
            return Self.json(report.jsonValue)
        } catch {
            return Self.problem(error)
        }
    }

    // MARK: - Responses

    /// `5s`, `500ms`, or plain seconds; at most `SettlementAPI.maxWait`.
    static func duration(_ text: String) throws -> Duration {
        let (number, unit): (Substring, Duration) = if text.hasSuffix("ms") { (text.dropLast(2), .milliseconds(1)) }
            else if text.hasSuffix("s") { (text.dropLast(), .seconds(1)) } else { (Substring(text), .seconds(1)) }
        guard let value = Int(number), value >= 0, unit * value <= SettlementAPI.maxWait else {
            throw APIProblem(.badRequest, "bad-parameter", "wait must be a duration such as 5s or 500ms, at most 60s")
        }
        return unit * value
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [.contentType: "application/json"]) -> Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.jsonBytes)))
    }

    static func problem(_ status: HTTPResponse.Status, _ reason: String, _ detail: String) -> Response {
        let body = JSONValue.object([
            "type": .string("https://medbus.example/problems/\(reason)"), "title": .string(status.reasonPhrase),
            "status": .int(status.code), "detail": .string(detail),
        ])
        return json(body, status: status, headers: [.contentType: "application/problem+json"])
    }

    static func problem(_ error: any Error) -> Response {
        switch error {
        case let known as APIProblem: return problem(known.status, known.reason, known.detail)
        case SettlementError.notFound(let id): return problem(.notFound, "not-found", "no settlement with id \(id)")
        case let error as SettlementError:
            switch error {
            case .notCancellable: return problem(.conflict, "not-cancellable", error.description)
            case .unknownHospital: return problem(.unprocessableContent, "unknown-hospital", error.description)
            case .invalidRequest(let reason): return problem(.unprocessableContent, "invalid-request", reason)
            case .insurer: return problem(.badGateway, "insurer", error.description)
            case .store, .stopped, .notFound: return problem(.serviceUnavailable, "unavailable", error.description)
            }
        case is DecodingError:
            let (reason, detail) = SettlementOrchestrator.rejectionReason(error)
            return problem(.badRequest, reason, detail)
        default:
            return problem(.internalServerError, "internal", "\(type(of: error))")
        }
    }
}

/// A request error found by the API itself (a bad query parameter).
struct APIProblem: Error {
    var status: HTTPResponse.Status
    var reason: String
    var detail: String
    init(_ status: HTTPResponse.Status, _ reason: String, _ detail: String) {
        self.status = status
        self.reason = reason
        self.detail = detail
    }
}
