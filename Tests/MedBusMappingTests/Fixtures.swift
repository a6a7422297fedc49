import Foundation
import MedBusMapping
import XCTest

/// Small mappings written to a temp dir, and the repository's samples found relative to this file.
enum Fixtures {
    static var repositoryRoot: URL {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Mappings").path) { return url }
            url.deleteLastPathComponent()
        }
        return url
    }

    static func sample(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("Adapters/samples/\(name)")))
    }

    static let headers = [
        "medbus-source": "his.H37010200001", "medbus-message-id": "0f6c2a56-5a8e-4b9e-9d47-0a3c6f2f1a01",
        "medbus-received-at": "2025-01-15T10:30:00.000+08:00", "medbus-message-type": "fhir.Bundle.transaction",
    ]

    /// A temp directory with `files` (relative path → contents); returns its URL.
    static func directory(_ files: [String: String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-mapping-\(UUID().uuidString)")
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root
    }

    static let sexCSV = "code,target,display\nM,male,男\nF,female,女\n\"U\",unknown,\"未知, 不详\"\n"

    static func compile(_ yaml: String, extra: [String: String] = [:]) throws -> Mapping {
        var files = extra
        files["m/map.yaml"] = yaml
        if files["codes/sex.csv"] == nil { files["codes/sex.csv"] = sexCSV }
        let dir = try directory(files)
        let bundle = try MappingBundle.load(mappingFile: dir.appendingPathComponent("m/map.yaml"), displayPath: "m/map.yaml")
        return try Mapping.compile(bundle, version: 3)
    }

    static func diagnostics(_ yaml: String, extra: [String: String] = [:]) throws -> [MappingDiagnostic] {
        var files = extra
        files["m/map.yaml"] = yaml
        if files["codes/sex.csv"] == nil { files["codes/sex.csv"] = sexCSV }
        let dir = try directory(files)
        return MappingValidator.validate(files: [dir.appendingPathComponent("m/map.yaml")])
    }

    static func apply(_ mapping: Mapping, _ payload: [UInt8], headers: [String: String] = Fixtures.headers) -> Result<MappingOutcome, MappingFailure> {
        MappingCatalog([mapping]).apply(MappingInput(payload: payload, headers: headers))
    }

    /// The records, or a test failure.
    static func records(_ result: Result<MappingOutcome, MappingFailure>, file: StaticString = #filePath, line: UInt = #line) -> [MappedRecord] {
        switch result {
        case .success(.records(let records)): return records
        case .success(.filtered): XCTFail("filtered", file: file, line: line); return []
        case .failure(let failure): XCTFail("failed: \(failure)", file: file, line: line); return []
        }
    }

    static func failure(_ result: Result<MappingOutcome, MappingFailure>, file: StaticString = #filePath, line: UInt = #line) -> MappingFailure? {
        if case .failure(let failure) = result { return failure }
        XCTFail("expected a failure", file: file, line: line)
        return nil
    }

    static func text(_ record: MappedRecord?) -> String { record.map { String(decoding: $0.value, as: UTF8.self) } ?? "" }

    static func hl7(_ segments: String...) -> [UInt8] { Array(segments.joined(separator: "\r").utf8) }

    static let msh = "MSH|^~\\&|HIS|H1|MEDBUS|H1|20250115103000+0800||ADT^A01^ADT_A01|M1|P|2.5|||AL|NE|CHN|UNICODE UTF-8"
}
