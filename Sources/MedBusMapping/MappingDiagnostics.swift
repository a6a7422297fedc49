/// A problem in a mapping file (or a file it references), at a position an editor can jump to.
public struct MappingDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 when the problem has no position (a file that cannot be read).
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every problem found in one go, so an operator fixes a file in one pass.
public struct MappingDiagnostics: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [MappingDiagnostic]

    public init(_ diagnostics: [MappingDiagnostic]) { self.diagnostics = diagnostics }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
