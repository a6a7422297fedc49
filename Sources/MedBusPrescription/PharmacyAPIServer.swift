import Foundation
import Hummingbird
import Logging
import MedBusCore
import MedBusHTTPServer
import MedBusTLS
import NIOCore

/// The prescription HTTP API (Hummingbird), for hospitals and pharmacies:
///
/// | route | who | answer |
/// |---|---|---|
/// | `POST /v1/prescriptions` | hospital | 201 the issued prescription (with `qrToken`), 200 if it was issued before |
/// | `GET /v1/prescriptions/{rxId}` | any | the prescription |
/// | `GET /v1/prescriptions?traceCode=…` or `?token=…` | pharmacy | the prescription the patient's slip or QR code names |
/// | `POST /v1/prescriptions/{rxId}/claim` · `release` · `review` · `dispense` | pharmacy | the prescription after the change |
/// | `POST /v1/prescriptions/{rxId}/revoke` | hospital | the prescription, revoked |
///
/// Every prescription answer carries `prescription` (the signed document), `signature` (SM3 digest, SM2
/// signature, key id and the hospital's certificate) and the state (`status`, `holder`, `leaseUntil`, …).
/// Refusals are `application/problem+json` (RFC 9457) with `type` `https://medbus.example/problems/rx/<code>`
/// (see `RxProblem`); a claim refused because another pharmacy holds it is 409 with `holder`. A request
/// with an `Idempotency-Key` header gets the first answer again when retried with the same key (and the
/// same client certificate).
///
/// **Callers.** With `tls` asking for client certificates (mutual TLS, `tlsClientCA` in the manifest), the
/// certificate's common name is the caller: a pharmacy code for claim, release, review and dispense (the
/// body's `pharmacyCode` must be it), a hospital code for issue (`fixmedinsCode`) and revoke (the
/// prescription's hospital). A request acting for anyone else is refused with 403 `forbidden` and changes
/// nothing. Without a client certificate (plain HTTP, or TLS without `tlsClientCA`) the codes in the bodies
/// are taken as given: only for a network where every caller is trusted.
public final class PharmacyAPIServer: Sendable {
    private let listener: HTTPListener<PeerRequestContext>

    static let idempotencyKey = HTTPFields.Element.Name("Idempotency-Key")!

    /// - Throws: `TLSError` when the TLS files do not load.
    public init(service: PrescriptionService, host: String, port: Int, tls: TLSServerConfiguration? = nil, maxBodyBytes: Int = 1 << 20,
                logger: Logger = Logger(label: "medbus.rx.http")) throws {
        let router = Router(context: PeerRequestContext.self)
        router.post("v1/prescriptions") { request, context in
            let body: JSONValue
            do { body = try await Self.body(request, limit: maxBodyBytes) } catch let problem as RxProblem { return Self.problem(problem) }
            if let refusal = Self.refusal(context, actingFor: body["fixmedinsCode"]?.stringValue, as: "hospital") { return Self.problem(refusal) }
            switch await service.issue([body])[0] {
            case .success(let issued): return Self.json(issued.body, status: issued.created ? .created : .ok)
            case .failure(let problem): return Self.problem(problem)
            }
        }
        router.get("v1/prescriptions") { request, _ in
            let query = request.uri.queryParameters
            if let code = query.get("traceCode") { return Self.answer(await service.lookup(.traceCode(code))) }
            if let token = query.get("token") { return Self.answer(await service.lookup(.qrToken(token))) }
            return Self.problem(RxProblem(.missingField, "give traceCode or token", extras: [("field", .string("traceCode"))]))
        }
        router.get("v1/prescriptions/:rxId") { _, context in
            Self.answer(await service.lookup(.id(try context.parameters.require("rxId"))))
        }
        router.post("v1/prescriptions/:rxId/:operation") { request, context in
            let id = try context.parameters.require("rxId")
            guard let operation = RxOperation(rawValue: try context.parameters.require("operation")) else {
                return Self.problem(RxProblem(.notFound, "unknown operation; use one of \(RxOperation.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            let body: JSONValue
            do { body = try await Self.body(request, limit: maxBodyBytes) } catch let problem as RxProblem { return Self.problem(problem) }
            let party: String?
            if operation == .revoke {
                do { party = try await service.ledger.record(.id(id))?.fixmedinsCode } catch let problem as RxProblem { return Self.problem(problem) }
            } else {
                party = body["pharmacyCode"]?.stringValue
            }
            if let refusal = Self.refusal(context, actingFor: party, as: operation == .revoke ? "hospital" : "pharmacy") { return Self.problem(refusal) }
            let caller = context.tlsPeer?.peerCommonName.map { "\($0)/" } ?? ""
            let command = request.headers[Self.idempotencyKey].map { RxCommand.http(idempotencyKey: caller + $0) }
            return Self.answer(await service.perform(operation, body: body, on: .id(id), command: command))
        }
        listener = HTTPListener(router: router, host: host, port: port, tls: try tls?.makeContext(), serverName: "MedBus-Rx", logger: logger)
    }

    /// The refusal of a request whose client certificate names someone other than the `role` it acts for;
    /// nil when it may (or when the connection has no client certificate, see the type's comment).
    private static func refusal(_ context: PeerRequestContext, actingFor party: String?, as role: String) -> RxProblem? {
        guard let caller = context.tlsPeer?.peerCommonName, let party, party != caller else { return nil }
        return RxProblem(.forbidden, "the client certificate names \(caller), not \(role) \(party)", extras: [("caller", .string(caller))])
    }

    /// Serves until `shutdown()` (or until cancelled); `onBound` receives the listening port (useful with port 0).
    /// - Throws: when the address cannot be bound.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await listener.run(onBound: onBound)
    }

    /// Graceful shutdown: the listener closes, requests in flight are answered, `run` returns.
    public func shutdown() { listener.shutdown() }

    private static func body(_ request: Request, limit: Int) async throws -> JSONValue {
        let buffer = try await request.body.collect(upTo: limit)
        do { return try JSONValue.parse(Array(buffer: buffer)) } catch {
            throw RxProblem(.invalidJSON, "\(error)")
        }
    }

    private static func answer(_ answer: PrescriptionService.Answer) -> Response {
        answer.status >= 400 ? json(answer.body, status: HTTPResponse.Status(code: answer.status), contentType: "application/problem+json")
            : json(answer.body, status: HTTPResponse.Status(code: answer.status))
    }

    private static func problem(_ problem: RxProblem) -> Response {
        json(problem.json, status: HTTPResponse.Status(code: problem.kind.httpStatus), contentType: "application/problem+json")
    }

    private static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, contentType: String = "application/json; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.jsonBytes)))
    }
}
