import Testing
import MedBusHL7

/// Found by the fuzzer: text holding CR CR LF, written into a v2.7 message (with a truncation
/// character) whose input started with blank lines, reads back with each line break as LF.
@Test func crCrLfWrittenIntoAValueReadsBackAsTwoLineFeeds() throws {
    let input: [UInt8] = Array("\r\r\nMSH|^~\\&#|S499".utf8)
    var message = try HL7Message(parsing: input)
    let path = try HL7Path("ZZZ-2[2].3.2")
    try message.set("\r\r\nMSH|^~\\&#|S499", at: path)
    let reparsed = try HL7Message(parsing: try message.serialize())
    #expect(reparsed[path] == "\n\nMSH|^~\\&#|S499")
    #expect(try reparsed.serialize().starts(with: input), "the original bytes are kept")
}
