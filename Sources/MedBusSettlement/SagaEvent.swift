import Foundation
import MedBusCore

/// What moves a saga: handled one at a time, in arrival order, by the saga's worker.
enum SagaEvent: Sendable {
    /// Begin, or resume after a restart: re-send the outstanding request (same msgid) or publish
    /// outputs not yet confirmed.
    case start
    /// An insurer's reply, correlated by the request msgid.
    case reply(msgid: String, body: JSONValue)
    /// The wait for `msgid`'s `attempt`-th send is over (also used for a delayed re-send).
    case timeout(msgid: String, attempt: Int)
    /// `cancel(id)`: answered once the cancellation is committed (or refused).
    case cancel(CheckedContinuation<SagaRecord, any Error>)
}
