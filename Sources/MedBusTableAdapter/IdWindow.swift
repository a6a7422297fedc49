/// Decides which rows above the high-water mark may be published now.
///
/// Ids come from a sequence, but concurrent HIS transactions commit them out of order: while id
/// 7 is still uncommitted, 8 may already be visible. Publishing 8 and moving the mark past 7 would
/// lose 7 for good (a plain `id > mark` query never returns it again). So rows are published only
/// up to the first gap; a gap is waited for `settle`, after which it is taken for ids that will
/// never appear (rolled-back inserts, sequence cache) and its ids are kept as *holes*, still looked
/// for on every poll (a very late commit is published then, out of order) until they expire.
struct IdWindow {
    var settle: Duration
    /// Gaps wider than this are skipped without tracking their ids (a sequence jump, a restart
    /// value): recording millions of holes would cost more than it protects.
    var maxTrackedGap: Int64 = 10_000
    /// When each gap, by its first missing id, was first seen. In memory: after a restart every
    /// gap is waited for again, which only delays.
    private var gapsSeen: [Int64: ContinuousClock.Instant] = [:]

    init(settle: Duration) {
        self.settle = settle
    }

    struct Plan: Equatable {
        /// How many of the offered rows (a prefix) may be published now.
        var publishCount: Int
        /// Missing ids below the last publishable row, to be remembered as holes.
        var holes: [Int64]
        /// Ids given up without tracking (gaps wider than `maxTrackedGap`).
        var untrackedGapIds: Int64
        /// True when a gap stopped the walk before its settle time.
        var waitingForGap: Bool
    }

    /// - Parameters:
    ///   - highWaterMark: the last id published in order, nil before the first row (the first
    ///     visible row then starts the sequence).
    ///   - ids: ids of the rows above the mark, ascending.
    mutating func plan(highWaterMark: Int64?, ids: [Int64], now: ContinuousClock.Instant) -> Plan {
        var plan = Plan(publishCount: 0, holes: [], untrackedGapIds: 0, waitingForGap: false)
        guard var expected = highWaterMark.map({ $0 + 1 }) ?? ids.first else { return plan }
        for id in ids {
            if id > expected {
                let seen = gapsSeen[expected] ?? now
                gapsSeen[expected] = seen
                guard now - seen >= settle else {
                    plan.waitingForGap = true
                    break
                }
                let width = id - expected
                if width <= maxTrackedGap { plan.holes.append(contentsOf: expected..<id) } else { plan.untrackedGapIds += width }
            }
            plan.publishCount += 1
            expected = max(expected, id + 1)
        }
        gapsSeen = gapsSeen.filter { $0.key >= expected }
        return plan
    }
}
