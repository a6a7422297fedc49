import MedBusHL7
import Testing

@Suite struct ValueTests {
    @Test func emptyDiffersFromNull() throws {
        let message = try Samples.message("adt_a08.hl7")
        #expect(message.value(at: try path("PID-13")) == .null)
        #expect(message.value(at: try path("PID-14")) == .null)
        #expect(message.value(at: try path("PID-19")) == .null)
        #expect(message.value(at: try path("PID-12")) == .absent)
        #expect(message.value(at: try path("PID-40")) == .absent)
        #expect(message.value(at: try path("PID-8")) == .text("M"))
        #expect(message[try path("PID-13")] == nil)
        #expect(message.element(at: try path("PID-13")).encoded == "\"\"")
        #expect(message.element(at: try path("PID-12")).isEmpty)
        #expect(message.value(at: try path("ZZZ-1")) == .absent)
    }

    @Test func nullAndAbsentAreWrittenDistinctly() throws {
        var message = try parse(#"MSH|^~\&|A"#, "PID|1||123||Zhang^San|||F")
        try message.set(.null, at: try path("PID-8"))
        try message.set(.absent, at: try path("PID-5.2"))
        try message.set("", at: try path("PID-3"))
        #expect(message.segment(withID: "PID")?.encoded == #"PID|1||||Zhang^|||"""#)
    }

    @Test func repetitions() throws {
        let message = try Samples.message("adt_a01.hl7")
        let pid3 = try #require(message.segment(withID: "PID")).field(3)
        #expect(pid3.repetitions.count == 3)
        #expect(pid3.repetitions.map { $0.component(5).string } == ["MR", "NI", "HC"])
        #expect(message[try path("PID-3[3].1")] == "YB3701000012345")
        #expect(message[try path("PID-3[4]")] == nil)
        #expect(message[try path("PID-3")] == "ZY2025000123")
        #expect(message.element(at: try path("PID-3")).encoded == "ZY2025000123^^^H37010200001^MR")
    }

    @Test func componentsAndSubcomponents() throws {
        let message = try Samples.message("adt_a01.hl7")
        #expect(message[try path("PID-3[2].4")] == nil)  // the HD's namespace sub-component is empty
        #expect(message[try path("PID-3[2].4.2")] == "2.16.156.10011.1.3")
        #expect(message[try path("PID-3[2].4.3")] == "ISO")
        #expect(message[try path("PID-3[2].4.4")] == nil)
        #expect(message.element(at: try path("PID-3[2].4")).subcomponents.map(\.encoded) == ["", "2.16.156.10011.1.3", "ISO"])
        // A primitive is its own first component and sub-component.
        #expect(message[try path("PID-8.1.1")] == "M")
        #expect(message[try path("PID-8.2")] == nil)
        #expect(message[try path("PID-8.1.2")] == nil)
        // HAPI-style and dotted spellings address the same thing.
        #expect(message[try path("PID-3(2)-4-2")] == "2.16.156.10011.1.3")
        #expect(message[try path("PID.3[2].4.2")] == "2.16.156.10011.1.3")
    }

    @Test func zSegmentsAreKept() throws {
        let message = try Samples.message("adt_a01.hl7")
        let zpi = try #require(message.segment(withID: "ZPI"))
        #expect(zpi.fieldCount == 5)
        #expect(zpi.field(4).component(2).string == "职工医保")
        #expect(zpi.encoded == "ZPI|1|370100|YB3701000012345|01^职工医保|1500.00")
    }

    @Test func walkingEveryElementRebuildsEachField() throws {
        for name in Samples.names where name != "batch_oru_r01.hl7" {
            let message = try Samples.message(name)
            let d = message.delimiters
            for segment in message.segments {
                for (n, field) in segment.fields.enumerated() where !(segment.id == "MSH" && n < 2) {
                    let rebuilt = field.repetitions.map { repetition in
                        repetition.components.map { component in
                            component.subcomponents.map(\.encoded).joined(separator: String(UnicodeScalar(d.subcomponent)))
                        }.joined(separator: String(UnicodeScalar(d.component)))
                    }.joined(separator: String(UnicodeScalar(d.repetition)))
                    #expect(rebuilt == field.encoded, "\(name) \(segment.id)-\(n + 1)")
                }
            }
        }
    }

    @Test func headerFieldsAreNumberedLikeHL7() throws {
        let message = try Samples.message("adt_a01.hl7")
        let msh = message.msh.segment
        #expect(msh.field(1).string == "|")
        #expect(msh.field(2).string == #"^~\&"#)
        #expect(msh.field(2).components.count == 1)
        #expect(msh.field(2).component(2).isEmpty)
        #expect(msh.field(3).string == "HIS")
        #expect(msh.fieldCount == 18)
        #expect(message.segment(withID: "EVN")?.fieldCount == 5)
    }

    @Test func writesPadMissingPartsAndAppendSegments() throws {
        var message = HL7Message()
        try message.set("HIS", at: try path("MSH-3"))
        try message.set("ADT", at: try path("MSH-9.1"))
        try message.set("A01", at: try path("MSH-9.2"))
        try message.set("2.5", at: try path("MSH-12"))
        try message.set("Zhang", at: try path("PID-5.1"))
        try message.set("1.2.3", at: try path("PID-3[2].4.2"))
        try message.set("1", at: try path("OBX-1"))
        try message.set("2", at: try path("OBX[2]-1"))
        #expect(try message.serialize() == wire(#"MSH|^~\&|HIS||||||ADT^A01|||2.5"#, "PID|||~^^^&1.2.3||Zhang", "OBX|1", "OBX|2"))
        #expect(hl7Error { try message.set("x", at: try path("OBX[4]-1")) } == .segmentNotFound("OBX[4]-1"))
        #expect(hl7Error { try message.set("x", at: try path("MSH-2")) } == .readOnlyPath("MSH-2"))
        #expect(hl7Error { try message.set("x", at: try path("MSH-1")) } == .readOnlyPath("MSH-1"))

        // Replacing keeps the rest of the field.
        try message.set("Li", at: try path("PID-5"))
        try message.set("Si", at: try path("PID-5.2"))
        #expect(message.segment(withID: "PID")?.field(5).encoded == "Li^Si")
    }

    @Test func appendedSegmentsStartOnALineOfTheirOwn() throws {
        let cases = [
            ("MSH|^~\\&|A", "MSH|^~\\&|A\rPID|1\r"),
            ("MSH|^~\\&|A\r\t", "MSH|^~\\&|A\r\t\rPID|1\r"),
            ("MSH|^~\\&|A\rOBX|1|TX|||text\n", "MSH|^~\\&|A\rOBX|1|TX|||text\n\rPID|1\r"),
            ("MSH|^~\\&|A\r\n", "MSH|^~\\&|A\r\nPID|1\r"),
            ("MSH|^~\\&|A\n", "MSH|^~\\&|A\nPID|1\r"),
        ]
        for (input, expected) in cases {
            var message = try HL7Message(parsing: Array(input.utf8))
            try message.set("1", at: try path("PID-1"))
            #expect(try message.serialize() == Array(expected.utf8), "\(input)")
            #expect(try HL7Message(parsing: try message.serialize())[try path("PID-1")] == "1")
        }
    }

    @Test func aLineFeedInsideACarriageReturnMessageIsData() throws {
        let message = try HL7Message(parsing: Array("MSH|^~\\&|A\rOBX|1|TX|||line 1\nline 2\rNTE|1".utf8))
        #expect(message.segments.map(\.id) == ["MSH", "OBX", "NTE"])
        #expect(message[try path("OBX-5")] == "line 1\nline 2")
    }
}
