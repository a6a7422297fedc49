import Foundation

/// Whether this process can read insurer replies, and since when: after a (re)start the reply
/// consumer gets its partitions only once the group has dropped the previous member (its session
/// timeout) and rebalanced. A step that times out before then says nothing about the insurer, so
/// the saga waits again instead of counting the attempt (and, for 2207, reversing a settlement
/// whose answer is simply not read yet).
final class ReplyReadiness: @unchecked Sendable {
    private let lock = NSLock()
    private var assignedSince: ContinuousClock.Instant?

    /// Called with the reply consumer's current assignment.
    func observe(assigned: Bool) {
        lock.withLock {
            if !assigned { assignedSince = nil } else if assignedSince == nil { assignedSince = .now }
        }
    }

    /// True once replies have been readable for at least `duration` (one step timeout: a reply to
    /// a request sent before the partitions came has had its full time to be read).
    func readable(for duration: Duration) -> Bool {
        lock.withLock { assignedSince.map { ContinuousClock.now - $0 >= duration } ?? false }
    }
}
