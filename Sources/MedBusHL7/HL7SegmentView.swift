/// A typed view of one segment kind: named accessors over the generic model, nothing copied.
///
/// Views do not check the segment id; get them from `HL7Message.segment(_:)` and `segments(_:)`, which do.
public protocol HL7SegmentView: Sendable {
    static var segmentID: String { get }
    var segment: HL7Segment { get }
    init(segment: HL7Segment)
}

extension HL7SegmentView {
    /// Field `n`'s first value as text.
    func text(_ n: Int) -> String? { segment.field(n).string }

    /// Each repetition of field `n`, read as a composite type.
    func list<T>(_ n: Int, _ make: (HL7Element) -> T) -> [T] {
        segment.field(n).repetitions.filter { !$0.isEmpty }.map(make)
    }

    /// Field `n` read as a date-time; nil when absent or not a DTM.
    func dateTime(_ n: Int) -> HL7DateTime? { text(n).flatMap(HL7DateTime.init) }
}

extension HL7Message {
    /// The first segment of this kind.
    public func segment<View: HL7SegmentView>(_ type: View.Type) -> View? {
        segment(withID: View.segmentID).map { View(segment: $0) }
    }

    /// Every segment of this kind, in order.
    public func segments<View: HL7SegmentView>(_ type: View.Type) -> [View] {
        segments(withID: View.segmentID).map { View(segment: $0) }
    }

    /// The header, always the first segment. (For a batch envelope, the FHS or BHS in MSH's place: fields
    /// 1 to 8 mean the same there.)
    public var msh: MSHSegment { MSHSegment(segment: HL7Segment(storage: storage, index: 0)) }
}
