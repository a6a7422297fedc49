import Foundation

/// One change of which version of a mapping is active: a publish (the new version becomes active) or a
/// rollback (an earlier version becomes active again).
///
/// The active version of a name is the one named by its activation with the highest `sequence`. The sequence
/// is global to the registry and never reused, which is what lets a router tell that "rollback to v1" is newer
/// than "publish v2" although its version number is smaller.
public struct Activation: Sendable, Codable, Hashable {
    public enum Action: String, Sendable, Codable, Hashable {
        case publish, rollback
    }

    /// Registry-wide, strictly increasing in the order activations were committed.
    public var sequence: Int64
    public var name: String
    public var version: Int
    public var action: Action
    /// Who made the change.
    public var author: String
    /// When the change was committed.
    public var at: Date
    /// Why (the operator's `--note`).
    public var note: String

    public init(sequence: Int64, name: String, version: Int, action: Action, author: String, at: Date, note: String) {
        self.sequence = sequence
        self.name = name
        self.version = version
        self.action = action
        self.author = author
        self.at = at
        self.note = note
    }
}

extension Activation: CustomStringConvertible {
    public var description: String { "#\(sequence) \(action.rawValue) \(name) v\(version) by \(author)" }
}
