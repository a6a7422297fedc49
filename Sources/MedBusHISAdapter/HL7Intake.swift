import Foundation
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusHL7
import MedBusMLLP

/// The HL7 side of the adapter, independent of the transport: inbound unit in, ACK bytes out.
final class HL7Intake: Sendable {
    static let contentType = "x-application/hl7-v2+er7"

    private let ingest: DurableIngest
    private let acks: HL7AckBuilder
    private let validator = HL7HeaderValidator()
    private let topic: String
    private let source: String
    private let maxMessageBytes: Int
    /// With client certificates required: the identity a connection's certificate and MSH-4 must both carry.
    private let requiredSender: String?
    private let logger: Logger

    init(manifest: AdapterManifest, maxMessageBytes: Int, requiredSender: String? = nil, ingest: DurableIngest, logger: Logger) throws {
        self.ingest = ingest
        self.requiredSender = requiredSender
        let controlIDs = AckControlIDs()
        self.acks = HL7AckBuilder(makeControlID: controlIDs.next, timeZone: TimeZone(identifier: manifest.options["timeZone"] ?? "Asia/Shanghai") ?? .current)
        self.topic = try manifest.rawTopic
        self.source = manifest.source
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
    }

    /// What became of one message, with the acknowledgement to send (nil: send nothing).
    enum Outcome {
        /// Stored and on Kafka (or a retransmission of one that is).
        case safe([UInt8]?)
        /// Refused for good (kept as `rejected`); sending it again changes nothing.
        case refused([UInt8]?)
        /// Stored at most, not yet on Kafka: the sender must send it again.
        case notYetSafe([UInt8]?)

        var acknowledgement: [UInt8]? {
            switch self {
            case .safe(let ack), .refused(let ack), .notYetSafe(let ack): ack
            }
        }
    }

    /// One inbound unit from a connection whose client certificate names `certificateCommonName` → the
    /// acknowledgement bytes to send (nil: send nothing).
    func handle(_ unit: MLLPInbound, certificateCommonName: String? = nil) async -> [UInt8]? {
        switch unit {
        case .message(let bytes):
            return await accept(bytes, certificateCommonName: certificateCommonName).acknowledgement
        case .oversize(let prefix, let size):
            let reason = "message of \(size) bytes exceeds the limit of \(maxMessageBytes) bytes"
            return await reject(prefix, reason: reason, issue: HL7Issue(code: .applicationInternalError, diagnostic: reason))
        case .truncated(let prefix):
            // The sender closed mid-frame; answer anyway in case it still reads.
            let reason = "connection closed inside an MLLP frame after \(prefix.count) bytes"
            return await reject(prefix, reason: reason, issue: HL7Issue(code: .segmentSequenceError, diagnostic: reason))
        }
    }

    /// One message's bytes: parsed, its sender's authority checked, its header validated, then through
    /// `DurableIngest`.
    func accept(_ bytes: [UInt8], certificateCommonName: String? = nil) async -> Outcome {
        let message: HL7Message
        do {
            message = try HL7Message(parsing: bytes)
        } catch {
            return .refused(await reject(bytes, reason: error.description, parseError: error))
        }
        if let issue = unauthorised(message, certificateCommonName: certificateCommonName) {
            return .refused(await reject(bytes, reason: issue.diagnostic ?? "sender not authorised", message: message, issue: issue))
        }
        let issues = validator.validate(message)
        if issues.contains(where: { $0.severity == .error }) {
            return .refused(await reject(bytes, reason: issues.map(\.description).joined(separator: "; "), message: message, issues: issues))
        }

        let msh = message.msh
        let type = [msh.messageType.code, msh.messageType.triggerEvent].compactMap { $0 }.joined(separator: "^")
        let facility = msh.sendingFacility.namespaceID ?? msh.sendingFacility.universalID ?? ""
        let envelope = MessageEnvelope(
            source: source,
            sourceMessageId: msh.controlID.map { "\(facility)|\($0)" },
            messageType: type,
            contentType: "\(Self.contentType); charset=\(message.charset.hl7Name)"
        )
        let patientID = message.segment(PIDSegment.self)?.identifiers.first?.id
        let outcome = await ingest.ingest(DurableIngest.Inbound(envelope: envelope, topic: topic, key: patientID ?? msh.controlID, payload: bytes))
        switch outcome {
        case .accepted(let id, _):
            guard let ack = serialize(acks.acknowledge(message)) else { return .safe(nil) }
            ingest.recordAcknowledgement(Data(ack), for: id)
            return .safe(ack)
        case .duplicate(_, let ack?):
            return .safe(Array(ack))
        case .duplicate:
            return .safe(serialize(acks.acknowledge(message)))
        case .notPublished(_, let reason), .notStored(let reason):
            logger.warning("message not yet safe; negative ACK so the sender retries", metadata: ["reason": "\(reason)"])
            let issue = HL7Issue(code: .applicationInternalError, diagnostic: "message not yet stored durably; retransmit")
            return .notYetSafe(serialize(acks.acknowledge(message, issues: [issue])))
        }
    }

