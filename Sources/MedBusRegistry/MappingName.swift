/// The rules for a mapping name.
///
/// A name is the Kafka record key on `medbus.mappings`, a command-line argument and part of log lines, so it is
/// kept to characters that need no quoting anywhere: ASCII letters and digits and `. _ - / :`, starting with a
/// letter or digit, at most 200 characters. Names are case-sensitive.
enum MappingName {
    static let maxLength = 200

    static func validate(_ name: String) throws {
        guard !name.isEmpty else { throw RegistryError.invalidName(name, reason: "it is empty") }
        guard name.utf8.count <= maxLength else {
            throw RegistryError.invalidName(String(name.prefix(40)) + "…", reason: "longer than \(maxLength) characters")
        }
        for scalar in name.unicodeScalars where !isAllowed(scalar) {
            throw RegistryError.invalidName(name, reason: "character '\(scalar.escaped(asASCII: true))' is not allowed (use letters, digits and . _ - / :)")
        }
        guard let first = name.unicodeScalars.first, isAlphanumeric(first) else {
            throw RegistryError.invalidName(name, reason: "it must start with a letter or a digit")
        }
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": true
        default: false
        }
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        isAlphanumeric(scalar) || scalar == "." || scalar == "_" || scalar == "-" || scalar == "/" || scalar == ":"
    }
}
