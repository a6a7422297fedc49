import Foundation
import MedBusHL7
import Testing

@Suite struct CharsetTests {
    /// GB18030 bytes of 錦誠 (second bytes 0x5C), then 運 (0x5C) and 𠮷 (four bytes).
    static let jinCheng: [UInt8] = [0xE5, 0x5C, 0xD5, 0x5C]

    @Test func gb18030IsDecodedBeforeSplitting() throws {
        let bytes = try Samples.bytes("adt_a01_gb18030.hl7")
        // The raw bytes hold '\' and '|' inside Chinese characters: a byte-level split would break them.
        #expect(bytes.starts(with: Array("MSH|".utf8)))
        #expect(Self.contains(bytes, Self.jinCheng))
        let message = try HL7Message(parsing: bytes)
        #expect(message.charset == .gb18030)
        #expect(message[try path("PID-5.1")] == "王")
        #expect(message[try path("PID-5.2")] == "錦誠")
        #expect(message[try path("PID-11.1")] == "历下区經十路9号")
        #expect(message[try path("PV1-7.3")] == "立新")
        #expect(message.msh.characterSets == ["GB 18030-2000"])
    }

    @Test func gb18030IsWrittenBackInGB18030() throws {
        var message = try Samples.message("adt_a01_gb18030.hl7")
        try message.set("錦|誠", at: try path("PID-5.2"))
        let bytes = try message.serialize()
        #expect(Self.contains(bytes, [0xE5, 0x5C, 0x5C, 0x46, 0x5C, 0xD5, 0x5C]))  // 錦 \F\ 誠
        #expect(String(data: Data(bytes), encoding: .utf8) == nil)
        let reparsed = try HL7Message(parsing: bytes)
        #expect(reparsed[try path("PID-5.2")] == "錦|誠")
        #expect(reparsed[try path("NK1-2.1")] == "𠮷")
    }

    @Test func newGB18030MessagesDeclareTheirCharset() throws {
        var message = HL7Message(charset: .gb18030)
        try message.set("张三", at: try path("PID-5"))
        let bytes = try message.serialize()
        #expect(bytes == Array("MSH|^~\\&||||||||||||||||GB 18030-2000\rPID|||||".utf8) + [0xD5, 0xC5, 0xC8, 0xFD, 0x0D])
        #expect(try HL7Message(parsing: bytes)[try path("PID-5")] == "张三")
    }

    @Test func invalidGB18030BytesAreRejectedWithTheirOffset() throws {
        var bytes = try Samples.bytes("adt_a01_gb18030.hl7")
        let name = try #require(Self.index(of: Self.jinCheng, in: bytes))
        bytes.insert(0xFF, at: name + 2)  // between 錦 and 誠
        let error = hl7Error { _ = try HL7Message(parsing: bytes) }
        let location = HL7ErrorLocation(segmentID: "PID", field: 5, fieldRepetition: 1, component: 2, subcomponent: 1)
        #expect(error == .invalidEncoding(charset: .gb18030, byteOffset: name + 2, location: location))
        #expect(error?.code == .dataTypeError)
        #expect(error?.description == "invalid GB18030 byte sequence at byte offset \(name + 2) (in PID-5.2.1)")
    }

    @Test func aGB18030CharacterCutOffAtTheEndIsInvalid() throws {
        let bytes = Array(header(charset: "GB18030").utf8) + Array("\rPID|1|".utf8) + [0xD5]
        let error = hl7Error { _ = try HL7Message(parsing: bytes) }
        #expect(error == .invalidEncoding(charset: .gb18030, byteOffset: bytes.count - 1, location: HL7ErrorLocation(segmentID: "PID", field: 2, fieldRepetition: 1, component: 1, subcomponent: 1)))
    }

