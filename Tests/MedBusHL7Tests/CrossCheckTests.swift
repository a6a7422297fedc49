import Foundation
import MedBusHL7
import Testing

/// Reads the samples with hl7apy, an independent HL7 parser (`pip install hl7apy`), and compares: which
/// segments there are and which fields are present in each, and a set of leaf values by path. (Whole
/// fields are not compared as text: hl7apy re-escapes `\.br\` and drops empty CX components when it
/// writes a field back.) Skipped where Python or hl7apy is missing.
@Suite(.enabled(if: Hl7apy.isAvailable))
struct CrossCheckTests {
    static let values: [(String, String)] = [
        ("adt_a01.hl7", "MSH-10"), ("adt_a01.hl7", "MSH-9.2"), ("adt_a01.hl7", "PID-3[2].1"), ("adt_a01.hl7", "PID-3[2].4.2"),
        ("adt_a01.hl7", "PID-5.1"), ("adt_a01.hl7", "PID-5[2].2"), ("adt_a01.hl7", "PID-11.3"), ("adt_a01.hl7", "PV1-7.2"),
        ("adt_a01.hl7", "PV1-44"), ("oru_r01.hl7", "OBX[4]-5"), ("oru_r01.hl7", "OBX[5]-8[2]"), ("oru_r01.hl7", "OBX[2]-3.2"),
        ("dft_p03.hl7", "FT1[3]-11.1.1"), ("dft_p03.hl7", "FT1[3]-11.1.2"), ("dft_p03.hl7", "FT1[2]-7.2"), ("rde_o11.hl7", "RXE[2]-2.2"),
        ("adt_a01_gb18030.hl7", "PID-5.2"), ("adt_a01_gb18030.hl7", "MSH-4.2"), ("adt_a01_gb18030.hl7", "NK1-2.1"),
        ("adt_a01_custom_delimiters.hl7", "PID-3[2].4.2"), ("adt_a01_custom_delimiters.hl7", "PID-5.2"),
    ]

    @Test func segmentsAndPresentFieldsMatch() throws {
        let names = Samples.names.filter { $0 != "batch_oru_r01.hl7" }
        let reference = try Hl7apy.run(names, arguments: ["structure"]) as? [String: [[Any]]] ?? [:]
        #expect(reference.count == names.count - 1)  // all but the v2.7.1 sample, which hl7apy does not know
        for (name, segments) in reference {
            let message = try Samples.message(name)
            #expect(segments.map { $0[0] as? String } == message.segments.map(\.id), "\(name)")
            for (segment, theirs) in zip(message.segments, segments) {
                let ours = segment.fields.enumerated().filter { !$0.element.isEmpty }.map { $0.offset + 1 }
                #expect(ours == theirs[1] as? [Int], "\(name) \(segment.id)")
            }
        }
    }

    @Test func leafValuesMatch() throws {
        let arguments = Self.values.map { "\($0.0) \($0.1)" }
        let reference = try Hl7apy.run(Array(Set(Self.values.map(\.0))), arguments: ["values"] + arguments) as? [String] ?? []
        #expect(reference.count == Self.values.count)
        for ((name, text), theirs) in zip(Self.values, reference) {
            #expect(try Samples.message(name)[try path(text)] == theirs, "\(name) \(text)")
        }
    }
}

/// hl7apy, run by `python3` in the samples directory.
enum Hl7apy {
    /// `structure` prints [segment id, [present field numbers]] per message; `values "file PATH"…` prints
    /// the leaf each path names (paths as `SEG[occ]-field[rep].component.subcomponent`).
    static let script = #"""
        import json, re, sys
        from hl7apy.exceptions import UnsupportedVersion
        from hl7apy.parser import parse_message

        def load(name):
            text = open(name, "rb").read().decode("gb18030" if "gb18030" in name else "utf-8")
            return parse_message(text, find_groups=False, validation_level=2)

        def number(element):
            return int(element.name.split("_")[-1])

        def leaf(message, path):
            seg, occ, field, rep, comp, sub = re.fullmatch(r"(\w{3})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+))?(?:\.(\d+))?", path).groups()
            element = [s for s in message.children if s.name == seg][int(occ or 1) - 1]
            element = [f for f in element.children if number(f) == int(field)][int(rep or 1) - 1]
            for index in (comp, sub):
                if index and element.children:
                    element = [c for c in element.children if number(c) == int(index)][0]
            return element.to_er7()

        mode, names = sys.argv[1], sys.argv[2:]
        if mode == "structure":
            out = {}
            for name in names:
                try:
                    message = load(name)
                except UnsupportedVersion:
                    continue
                out[name] = [[s.name, sorted({number(f) for f in s.children})] for s in message.children]
        else:
            out = [leaf(load(name), path) for name, path in (pair.split(" ") for pair in names)]
        print(json.dumps(out, ensure_ascii=False))
        """#

    static var isAvailable: Bool { (try? output(["-c", "import hl7apy"])) != nil }

    static func run(_ names: [String], arguments: [String]) throws -> Any {
        let mode = arguments[0]
        return try JSONSerialization.jsonObject(with: try output(["-c", script, mode] + (mode == "structure" ? names : Array(arguments.dropFirst()))))
    }

    private static func output(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = Samples.directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return data
    }
}
