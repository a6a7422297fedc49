import Foundation

/// A `Content-Type` value: its type/subtype (lower case) and parameters (names lower case,
/// values unquoted), e.g. `application/soap+xml; charset=utf-8; action="urn:x#Op"`.
public struct HTTPContentType: Sendable, Equatable {
    public var name: String
    public var parameters: [String: String]

    public init?(_ header: String) {
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = parts.first, first.contains("/") else { return nil }
        name = first.lowercased()
        var parameters: [String: String] = [:]
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            parameters[pair[0].trimmingCharacters(in: .whitespaces).lowercased()] = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        }
        self.parameters = parameters
    }

    public var charset: String? { parameters["charset"]?.lowercased() }

    public var isUTF8: Bool { charset == nil || charset == "utf-8" || charset == "utf8" }
}