    /// "A hospital may only publish as itself": with client certificates required, the certificate must name
    /// the adapter's sender and so must MSH-4. Otherwise AR (CR in enhanced mode): as for the header checks of
    /// HL7 v2.5 §2.9.2.1 (message type, processing id, version), the receiver does not take this message from
    /// this sender at all, and sending it again cannot change that — senders retry AE/CE, not AR/CR. Table
    /// 0357 has no "not authorised" code, so ERR-3 is 207 and ERR-5 says which condition it is.
    private func unauthorised(_ message: HL7Message, certificateCommonName: String?) -> HL7Issue? {
        guard let requiredSender else { return nil }
        let facility = message.msh.sendingFacility
        let certificate = certificateCommonName ?? "(none)"
        let diagnostic: String
        if certificateCommonName != requiredSender {
            diagnostic = "client certificate \(certificate) does not identify sender \(requiredSender)"
        } else if facility.namespaceID != requiredSender && facility.universalID != requiredSender {
            diagnostic = "MSH-4 does not name sender \(requiredSender), which the client certificate identifies"
        } else {
            return nil
        }
        return HL7Issue(
            code: .applicationInternalError, location: HL7ErrorLocation(segmentID: "MSH", field: 4), diagnostic: diagnostic,
            applicationError: Self.notAuthorised,
            userMessage: "Sender \(certificate) is not authorised to send messages for facility \(facility.namespaceID ?? facility.universalID ?? "(empty)") on this connection",
            rejectsMessage: true)
    }

    /// ERR-5 of a refusal for want of authority.
    static let notAuthorised = HL7ApplicationError(identifier: "SENDER_NOT_AUTHORISED", text: "Sender not authorised for this sending facility")

    /// A whole file that could not be split into messages: kept as rejected, under the source.
    func recordRejectedFile(_ bytes: [UInt8], reason: String) async {
        let envelope = MessageEnvelope(source: source, messageType: "batch", contentType: Self.contentType)
        await ingest.recordRejection(envelope: envelope, payload: bytes, reason: reason)
    }

    /// Keeps the refused input (status `rejected`) and builds the negative ACK.
    private func reject(_ bytes: [UInt8], reason: String, parseError: HL7Error? = nil, message: HL7Message? = nil, issues: [HL7Issue] = [], issue: HL7Issue? = nil) async -> [UInt8]? {
        let parsed = message ?? (try? HL7Message(parsing: bytes))
        let envelope = MessageEnvelope(source: source, messageType: parsed.map { [$0.msh.messageType.code, $0.msh.messageType.triggerEvent].compactMap { $0 }.joined(separator: "^") } ?? "unparseable", contentType: Self.contentType)
        await ingest.recordRejection(envelope: envelope, payload: bytes, reason: reason)
        logger.info("message rejected", metadata: ["message": "\(envelope.id)", "reason": "\(reason)"])
        if let parseError, parsed == nil {
            return serialize(acks.reject(unparseable: bytes, error: parseError))
        }
        let allIssues = issues + (issue.map { [$0] } ?? []) + (parseError.map { [$0.issue] } ?? [])
        if let parsed { return serialize(acks.acknowledge(parsed, issues: allIssues)) }
        return serialize(acks.reject(unparseable: bytes, error: parseError ?? .noMSH))
    }

    private func serialize(_ ack: HL7Message?) -> [UInt8]? {
        guard let ack else { return nil }
        do { return try ack.serialize() } catch {
            logger.error("ACK could not be encoded", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

/// MSH-10 of the ACKs: unique without a random UUID per ACK (which reads /dev/urandom: a measured fifth of
/// the cost of building an ACK). 8 random hex digits chosen at start, then a 12-digit counter: 20 characters,
/// the most MSH-10 allows in v2.3.
private final class AckControlIDs: @unchecked Sendable {
    // @unchecked: `counter` is only touched with `lock` held.
    private let prefix = String(UUID().uuidString.filter { $0 != "-" }.prefix(8))
    private let lock = NSLock()
    private var counter: UInt64 = 0

    func next() -> String {
        let n = lock.withLock {
            counter += 1
            return counter
        }
        let digits = String(n)
        return prefix + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }
}
