import Foundation

/// The vital signs a CAD may report, with display name, UCUM unit and the range of values that
/// are physiologically plausible. Operators keep the table as data
/// (`Mappings/dispatch/vital-signs.csv`, header `code,name,unit,min,max`).
///
/// A value outside its range is *flagged*, never dropped: a monitor glitch and a dying patient
/// can look alike, and the receiving doctor decides.
public struct VitalSigns: Sendable {
    public struct Sign: Sendable, Equatable {
        public var code: String
        public var name: String
        public var unit: String
        public var range: ClosedRange<Double>
    }

    public let signs: [String: Sign]

    public init(_ signs: [Sign]) {
        self.signs = Dictionary(signs.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public struct LoadError: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    /// - Throws: `LoadError` naming the file and line of the first bad row.
    public static func load(path: String) throws -> VitalSigns {
        guard let data = FileManager.default.contents(atPath: path) else { throw LoadError(file: path, line: 0, message: "cannot read file") }
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "code,name,unit,min,max" else {
            throw LoadError(file: path, line: 1, message: "header must be code,name,unit,min,max")
        }
        var signs: [Sign] = []
        for (index, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 5, !cells[0].isEmpty, let low = Double(cells[3]), let high = Double(cells[4]), low <= high else {
                throw LoadError(file: path, line: index + 1, message: "expected code,name,unit,min,max with min <= max")
            }
            guard !signs.contains(where: { $0.code == cells[0] }) else {
                throw LoadError(file: path, line: index + 1, message: "duplicate code \(cells[0])")
            }
            signs.append(Sign(code: cells[0], name: cells[1], unit: cells[2], range: low...high))
        }
        return VitalSigns(signs)
    }
}
