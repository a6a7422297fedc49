import Foundation
import Hummingbird
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusTLS

/// FHIR R4 over HTTP, independent of the server: request in, answer out.
///
/// Per request: media type (415), size (413), structure (`FHIRSubmission`, 400), then
/// `DurableIngest`. Stored and on Kafka → 201 (a retransmission → 200 with the first answer);
/// not yet safe → 503 `transient` with `Retry-After`. Every error answer is an OperationOutcome
/// and every refused body is kept in the store as `rejected`.
///
/// Retransmissions are recognised by the sender's message id, first of: the `Idempotency-Key`
/// header (explicit intent), `Bundle.identifier`, the resource's `Type/id` (with
/// `meta.versionId`, so a new version is a new message), the `X-Request-ID` header (last: many
/// clients send a fresh one per attempt). A body with none of them is a new message every time.
final class FHIRIntake: Sendable {
    static let mediaTypes: Set<String> = ["application/fhir+json", "application/json"]
    static let contentType = "application/fhir+json; fhirVersion=4.0"

    private let settings: HTTPIntakeSettings

    init(_ settings: HTTPIntakeSettings) {
        self.settings = settings
    }

    /// - Parameter pathType: `{resourceType}` from the path; nil for `POST /fhir` (Bundle only).
    func handle(_ request: Request, pathType: String?, peer: TLSHandshakeCompleted?) async -> Response {
        let body: [UInt8]
        do { body = try await settings.reader.read(request, accepting: Self.mediaTypes) } catch let refusal as HTTPBodyReader.Refusal {
            let (status, code): (HTTPResponse.Status, OperationOutcome.IssueType) = switch refusal {
            case .unsupportedMediaType: (.unsupportedMediaType, .notSupported)
            case .tooLarge: (.contentTooLarge, .tooLong)
            }
            let diagnostics = refusal == .tooLarge ? "body larger than \(settings.reader.maxBodyBytes) bytes" : "Content-Type must be application/fhir+json or application/json (UTF-8)"
            return await reject([], type: "fhir.unread", reason: refusal.reason, outcome: OperationOutcome(.error, code, diagnostics), status: status)
        } catch {
            // The connection failed mid-body; there is nobody to answer reliably.
            settings.logger.info("request body not read", metadata: ["error": "\(error)"])
            return OperationOutcome(.error, .exception, "request body could not be read").response(.badRequest)
        }

        if let refusal = settings.refusal(of: peer) {
            return await reject(body, type: "fhir.forbidden", reason: refusal, outcome: OperationOutcome(.error, .forbidden, refusal), status: .forbidden)
        }

        let submission: FHIRSubmission
        do { submission = try FHIRSubmission(json: body, pathType: pathType) } catch {
            return await reject(body, type: "fhir.invalid", reason: error.diagnostics, outcome: OperationOutcome(.error, error.code, error.diagnostics, expression: error.expression), status: .badRequest)
        }

        let envelope = MessageEnvelope(
            source: settings.source, sourceMessageId: sourceMessageId(submission, request.headers),
            messageType: ["fhir", submission.resourceType, submission.bundleType].compactMap { $0 }.joined(separator: "."),
            contentType: Self.contentType, traceParent: request.headers[.traceParent]
        )
        let outcome = await settings.ingest.ingest(DurableIngest.Inbound(envelope: envelope, topic: settings.topic, key: submission.patientKey ?? envelope.sourceMessageId, payload: body))
        switch outcome {
        case .accepted(let id, _):
            let answer = OperationOutcome(.information, .informational, "accepted as MedBus message \(id)").json
            settings.ingest.recordAcknowledgement(Data(answer), for: id)
            return OperationOutcome.response(.created, body: answer, headers: created(submission, messageId: id))
        case .duplicate(let id, let ack):
            let answer = ack.map(Array.init) ?? OperationOutcome(.information, .informational, "accepted as MedBus message \(id)").json
            return OperationOutcome.response(.ok, body: answer, headers: created(submission, messageId: id))
        case .notPublished(_, let reason), .notStored(let reason):
            settings.logger.warning("FHIR message not yet safe; 503 so the sender retries", metadata: ["reason": "\(reason)"])
            return OperationOutcome(.error, .transient, "message not yet stored durably; retry later")
                .response(.serviceUnavailable, headers: [.retryAfter: "\(settings.retryAfterSeconds)"])
        }
    }

    /// The sender's id for the message, scoped by kind so that a header key can never collide
    /// with a resource id (the store scopes it by `source`, i.e. by hospital).
    private func sourceMessageId(_ submission: FHIRSubmission, _ headers: HTTPFields) -> String? {
        if let key = headers[.idempotencyKey], !key.isEmpty { return "idempotency-key|\(key)" }
        if let identifier = submission.bundleIdentifier { return "Bundle.identifier|\(identifier)" }
        if let id = submission.logicalId {
            return "\(submission.resourceType)/\(id)" + (submission.versionId.map { "/_history/\($0)" } ?? "")
        }
        if let requestID = headers[.requestID], !requestID.isEmpty { return "x-request-id|\(requestID)" }
        return nil
    }

    /// `Location` of the accepted content (the sender's id when it gave one, else MedBus's) and
    /// the MedBus message id.
    private func created(_ submission: FHIRSubmission, messageId: String) -> HTTPFields {
        let id = submission.logicalId.flatMap { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) } ?? messageId
        return [.location: "/fhir/\(submission.resourceType)/\(id)", .medBusMessageID: messageId]
    }

    private func reject(_ body: [UInt8], type: String, reason: String, outcome: OperationOutcome, status: HTTPResponse.Status) async -> Response {
        let envelope = MessageEnvelope(source: settings.source, messageType: type, contentType: Self.contentType)
        await settings.ingest.recordRejection(envelope: envelope, payload: body, reason: reason)
        settings.logger.info("FHIR request rejected", metadata: ["message": "\(envelope.id)", "status": "\(status.code)", "reason": "\(reason)"])
        return outcome.response(status, headers: [.medBusMessageID: envelope.id])
    }
}
