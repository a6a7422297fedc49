import Foundation
import MedBusCrypto

/// Seals and opens the payload columns of a row (`payload`, `ack_payload`) with the store's
/// `PayloadKeyring`, the row id as associated data so a sealed value cannot be moved to another
/// row (or from one column to the other).
///
/// A row is wholly clear (`payload_key_id` NULL: written without a keyring, or before encryption
/// existed) or wholly sealed under the key its `payload_key_id` names. Everything a search
/// filters on — id, source, type, status, times — stays in clear.
struct PayloadSealer: Sendable {
    let keyring: PayloadKeyring?

    /// A message's payload columns as stored.
    struct Columns: Sendable {
        var payload: Data
        var ackPayload: Data?
        var keyID: String?
        /// The clear payload's size, so searches report it without opening anything.
        var payloadSize: Int
    }

    enum Column {
        case payload, ack

        func associatedData(id: String) -> [UInt8] {
            switch self {
            case .payload: Array(id.utf8)
            case .ack: Array(id.utf8) + Array("\u{0}ack".utf8)
            }
        }
    }

    func seal(_ message: StoredMessage) throws -> Columns {
        guard let keyring else {
            return Columns(payload: message.payload, ackPayload: message.ackPayload, keyID: nil, payloadSize: message.payload.count)
        }
        let keyID = keyring.currentKeyID
        return Columns(
            payload: try seal(message.payload, id: message.id, column: .payload, keyID: keyID),
            ackPayload: try message.ackPayload.map { try seal($0, id: message.id, column: .ack, keyID: keyID) },
            keyID: keyID,
            payloadSize: message.payload.count)
    }

    /// Seals under `keyID` (the row's key), or returns `data` unchanged for a clear row.
    func seal(_ data: Data, id: String, column: Column, keyID: String?) throws -> Data {
        guard let keyID else { return data }
        guard let keyring else { throw StoreError.payloadKeyMissing(id: id, keyID: keyID) }
        do {
            return Data(try keyring.seal(Array(data), associatedData: column.associatedData(id: id), keyID: keyID).combined)
        } catch {
            throw error.code == .unknownKeyID ? StoreError.payloadKeyMissing(id: id, keyID: keyID) : StoreError.sqlite("sealing message \(id): \(error)")
        }
    }

    /// The clear bytes of a stored column.
    /// - Throws: `StoreError.payloadKeyMissing` when the keyring lacks the row's key (or there is no
    ///   keyring); `StoreError.payloadKeyMismatch` when the key does not open it.
    func open(_ stored: Data, id: String, column: Column, keyID: String?) throws -> Data {
        guard let keyID else { return stored }
        guard let keyring else { throw StoreError.payloadKeyMissing(id: id, keyID: keyID) }
        do {
            let sealed = try SealedPayload(combined: stored)
            // The column and the sealed bytes must name the same key: otherwise the row was altered.
            guard sealed.keyID == keyID else { throw StoreError.payloadKeyMismatch(id: id, keyID: keyID) }
            return Data(try keyring.open(sealed, associatedData: column.associatedData(id: id)))
        } catch let error as CryptoError where error.code == .unknownKeyID {
            throw StoreError.payloadKeyMissing(id: id, keyID: keyID)
        } catch is CryptoError {
            throw StoreError.payloadKeyMismatch(id: id, keyID: keyID)
        }
    }
}
