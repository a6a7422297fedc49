import Foundation
import MedBusHL7

/// The sample messages operators see in `Adapters/samples/`.
enum Samples {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Adapters/samples")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".hl7") }.sorted()
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func message(_ name: String, options: HL7ParseOptions = HL7ParseOptions()) throws -> HL7Message {
        try HL7Message(parsing: bytes(name), options: options)
    }
}

/// A compiled path; tests only use literal paths, so a typo fails the test that has it.
func path(_ text: String) throws -> HL7Path { try HL7Path(text) }

/// An MSH declaring `charset` in MSH-18 and nothing else.
func header(charset: String) -> String {
    #"MSH|^~\&"# + String(repeating: "|", count: 16) + charset
}

/// Segments joined with CR and terminated by one.
func wire(_ segments: String...) -> [UInt8] {
    Array((segments.joined(separator: "\r") + "\r").utf8)
}

func parse(_ segments: String...) throws -> HL7Message {
    try HL7Message(parsing: Array((segments.joined(separator: "\r") + "\r").utf8))
}

/// Runs `body` and returns the HL7Error it throws, or nil.
func hl7Error(_ body: () throws -> Void) -> HL7Error? {
    do {
        try body()
        return nil
    } catch {
        return error as? HL7Error
    }
}

/// A small deterministic generator, so that random-input tests fail the same way twice.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
