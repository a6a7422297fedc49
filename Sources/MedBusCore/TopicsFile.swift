import Foundation
import MedBusKafka
import Yams

/// `deploy/topics.yaml`: the topics MedBus needs, with partitions, replication and configs.
///
/// ```yaml
/// topics:
///   - name: settlement.requests
///     partitions: 12
///     replication: 3
///     configs: { cleanup.policy: delete, retention.ms: "604800000" }
/// ```
public enum TopicsFile {
    /// - Throws: `TopicsFileError` naming the file and the offending entry.
    public static func load(path: String) throws -> [NewTopic] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TopicsFileError(file: path, message: "cannot read file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> [NewTopic] {
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch let error as YamlError {
            throw TopicsFileError(file: file, message: "not valid YAML: \(error)")
        }
        guard let document = root as? [String: Any], let entries = document["topics"] as? [Any] else {
            throw TopicsFileError(file: file, message: "expected a mapping with a 'topics' list")
        }
        var seen = Set<String>()
        return try entries.enumerated().map { index, entry in
            let at = "topics[\(index)]"
            guard let fields = entry as? [String: Any] else { throw TopicsFileError(file: file, message: "\(at) is not a mapping") }
            let unknown = Set(fields.keys).subtracting(["name", "partitions", "replication", "configs"])
            guard unknown.isEmpty else { throw TopicsFileError(file: file, message: "\(at) has unknown keys \(unknown.sorted())") }
            guard let name = fields["name"] as? String, TopicName.isValid(name) else {
                throw TopicsFileError(file: file, message: "\(at).name is missing or not a valid topic name")
            }
            guard seen.insert(name).inserted else { throw TopicsFileError(file: file, message: "\(at): topic '\(name)' listed twice") }
            guard let partitions = fields["partitions"] as? Int, partitions > 0 else {
                throw TopicsFileError(file: file, message: "\(at) (\(name)): partitions must be a positive integer")
            }
            guard let replication = fields["replication"] as? Int, replication > 0 else {
                throw TopicsFileError(file: file, message: "\(at) (\(name)): replication must be a positive integer")
            }
            var configs: [String: String] = [:]
            if let raw = fields["configs"] {
                guard let map = raw as? [String: Any] else { throw TopicsFileError(file: file, message: "\(at) (\(name)): configs must be a mapping") }
                for (key, value) in map {
                    guard value is String || value is Int || value is Bool else {
                        throw TopicsFileError(file: file, message: "\(at) (\(name)): config \(key) must be a scalar")
                    }
                    configs[key] = "\(value)"
                }
            }
            return NewTopic(name: name, partitions: partitions, replicationFactor: replication, configs: configs)
        }
    }
}

public struct TopicsFileError: Error, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}
