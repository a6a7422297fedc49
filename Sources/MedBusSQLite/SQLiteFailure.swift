import GRDB

/// How opening or using a MedBus SQLite file failed, in the three kinds an operator acts on differently. Each
/// module translates it into its own public error (`StoreError`, `RegistryError`), whose messages say which file
/// it is and what to do.
///
/// Only SQLite's result code and message are kept: GRDB's own description quotes the SQL statement and could
/// quote bound arguments, and those hold patient data or mapping content that must not reach a log.
public enum SQLiteFailure: Error, Equatable, Sendable {
    /// The directory could not be created, or a file could not be created in it.
    case directoryNotWritable(path: String)
    /// The file is not an SQLite database, or SQLite found it damaged (`PRAGMA quick_check` failed, or a read hit
    /// a corrupt page). `detail` is SQLite's own diagnostic, on one line.
    case corrupt(path: String, detail: String)
    /// Any other failure (disk full, I/O error, locked for longer than the busy timeout, a migration failed):
    /// the result code and SQLite's message.
    case failed(String)

    /// Classifies an error thrown by GRDB or SQLite for the database at `path`. A `SQLiteFailure` is returned
    /// unchanged.
    public init(_ error: any Error, path: String) {
        switch error {
        case let error as SQLiteFailure:
            self = error
        case let error as DatabaseError:
            let detail = "SQLite \(error.extendedResultCode.rawValue): \(error.message ?? "no message")"
            switch error.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: self = .corrupt(path: path, detail: detail)
            default: self = .failed(detail)
            }
        default:
            self = .failed(String(describing: error))
        }
    }
}

/// A module's own error type with a case for each kind of `SQLiteFailure`, so that the translation is written
/// once, here. `StoreError` and `RegistryError` conform without code of their own: their enum cases are the
/// witnesses. Package access: the translation is plumbing, not part of those modules' public API.
package protocol SQLiteFailureTranslatable: Error {
    static func directoryNotWritable(path: String) -> Self
    static func corrupt(path: String, detail: String) -> Self
    static func sqlite(_ detail: String) -> Self
}

extension SQLiteFailureTranslatable {
    package init(_ failure: SQLiteFailure) {
        switch failure {
        case .directoryNotWritable(let path): self = .directoryNotWritable(path: path)
        case .corrupt(let path, let detail): self = .corrupt(path: path, detail: detail)
        case .failed(let detail): self = .sqlite(detail)
        }
    }

    /// Translates an error thrown by GRDB or SQLite for the database at `path`; an error of this type (thrown by
    /// the caller's own code inside a transaction) passes unchanged.
    package init(_ error: any Error, path: String) {
        self = error as? Self ?? Self(SQLiteFailure(error, path: path))
    }
}
