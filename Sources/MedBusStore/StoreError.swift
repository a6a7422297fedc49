import MedBusSQLite

/// Every failure the store reports. Cases carry paths and message ids only: SQL text, bound arguments and
/// payload bytes never reach an error, because errors end up in logs and patient data must not.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// The store directory could not be created, or a file could not be created in it.
    case directoryNotWritable(path: String)
    /// The file is not an SQLite database, or SQLite found it damaged (`PRAGMA quick_check` failed, or a
    /// read hit a corrupt page). `detail` is SQLite's own diagnostic (page numbers, index names).
    case corrupt(path: String, detail: String)
    /// An update named a message id that has no row.
    case notFound(id: String)
    /// The store was used after `close()`.
    case closed
    /// A row's payload is sealed with payload key `keyID`, which the configured keyring lacks (or no
    /// keyring is configured).
    case payloadKeyMissing(id: String, keyID: String)
    /// Payload key `keyID` does not open the row's payload: the key file holds other bytes under that
    /// id, or the sealed bytes were altered or moved from another row.
    case payloadKeyMismatch(id: String, keyID: String)
    /// Any other SQLite failure (disk full, I/O error, ...): the result code and SQLite's message.
    case sqlite(String)

    public var description: String {
        switch self {
        case .directoryNotWritable(let path):
            "store directory \(path) is not writable: create it or fix its permissions"
        case .corrupt(let path, let detail):
            "store database \(path) is corrupt or not an SQLite database (\(detail)); "
                + "restore it from a backup or move it away"
        case .notFound(let id):
            "no stored message with id \(id)"
        case .closed:
            "the message store is closed"
        case .payloadKeyMissing(let id, let keyID):
            "message \(id) is sealed with payload key '\(keyID)', which is not configured: "
                + "give the key file that holds it (--payload-key-file or MEDBUS_PAYLOAD_KEY_FILE)"
        case .payloadKeyMismatch(let id, let keyID):
            "message \(id) does not open with payload key '\(keyID)': the key file holds different bytes "
                + "under that id, or the stored row was altered"
        case .sqlite(let detail):
            "message store failure: \(detail)"
        }
    }
}

/// GRDB's and SQLite's errors become `StoreError(error, path:)` (see `SQLiteFailure`): only the result code and
/// SQLite's message are kept, because SQL text, bound arguments and payload bytes must never reach an error.
extension StoreError: SQLiteFailureTranslatable {}
