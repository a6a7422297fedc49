import Foundation
import MedBusHL7
import Testing

@Suite struct AckTests {
    /// 2025-01-15 10:30:00 in Beijing.
    static let builder = HL7AckBuilder(
        makeControlID: { "ACK20250115103000001" }, now: { Date(timeIntervalSince1970: 1_736_908_200) },
        timeZone: TimeZone(identifier: "Asia/Shanghai")!)
    static let pid3 = HL7ErrorLocation(segmentID: "PID", field: 3, fieldRepetition: 1, component: 1)

    /// adt_a04 has MSH-15 and MSH-16 empty: original acknowledgment mode.
    @Test func originalModeAccept() throws {
        let received = try Samples.message("adt_a04.hl7")
        let ack = try #require(Self.builder.acknowledge(received))
        #expect(try ack.serialize() == wire(
            #"MSH|^~\&|MEDBUS|H37010200001|HIS|H37010200001|20250115103000+0800||ACK^A04^ACK|ACK20250115103000001|P|2.3.1||||||UNICODE UTF-8"#,
            "MSA|AA|MSG20250116083000012"))
        #expect(ack.segment(MSASegment.self)?.acknowledgmentCode == "AA")
    }

    @Test func originalModeErrorAndReject() throws {
        let received = try Samples.message("adt_a01_custom_delimiters.hl7")  // v2.5, MSH-15 AL, so use a copy without 15/16
        var original = received
        try original.set(.absent, at: try path("MSH-15"))
        try original.set(.absent, at: try path("MSH-16"))

        let error = try #require(Self.builder.acknowledge(original, issues: [HL7Issue(code: .requiredFieldMissing, location: Self.pid3)]))
        #expect(error.delimiters == received.delimiters)
        #expect(error[try path("MSA-1")] == "AE")
        #expect(error[try path("MSA-2")] == "MSG20250119080000002")
        #expect(error.segment(withID: "ERR")?.encoded == "ERR##PID@1@3@1@1#101@Required field missing@HL70357#E")
        let err = try #require(error.segment(ERRSegment.self))
        #expect(err.location == Self.pid3)
        #expect(err.errorCode.identifier == "101")
        #expect(err.severity == .error)

        let reject = try #require(Self.builder.acknowledge(original, issues: [
            HL7Issue(code: .unsupportedEventCode, location: HL7ErrorLocation(segmentID: "MSH", field: 9, component: 2)),
            HL7Issue(code: .tableValueNotFound, severity: .warning, location: HL7ErrorLocation(segmentID: "PV1", field: 2)),
        ]))
        #expect(reject[try path("MSA-1")] == "AR")
        let errs = reject.segments(ERRSegment.self)
        #expect(errs.map { $0.errorCode.identifier } == ["201", "103"])
        #expect(errs.map(\.severity) == [.error, .warning])
        #expect(reject[try path("ERR[2]-2")] == "PV1")
        #expect(reject[try path("ERR[2]-3.2")] == "Table value not found")
    }

    /// A condition table 0357 has no code for (a sender not authorised for its MSH-4): 207 in ERR-3, the
    /// receiver's own code in ERR-5, text for the sender's operators in ERR-8, and a reject, not an error.
    @Test func applicationErrorCodeUserMessageAndForcedReject() throws {
        let issue = HL7Issue(
            code: .applicationInternalError, location: HL7ErrorLocation(segmentID: "MSH", field: 4), diagnostic: "certificate mismatch",
            applicationError: HL7ApplicationError(identifier: "SENDER_NOT_AUTHORISED", text: "Sender not authorised"),
            userMessage: "Sender X may not send for facility Y", rejectsMessage: true)
        var original = try Samples.message("adt_a01.hl7")
        try original.set(.absent, at: try path("MSH-15"))
        try original.set(.absent, at: try path("MSH-16"))
        let ack = try #require(Self.builder.acknowledge(original, issues: [issue]))
        #expect(ack[try path("MSA-1")] == "AR")
        #expect(ack[try path("ERR-3.1")] == "207")
        #expect(ack[try path("ERR-5.1")] == "SENDER_NOT_AUTHORISED")
        #expect(ack[try path("ERR-5.2")] == "Sender not authorised")
        #expect(ack[try path("ERR-5.3")] == "99MEDBUS")
        #expect(ack[try path("ERR-7")] == "certificate mismatch")
        #expect(ack[try path("ERR-8")] == "Sender X may not send for facility Y")
        // Enhanced mode: a commit reject. The same code without the flag stays an error.
        let enhanced = try Samples.message("adt_a01.hl7")
        #expect(Self.builder.acknowledge(enhanced, issues: [issue])?[try path("MSA-1")] == "CR")
        var plain = issue
        plain.rejectsMessage = false
        #expect(Self.builder.acknowledge(enhanced, issues: [plain])?[try path("MSA-1")] == "CE")
        #expect(HL7Issue(code: .unsupportedMessageType).rejectsMessage && !HL7Issue(code: .applicationInternalError).rejectsMessage)
    }

    /// adt_a01 has MSH-15 AL and MSH-16 NE: enhanced mode.
    @Test func enhancedModeCommitAcks() throws {
        let received = try Samples.message("adt_a01.hl7")
        #expect(Self.builder.acknowledge(received)?[try path("MSA-1")] == "CA")
        #expect(Self.builder.acknowledge(received, issues: [HL7Issue(code: .applicationInternalError)])?[try path("MSA-1")] == "CE")
        #expect(Self.builder.acknowledge(received, issues: [HL7Issue(code: .unsupportedVersionID)])?[try path("MSA-1")] == "CR")
        // A warning does not fail the message.
        let warned = try #require(Self.builder.acknowledge(received, issues: [HL7Issue(code: .tableValueNotFound, severity: .warning)]))
        #expect(warned[try path("MSA-1")] == "CA")
        #expect(warned[try path("ERR-4")] == "W")
        // MSH-16 NE: no application ACK wanted.
        #expect(Self.builder.acknowledge(received, level: .application) == nil)
    }

    @Test func enhancedModeHonoursWhatTheSenderAskedFor() throws {
        var message = try Samples.message("oml_o21.hl7")  // MSH-15 AL, MSH-16 AL
        #expect(Self.builder.acknowledge(message, level: .application)?[try path("MSA-1")] == "AA")
        try message.set("ER", at: try path("MSH-15"))
        try message.set("SU", at: try path("MSH-16"))
        #expect(Self.builder.acknowledge(message) == nil)
        #expect(Self.builder.acknowledge(message, issues: [HL7Issue(code: .dataTypeError)])?[try path("MSA-1")] == "CE")
        #expect(Self.builder.acknowledge(message, level: .application)?[try path("MSA-1")] == "AA")
        #expect(Self.builder.acknowledge(message, issues: [HL7Issue(code: .dataTypeError)], level: .application) == nil)
    }

    @Test func ackHeaderMirrorsTheSender() throws {
        let received = try Samples.message("oml_o21.hl7")
        let ack = try #require(Self.builder.acknowledge(received))
        let msh = ack.msh
        #expect(msh.sendingApplication.namespaceID == "LIS")
        #expect(msh.receivingApplication.namespaceID == "HIS")
        #expect(msh.messageType == received.msh.messageType.with(code: "ACK", structure: "ACK"))
        #expect(msh.controlID == "ACK20250115103000001")
        #expect(msh.versionID == "2.7.1")
        #expect(msh.processingID == "P")
        #expect(msh.dateTime?.description == "20250115103000+0800")
        #expect(ack.delimiters.truncation == UInt8(ascii: "#"))
        #expect(msh.characterSets == ["UNICODE UTF-8"])
    }

    @Test func gb18030MessagesAreAcknowledgedInGB18030() throws {
        let received = try Samples.message("adt_a01_gb18030.hl7")
        let ack = try #require(Self.builder.acknowledge(received, issues: [HL7Issue(code: .requiredFieldMissing, location: Self.pid3)]))
        #expect(ack.charset == .gb18030)
        let bytes = try ack.serialize()
        #expect(CharsetTests.contains(bytes, Array("ACK^A01^ACK".utf8)))
        let reparsed = try HL7Message(parsing: bytes)
        #expect(reparsed[try path("MSH-6.2")] == "济南運河医院")
        #expect(reparsed[try path("MSH-18")] == "GB 18030-2000")
        // v2.4: ERR-1 (ELD) for old receivers as well as ERR-2 to ERR-4.
        #expect(reparsed.segment(withID: "ERR")?.encoded == "ERR|PID^1^3^101&Required field missing&HL70357|PID^1^3^1^1|101^Required field missing^HL70357|E")
        #expect(reparsed[try path("MSA-1")] == "CE")
    }

    @Test func unparseableInputIsRejectedWithWhatCouldBeRecovered() throws {
        // Unsupported charset: the header is readable, so the ACK echoes it.
        let bytes = Array("MSH|^~\\&|HIS|H37010200001|MEDBUS|H1|20250115||ADT^A01|MSG001|P|2.5||||||BIG-5\rPID|1".utf8)
        let error = try #require(hl7Error { _ = try HL7Message(parsing: bytes) })
        let ack = Self.builder.reject(unparseable: bytes, error: error)
        #expect(try ack.serialize() == wire(
            #"MSH|^~\&|MEDBUS|H1|HIS|H37010200001|20250115103000+0800||ACK^A01^ACK|ACK20250115103000001|P|2.5"#,
            "MSA|AR|MSG001",
            "ERR||MSH^1^18|103^Table value not found^HL70357|E|||unsupported character set 'BIG-5' in MSH-18"))

        // Bad delimiters: the ACK falls back to |^~\& and names MSH-2.
        let delimiters = Self.reject(Array("MSH|^|HIS|H1|||20250115||ADT^A01|MSG002|P|2.5".utf8))
        #expect(delimiters[try path("MSA-2")] == nil)
        #expect(delimiters[try path("ERR-2.3")] == "2")
        #expect(delimiters[try path("ERR-3")] == "102")

        // Invalid bytes after a readable header: the control id is echoed, the ERR points at the field.
        let encoding = Self.reject(Array("MSH|^~\\&|HIS|H1|||20250115||ADT^A01|MSG003|P|2.5\rPID|1||".utf8) + [0xFF])
        #expect(encoding[try path("MSA-2")] == "MSG003")
        #expect(encoding[try path("ERR-2")] == "PID")
        #expect(encoding[try path("ERR-2.3")] == "3")
        #expect(encoding[try path("ERR-3")] == "102")

        for garbage in [[], Array("MS".utf8), Array("PID|1".utf8), [0xFF, 0x00, 0x7C]] {
            let ack = Self.reject(garbage)
            #expect(ack[try path("MSA-1")] == "AR")
            #expect(ack[try path("MSA-2")] == nil)
            #expect(["100"].contains(ack[try path("ERR-3")]))
        }
    }

    @Test func headerValidation() throws {
        var message = try Samples.message("adt_a04.hl7")
        #expect(HL7HeaderValidator().validate(message).isEmpty)
        try message.set("2.9", at: try path("MSH-12"))
        try message.set("X", at: try path("MSH-11"))
        try message.set(.absent, at: try path("MSH-10"))
        let validator = HL7HeaderValidator(messageTypes: ["ADT": ["A01", "A08"], "ORU": []])
        let issues = validator.validate(message)
        #expect(issues.map(\.code) == [.unsupportedEventCode, .requiredFieldMissing, .unsupportedProcessingID, .unsupportedVersionID])
        #expect(issues.first?.location == HL7ErrorLocation(segmentID: "MSH", field: 9, fieldRepetition: 1, component: 2))
        #expect(Self.builder.acknowledge(message, issues: issues)?[try path("MSA-1")] == "AR")
        try message.set("ORM", at: try path("MSH-9"))
        #expect(validator.validate(message).first?.code == .unsupportedMessageType)
    }

    static func reject(_ bytes: [UInt8]) -> HL7Message {
        let error = hl7Error { _ = try HL7Message(parsing: bytes) } ?? .emptyMessage
        return builder.reject(unparseable: bytes, error: error)
    }
}

extension HL7MessageType {
    func with(code: String, structure: String) -> HL7MessageType {
        var copy = self
        copy.code = code
        copy.structure = structure
        return copy
    }
}
