import MedBusHL7
import Testing

@Suite struct BatchTests {
    @Test func batchFileIsSplitIntoMessages() throws {
        let batch = try HL7Batch(parsing: try Samples.bytes("batch_oru_r01.hl7"))
        let messages = try batch.messages.map { try $0.get() }
        #expect(messages.count == 3)
        #expect(messages.map { $0.msh.controlID } == ["LIS20250115150000001", "LIS20250115150000002", "LIS20250115150000003"])
        #expect(messages[1][try path("OBX-5")] == "3.2")
        #expect(messages[2][try path("PID-5.2")] == "锦诚")
        let envelope = try #require(batch.envelope)
        #expect(envelope.segments.map(\.id) == ["FHS", "BHS", "BTS", "FTS"])
        #expect(envelope[try path("FHS-9")] == "LIS20250115.hl7")
        #expect(envelope[try path("BTS-2")] == "当日第一批")
        #expect(envelope.msh.sendingApplication.namespaceID == "LIS")
    }

    @Test func countsAreChecked() throws {
        let text = String(decoding: try Samples.bytes("batch_oru_r01.hl7"), as: UTF8.self)
        func batch(_ replacing: String, with: String) -> [UInt8] { Array(text.replacingOccurrences(of: replacing, with: with).utf8) }
        let bts = HL7ErrorLocation(segmentID: "BTS", field: 1)
        #expect(hl7Error { _ = try HL7Batch(parsing: batch("BTS|3|", with: "BTS|2|")) } == .batchCountMismatch(location: bts, declared: 2, actual: 3))
        #expect(hl7Error { _ = try HL7Batch(parsing: batch("FTS|1", with: "FTS|2")) } == .batchCountMismatch(location: HL7ErrorLocation(segmentID: "FTS", field: 1), declared: 2, actual: 1))
        #expect(hl7Error { _ = try HL7Batch(parsing: batch("BTS|3|", with: "BTS|three|")) } == .invalidBatchCount(location: bts))
        // Counts are optional.
        #expect(try HL7Batch(parsing: batch("BTS|3|", with: "BTS||")).messages.count == 3)
        let error = hl7Error { _ = try HL7Batch(parsing: batch("BTS|3|", with: "BTS|4|")) }
        #expect(error?.description == "BTS-1 declares 4 but the batch holds 3")
        #expect(error?.code == .segmentSequenceError)
    }

    @Test func oneBrokenMessageDoesNotLoseTheOthers() throws {
        let text = String(decoding: try Samples.bytes("batch_oru_r01.hl7"), as: UTF8.self)
        let broken = text.replacingOccurrences(of: "MSH|^~\\&|LIS|H37010200001|HIS|H37010200001|20250115150100", with: "MSH|^|LIS")
        let batch = try HL7Batch(parsing: Array(broken.utf8))
        #expect(batch.messages.count == 3)
        #expect((try? batch.messages[0].get()) != nil)
        #expect(batch.messages[1].failure == .invalidDelimiters(segmentID: "MSH", field: 2))
        #expect((try? batch.messages[2].get()) != nil)
    }

    @Test func messagesWithoutEnvelope() throws {
        let one = try Samples.bytes("adt_a01.hl7")
        let two = one + (try Samples.bytes("oru_r01.hl7"))
        let batch = try HL7Batch(parsing: two)
        #expect(batch.envelope == nil)
        #expect(try batch.messages.map { try $0.get().msh.messageType.code } == ["ADT", "ORU"])
        #expect(try batch.messages[0].get().serialize() == one)
    }

    @Test func envelopeOrderIsChecked() throws {
        let message = #"MSH|^~\&|A|||||||ORU^R01|1|P|2.5"#
        #expect(hl7Error { _ = try HL7Batch(parsing: wire("BHS|^~\\&", message, "FHS|^~\\&")) } == .unexpectedBatchSegment(segmentIndex: 3))
        #expect(hl7Error { _ = try HL7Batch(parsing: wire(message, "BTS|1")) } == .unexpectedBatchSegment(segmentIndex: 2))
        #expect(hl7Error { _ = try HL7Batch(parsing: wire("BHS|^~\\&", message, "BTS|1", "FTS|1")) } == .unexpectedBatchSegment(segmentIndex: 4))
        #expect(hl7Error { _ = try HL7Batch(parsing: wire("PID|1", message)) } == .unexpectedBatchSegment(segmentIndex: 1))
        #expect(try HL7Batch(parsing: wire("BHS|^~\\&", message, message, "BTS|2")).messages.count == 2)
        #expect(try HL7Batch(parsing: []).messages.isEmpty)
    }

    @Test func eachMessageKeepsItsOwnCharset() throws {
        let gb = try Samples.bytes("adt_a01_gb18030.hl7")
        let batch = try HL7Batch(parsing: Array("BHS|^~\\&|HIS\r".utf8) + gb + (try Samples.bytes("adt_a04.hl7")) + Array("BTS|2\r".utf8))
        let messages = try batch.messages.map { try $0.get() }
        #expect(messages.map(\.charset) == [.gb18030, .utf8])
        #expect(messages[0][try path("PID-5.2")] == "錦誠")
        #expect(try messages[0].serialize() == gb)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