    @Test func invalidUTF8IsRejectedWithTheOffsetNeverReplaced() throws {
        let prefix = Array(#"MSH|^~\&|A"#.utf8) + [0x0D] + Array("PID|1||".utf8)
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0x80], [0xF4, 0x90, 0x80, 0x80], [0xE4, 0xB8], [0xFF]] {
            let error = hl7Error { _ = try HL7Message(parsing: prefix + Array("ok".utf8) + bad + [0x0D]) }
            guard case .invalidEncoding(.utf8, let offset, let location) = error else {
                Issue.record("\(bad): \(String(describing: error))")
                continue
            }
            #expect(offset == prefix.count + 2)
            #expect(location?.field == 3)
        }
    }

    @Test func asciiMessagesRejectHighBytes() throws {
        let bytes = Array(header(charset: "ASCII").utf8) + [0x0D] + Array("PID|é".utf8)
        #expect(hl7Error { _ = try HL7Message(parsing: bytes) }?.code == .dataTypeError)
        var message = HL7Message(charset: .ascii)
        try message.set("é", at: try path("PID-1"))
        #expect(hl7Error { _ = try message.serialize() } == .encodingFailed(charset: .ascii))
    }

    @Test func charsetSpellings() throws {
        let gb = ["GB 18030-2000", "GB18030", "gb18030", "GB18030-2005", "GB 18030", "GBK", "GB2312", "gb_2312", "CP936"]
        for name in gb { #expect(HL7Charset(hl7Name: name) == .gb18030, "\(name)") }
        for name in ["UNICODE UTF-8", "UTF-8", "utf8"] { #expect(HL7Charset(hl7Name: name) == .utf8, "\(name)") }
        for name in ["ASCII", "US-ASCII"] { #expect(HL7Charset(hl7Name: name) == .ascii, "\(name)") }
        for name in ["UNICODE", "8859/1", "BIG-5", "ISO IR87", ""] { #expect(HL7Charset(hl7Name: name) == nil, "\(name)") }
    }

    @Test func unsupportedCharsetIsNamedInTheError() throws {
        let error = hl7Error { _ = try parse(header(charset: "8859/1")) }
        #expect(error == .unsupportedCharset(name: "8859/1"))
        #expect(error?.location == HL7ErrorLocation(segmentID: "MSH", field: 18))
        #expect(hl7Error { _ = try parse(header(charset: "ISO 8859-15")) } == .unsupportedCharset(name: "ISO 8859-15"))
        #expect(hl7Error { _ = try parse(header(charset: "BIG-5")) } == .unsupportedCharset(name: "BIG-5"))
        // Anything else is not repeated: it might be a shifted field with patient data in it.
        let garbage = hl7Error { _ = try HL7Message(parsing: Array(header(charset: "").utf8) + [0xFF, 0x41, 0x0D]) }
        #expect(garbage == .unsupportedCharset(name: nil))
        #expect(hl7Error { _ = try parse(header(charset: "ZHANG SAN")) }?.description == "MSH-18 does not name a known character set")
    }

    @Test func declarationChoices() throws {
        let gbName = Array(header(charset: "").utf8) + [0x0D] + Array("PID|1||||".utf8) + [0xD5, 0xC5, 0x0D]
        // Undeclared GB18030 is an error by default and readable once configured.
        #expect(hl7Error { _ = try HL7Message(parsing: gbName) }?.code == .dataTypeError)
        let configured = try HL7Message(parsing: gbName, options: HL7ParseOptions(defaultCharset: .gb18030))
        #expect(configured[try path("PID-5")] == "张")
        #expect(try configured.serialize() == gbName)
        // `ASCII~GB 18030-2000`: ASCII default, GB18030 really used.
        let alternate = try HL7Message(parsing: Array(header(charset: "ASCII~GB 18030-2000").utf8) + [0x0D] + Array("PID|1||||".utf8) + [0xD5, 0xC5])
        #expect(alternate.charset == .gb18030)
        #expect(alternate[try path("PID-5")] == "张")
        #expect(try parse(header(charset: "UNICODE UTF-8^^HL70211")).charset == .utf8)
    }

    static func index(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        haystack.indices.first { haystack[$0...].starts(with: needle) }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool { index(of: needle, in: haystack) != nil }
}
