/// How hard the dispatcher tries before a record becomes a dead letter.
///
/// Backoff doubles from `initialBackoff` up to `maxBackoff`, with "equal jitter" (half fixed,
/// half random) so that many lanes failing at once against a recovering receiver do not retry in
/// lockstep, while every wait is still at least half the nominal one.
public struct DeliveryPolicy: Sendable, Equatable {
    /// Attempts per record, the first one included; then the record is dead-lettered.
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Longest one attempt may take (connect + send + answer) before it counts as transient.
    public var attemptTimeout: Duration

    public init(
        maxAttempts: Int = 10,
        initialBackoff: Duration = .milliseconds(200),
        maxBackoff: Duration = .seconds(30),
        attemptTimeout: Duration = .seconds(10)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = max(initialBackoff, maxBackoff)
        self.attemptTimeout = attemptTimeout
    }

    /// The wait after failed attempt number `attempt` (1-based), before attempt `attempt + 1`.
    /// - Parameters:
    ///   - random: a number in `0..<1` (injectable for tests).
    ///   - atLeast: a receiver's `Retry-After`, honoured up to `maxBackoff`.
    public func backoff(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1), atLeast: Duration? = nil) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        var nominal = initialBackoff * Double(1 << exponent)
        if nominal > maxBackoff { nominal = maxBackoff }
        let half = nominal / 2
        var wait = half + half * min(max(random, 0), 1)
        if let atLeast, atLeast > wait { wait = min(atLeast, maxBackoff) }
        return wait
    }
}
