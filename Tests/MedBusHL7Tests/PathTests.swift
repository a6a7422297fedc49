import MedBusHL7
import Testing

@Suite struct PathTests {
    @Test func forms() throws {
        let simple = try path("PID-3")
        #expect((simple.segmentID, simple.segmentOccurrence, simple.field, simple.repetition) == ("PID", 1, 3, 1))
        #expect(simple.component == nil && simple.subcomponent == nil)

        let deep = try path("OBX[3]-5[2].1.2")
        #expect((deep.segmentID, deep.segmentOccurrence, deep.field, deep.repetition) == ("OBX", 3, 5, 2))
        #expect(deep.component == 1 && deep.subcomponent == 2)

        #expect(try path("PID-3(2)-1") == path("PID-3[2].1"))
        #expect(try path("PID.5.1.2") == path("PID-5.1.2"))
        #expect(try path("ZP1-1") == HL7Path(segment: "ZP1", field: 1))
        #expect(try path("MSH-9.2") == HL7Path(segment: "MSH", field: 9, component: 2))
    }

    @Test func descriptionParsesBack() throws {
        for text in ["PID-3", "PID-3[2]", "PID-3[2].1", "PID-5.1.2", "OBX[3]-5", "MSH-9.2", "OBX[12]-5[3].4.5"] {
            #expect(try path(text).description == text)
            #expect(try path(try path(text).description) == path(text))
        }
        #expect(try path("PID-3[1]").description == "PID-3")
    }

    @Test func invalidPaths() {
        for text in ["", "PID", "PID-", "PID-0", "PID-03", "pid-3", "PI-3", "1ID-3", "PID-3.", "PID-3.1.2.3", "PID-3[0]",
            "PID-3[2", "PID[2-3", "PID-3x", "PID-123456", "PID-3[]", " PID-3", "PID-3.0", "PID--3"]
        {
            #expect(hl7Error { _ = try HL7Path(text) } == .invalidPath(text), "\(text)")
        }
        #expect(hl7Error { _ = try HL7Path(segment: "PID", field: 3, subcomponent: 1) } != nil)
        #expect(hl7Error { _ = try HL7Path(segment: "PID", occurrence: 0, field: 3) } != nil)
    }

    @Test func oneCompiledPathServesManyMessages() throws {
        let name = try path("PID-5.1")
        let values = try ["adt_a01.hl7", "adt_a04.hl7", "adt_a01_gb18030.hl7", "adt_a01_custom_delimiters.hl7"].map { try Samples.message($0)[name] }
        #expect(values == ["李", "张", "王", "赵"])
    }
}
