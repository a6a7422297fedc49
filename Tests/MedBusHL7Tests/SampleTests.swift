import Foundation
import MedBusHL7
import Testing

@Suite struct SampleTests {
    static let expected: [String: [(String, String?)]] = [
        "adt_a01.hl7": [
            ("MSH-9.1", "ADT"), ("MSH-9.2", "A01"), ("MSH-9.3", "ADT_A01"), ("MSH-10", "MSG20250115103000001"), ("MSH-12", "2.5"),
            ("MSH-4.2", "2.16.156.10011.1.5.37010200001"), ("PID-3[2]", "370102199001011234"), ("PID-3[2].4.2", "2.16.156.10011.1.3"),
            ("PID-5.1", "李"), ("PID-5.2", "明华"), ("PID-5[2].1", "LI"), ("PID-11.3", "济南市"), ("PV1-3.1", "0301"),
            ("PV1-7.2", "王"), ("PV1-44", "20250115101500"), ("ZPI-5", "1500.00"), ("AL1-3.2", "青霉素"),
        ],
        "adt_a03.hl7": [("MSH-9.2", "A03"), ("PV1-45", "20250122160000"), ("DG1-6", "F")],
        "adt_a04.hl7": [("MSH-12", "2.3.1"), ("MSH-9.3", nil), ("PID-3[2].5", "NI"), ("PID-5.1", "张"), ("PV1-2", "O")],
        "adt_a08.hl7": [("PID-11.1", "泉城路100号"), ("PID-13", nil), ("PV1-3.2", "0315")],
        "orm_o01.hl7": [("MSH-12", "2.3"), ("ORC-1", "NW"), ("OBR-4.2", "腹部CT平扫"), ("OBR-13", "右下腹痛")],
        "oml_o21.hl7": [("MSH-12", "2.7.1"), ("OBR-4[2].1", "BLD-CHEM"), ("SPM-4.2", "全血"), ("TQ1-7", "20250115104000")],
        "oru_r01.hl7": [
            ("OBX[1]-5", "13.6"), ("OBX[1]-6.1", "10*9/L"), ("OBX[5]-5", ">200"), ("OBX[5]-8[2]", "A"),
            ("OBX[6]-5", "\\H\\危急值\\N\\ 已电话通知病区\n接听人: 护士刘&复核人: 陈|已登记"), ("NTE-3", "标本已离心 5^10 分钟"),
        ],
        "rde_o11.hl7": [("RXE[2]-2.2", "甲硝唑氯化钠注射液"), ("RXE-1.2", "Q8H"), ("RXR[2]-1.2", "静脉滴注"), ("ORC[2]-2", "YZ2025011500212")],
        "dft_p03.hl7": [("FT1[3]-11.1.1", "1850.50"), ("FT1[3]-11.1.2", "CNY"), ("FT1[4]-6", "CR"), ("FT1-10", "6")],
        "adt_a01_gb18030.hl7": [
            ("MSH-4.2", "济南運河医院"), ("MSH-18", "GB 18030-2000"), ("PID-5.2", "錦誠"), ("NK1-2.1", "𠮷"), ("PV1-3.7", "住院部"),
        ],
        "adt_a01_custom_delimiters.hl7": [
            ("MSH-9.2", "A01"), ("PID-3[2].4.2", "2.16.156.10011.1.3"), ("PID-13.4", "zhaoguoqiang@example.cn"),
            ("ZPI-2", "备注 A#B!C*D%E"),
        ],
    ]

    @Test func everySampleIsCoveredAndParses() throws {
        let names = Samples.names
        #expect(names.count == 12)
        for name in names where name != "batch_oru_r01.hl7" {
            #expect(Self.expected[name] != nil, "no expectations for \(name)")
            _ = try Samples.message(name)
        }
    }

    @Test(arguments: expected.keys.sorted())
    func keyFieldsByPath(name: String) throws {
        let message = try Samples.message(name)
        for (text, value) in Self.expected[name] ?? [] {
            #expect(message[try path(text)] == value, "\(name) \(text)")
        }
    }

    @Test(arguments: expected.keys.sorted())
    func roundTripIsByteIdentical(name: String) throws {
        let bytes = try Samples.bytes(name)
        let message = try HL7Message(parsing: bytes)
        #expect(try message.serialize() == bytes)
        #expect(try message.serialize(terminators: .carriageReturn) == bytes)
    }

    @Test func sloppyTerminatorsParseAlikeAndArePreservedUnlessNormalized() throws {
        let bytes = try Samples.bytes("oru_r01.hl7")
        let original = try HL7Message(parsing: bytes)
        for terminator in ["\n", "\r\n", "\r\r\n\n"] {
            let sloppy = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r", with: terminator).utf8)
            let message = try HL7Message(parsing: sloppy)
            #expect(message.segmentCount == original.segmentCount)
            #expect(message[try path("OBX[6]-5")] == original[try path("OBX[6]-5")])
            #expect(try message.serialize() == sloppy)
            #expect(try message.serialize(terminators: .carriageReturn) == bytes)
        }
    }

    @Test func segmentCountsAndIDs() throws {
        let message = try Samples.message("adt_a01.hl7")
        #expect(message.segments.map(\.id) == ["MSH", "EVN", "PID", "NK1", "PV1", "PV2", "DG1", "AL1", "IN1", "ZPI"])
        #expect(try Samples.message("oru_r01.hl7").segments(withID: "OBX").count == 6)
        #expect(message.description == "HL7 v2.5 ADT^A01 (10 segments, 1148 bytes, UTF-8)")
    }
}
