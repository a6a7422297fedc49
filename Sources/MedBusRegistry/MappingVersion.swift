import Foundation
import MedBusCore

/// One immutable, numbered version of a mapping.
///
/// To the registry a mapping is opaque: a name and the `content` bytes (the mapping engine's bundle: the mapping
/// YAML and the code tables and schemas it references, as JSON). `digest` identifies the content, so "is this
/// what is running?" is a string comparison an operator can do by eye.
///
/// Once published a version never changes: the database refuses updates and deletes of version rows, so a
/// router that reports "mapping X v3, sha256 ab12…" can always be matched to exactly what it ran.
///
/// Encoded (`Codable`) with `content` as a base64 string, so the JSON on the `medbus.mappings` topic stays
/// readable with any Kafka client.
public struct MappingVersion: Sendable, Codable, Hashable {
    public var name: String
    /// 1 for the first version of a name, then 2, 3, … in order of publication; never reused.
    public var version: Int
    /// Lowercase hex SHA-256 of `content`.
    public var digest: String
    public var author: String
    public var publishedAt: Date
    /// Why this version was published (the operator's `--note`).
    public var note: String
    public var content: [UInt8]

    public init(name: String, version: Int, digest: String, author: String, publishedAt: Date, note: String, content: [UInt8]) {
        self.name = name
        self.version = version
        self.digest = digest
        self.author = author
        self.publishedAt = publishedAt
        self.note = note
        self.content = content
    }

    /// The lowercase hex SHA-256 of `content`, as stored in `digest`.
    public static func digest(of content: [UInt8]) -> String { SHA256.hex(content) }

    /// True when `digest` matches `content`: what a receiver checks before trusting a version.
    public var isIntact: Bool { Self.digest(of: content) == digest }

    private enum CodingKeys: String, CodingKey {
        case name, version, digest, author, publishedAt, note, content
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        version = try container.decode(Int.self, forKey: .version)
        digest = try container.decode(String.self, forKey: .digest)
        author = try container.decode(String.self, forKey: .author)
        publishedAt = try container.decode(Date.self, forKey: .publishedAt)
        note = try container.decode(String.self, forKey: .note)
        let base64 = try container.decode(String.self, forKey: .content)
        guard let data = Data(base64Encoded: base64) else {
            throw DecodingError.dataCorruptedError(forKey: .content, in: container, debugDescription: "content is not valid base64")
        }
        content = [UInt8](data)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(version, forKey: .version)
        try container.encode(digest, forKey: .digest)
        try container.encode(author, forKey: .author)
        try container.encode(publishedAt, forKey: .publishedAt)
        try container.encode(note, forKey: .note)
        try container.encode(Data(content).base64EncodedString(), forKey: .content)
    }
}

extension MappingVersion: CustomStringConvertible {
    /// Names the version and its digest, never the content (which may hold code tables with patient-facing data).
    public var description: String { "\(name) v\(version) (sha256 \(digest.prefix(12)))" }
}
