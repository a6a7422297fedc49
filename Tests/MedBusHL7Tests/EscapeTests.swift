import MedBusHL7
import Testing

@Suite struct EscapeTests {
    @Test func everyDelimiterEscapeDecodes() throws {
        let message = try parse(#"MSH|^~\&|A"#, #"ZZZ|1\F\2\S\3\T\4\R\5\E\6"#)
        #expect(message[try path("ZZZ-1")] == #"1|2^3&4~5\6"#)
    }

    @Test func everyDelimiterIsEscapedOnWriteAndReadsBack() throws {
        var message = try parse(#"MSH|^~\&|A"#)
        let text = #"1|2^3&4~5\6"#
        try message.set(text, at: try path("ZZZ-1"))
        #expect(message.segment(withID: "ZZZ")?.encoded == #"ZZZ|1\F\2\S\3\T\4\R\5\E\6"#)
        let reparsed = try HL7Message(parsing: try message.serialize())
        #expect(reparsed[try path("ZZZ-1")] == text)
    }

    @Test func customDelimitersEscapeWithTheirOwnCharacters() throws {
        var message = try Samples.message("adt_a01_custom_delimiters.hl7")
        let delimiters = message.delimiters
        #expect([delimiters.field, delimiters.component, delimiters.repetition, delimiters.escape, delimiters.subcomponent] == Array("#@!*%".utf8))
        #expect(message.msh.segment.field(1).string == "#")
        #expect(message.msh.segment.field(2).string == "@!*%")
        try message.set("a|b#c@d", at: try path("ZPI-3"))
        #expect(message.segment(withID: "ZPI")?.field(3).encoded == "a|b*F*c*S*d")
        #expect(message[try path("ZPI-3")] == "a|b#c@d")
    }

    @Test func truncationCharacterOnlyWhereDeclared() throws {
        let v27 = try parse(#"MSH|^~\&#|A"#, #"ZZZ|Room\P\5|cut off#"#)
        #expect(v27.delimiters.truncation == UInt8(ascii: "#"))
        #expect(v27[try path("ZZZ-1")] == "Room#5")
        #expect(v27[try path("ZZZ-2")] == "cut off#")  // an unescaped truncation character is data: the value was cut
        var written = v27
        try written.set("No. #7", at: try path("ZZZ-3"))
        #expect(written.segment(withID: "ZZZ")?.field(3).encoded == #"No. \P\7"#)

        let v25 = try parse(#"MSH|^~\&|A"#, #"ZZZ|Room\P\5"#)
        #expect(v25[try path("ZZZ-1")] == #"Room\P\5"#)
    }

    @Test func hexEscapesDecodeInTheMessageCharacterSet() throws {
        let utf8 = try parse(#"MSH|^~\&|A"#, #"ZZZ|\X41\|\XE4B8AD\|\Xe4b8ad\"#)
        #expect(utf8[try path("ZZZ-1")] == "A")
        #expect(utf8[try path("ZZZ-2")] == "中")
        #expect(utf8[try path("ZZZ-3")] == "中")
        let gb = try parse(header(charset: "GB18030"), #"ZZZ|\XD6D0\"#)
        #expect(gb[try path("ZZZ-1")] == "中")
    }

    @Test func lineBreaksAndControlCharacters() throws {
        let message = try parse(#"MSH|^~\&|A"#, #"ZZZ|line 1\.br\line 2|bell\X07\"#)
        #expect(message[try path("ZZZ-1")] == "line 1\nline 2")
        #expect(message[try path("ZZZ-2")] == "bell\u{07}")

        var written = try parse(#"MSH|^~\&|A"#)
        try written.set("a\r\nb\nc\rd\u{01}e\tf", at: try path("ZZZ-1"))
        #expect(written.segment(withID: "ZZZ")?.field(1).encoded == #"a\.br\b\.br\c\.br\d\X01\e"# + "\tf")
        #expect(written.segmentCount == 2)
        #expect(written[try path("ZZZ-1")] == "a\nb\nc\nd\u{01}e\tf")
    }

    @Test func lineBreaksWhenTheDotIsADelimiter() throws {
        var message = HL7Message(delimiters: try HL7Delimiters(field: "|", component: "^", repetition: "~", escape: "\\", subcomponent: "."))
        try message.set("a\nb", at: try path("ZZZ-1"))
        #expect(message.segment(withID: "ZZZ")?.encoded == #"ZZZ|a\X0A\b"#)
        #expect(message[try path("ZZZ-1")] == "a\nb")
    }

    @Test func textThatLooksLikeNullStaysText() throws {
        var message = HL7Message()
        try message.set("\"\"", at: try path("ZZZ-1"))
        #expect(message.segment(withID: "ZZZ")?.encoded == #"ZZZ|\X22\""#)
        #expect(message.value(at: try path("ZZZ-1")) == .text("\"\""))
    }

    @Test func formattingAndUnknownEscapesArePreservedVerbatim() throws {
        let sequences = [#"\H\bold\N\"#, #"\Zlocal\"#, #"\.sp2\"#, #"\.in+4\"#, #"\C2842\"#, #"\M2442\"#, #"\Q\"#]
        for sequence in sequences {
            let message = try parse(#"MSH|^~\&|A"#, "ZZZ|x\(sequence)y")
            #expect(message[try path("ZZZ-1")] == "x\(sequence)y")
        }
    }

    @Test func malformedEscapesAreKeptAsText() throws {
        let cases = [
            (#"ZZZ|end\"#, #"end\"#), (#"ZZZ|\F"#, #"\F"#), (#"ZZZ|a\\b"#, #"a\\b"#), (#"ZZZ|\XZZ\"#, #"\XZZ\"#),
            (#"ZZZ|\X4\"#, #"\X4\"#), (#"ZZZ|\X\"#, #"\X\"#), (#"ZZZ|\XFF\"#, #"\XFF\"#), (#"ZZZ|\FF\"#, #"\FF\"#),
        ]
        for (segment, expected) in cases {
            let message = try parse(#"MSH|^~\&|A"#, segment)
            #expect(message[try path("ZZZ-1")] == expected, "\(segment)")
        }
    }

    @Test func writingThenReadingGivesTheTextBack() throws {
        var random = SplitMix64(state: 7)
        let alphabet = Array(#"ab |^~\&#中文 \FX.br"#) + ["\n", "\u{01}", "\t", "😀"]
        let delimiters = [HL7Delimiters.standard, try HL7Delimiters(field: "#", component: "@", repetition: "!", escape: "*", subcomponent: "%", truncation: "$")]
        for delimiter in delimiters {
            for _ in 0..<500 {
                let text = String((0..<Int.random(in: 1...20, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
                var message = HL7Message(delimiters: delimiter)
                try message.set(text, at: try path("ZZZ-2.3.4"))
                let reparsed = try HL7Message(parsing: try message.serialize())
                #expect(reparsed[try path("ZZZ-2.3.4")] == text)
            }
        }
    }
}
