import MedBusSQLite

/// Every failure the mapping registry reports, with a message an operator can act on.
///
/// Cases carry names, version numbers, digests and paths only: mapping content never reaches an error, because
/// errors end up in logs and terminals, and code tables may hold data that must not.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    /// The registry directory could not be created, or a file could not be created in it.
    case directoryNotWritable(path: String)
    /// The file is not an SQLite database, or SQLite found it damaged.
    case corrupt(path: String, detail: String)
    /// The registry was used after `close()`.
    case closed
    /// A mapping name that cannot be a Kafka key and a command-line argument both.
    case invalidName(String, reason: String)
    /// A publish, rollback or audit entry without an author (every change must say who made it).
    case missingAuthor
    /// A publish of zero bytes: nothing a mapping engine could load.
    case emptyContent(name: String)
    /// The content is byte for byte the active version's: publishing it would change nothing.
    case unchanged(name: String, activeVersion: Int, digest: String)
    /// No version of this name was ever published.
    case unknownMapping(String)
    /// The name exists but has no such version.
    case unknownVersion(name: String, version: Int, latest: Int)
    /// A rollback to the version that is already active.
    case alreadyActive(name: String, version: Int)
    /// Any other SQLite failure (disk full, I/O error, locked for longer than the busy timeout): code and message.
    case sqlite(String)

    public var description: String {
        switch self {
        case .directoryNotWritable(let path):
            "registry directory \(path) is not writable: create it or fix its permissions"
        case .corrupt(let path, let detail):
            "registry database \(path) is corrupt or not an SQLite database (\(detail)); restore it from a backup"
        case .closed:
            "the mapping registry is closed"
        case .invalidName(let name, let reason):
            "invalid mapping name '\(name)': \(reason)"
        case .missingAuthor:
            "every registry change needs an author: say who you are"
        case .emptyContent(let name):
            "mapping \(name): content is empty, nothing to publish"
        case .unchanged(let name, let version, let digest):
            "mapping \(name): content is identical to the active version v\(version) (sha256 \(digest.prefix(12))), nothing changed"
        case .unknownMapping(let name):
            "no mapping named '\(name)' was ever published"
        case .unknownVersion(let name, let version, let latest):
            "mapping \(name) has no version \(version) (versions are 1 to \(latest))"
        case .alreadyActive(let name, let version):
            "mapping \(name) v\(version) is already the active version"
        case .sqlite(let detail):
            "mapping registry failure: \(detail)"
        }
    }
}

/// GRDB's and SQLite's errors become `RegistryError(error, path:)` (see `SQLiteFailure`): only the result code and
/// SQLite's message are kept, because bound arguments include mapping content.
extension RegistryError: SQLiteFailureTranslatable {}
