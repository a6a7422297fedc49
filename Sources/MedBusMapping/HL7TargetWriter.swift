import MedBusHL7

/// Builds an HL7 v2 output message: MSH from the target's `message:`, then the body's fields and
/// repeated segments, written with CR terminators in UTF-8.
///
/// MSH-7 comes from `medbus-received-at` (in the mapping's time zone) and MSH-10 from a hash of
/// `medbus-message-id`, so replaying a record gives byte-identical output. Values of `type: date` and
/// `datetime` are written in HL7 form (`20250115`, `20250115104200+0800`), not the canonical ISO form.
struct HL7TargetWriter {
    let evaluator: Evaluator
    let spec: HL7TargetSpec
    let mapping: String
    let target: String

    private static let msh = (
        sendingApplication: try! HL7Path("MSH-3"), sendingFacility: try! HL7Path("MSH-4"),
        receivingApplication: try! HL7Path("MSH-5"), receivingFacility: try! HL7Path("MSH-6"), time: try! HL7Path("MSH-7"),
        controlID: try! HL7Path("MSH-10"), processingID: try! HL7Path("MSH-11"), version: try! HL7Path("MSH-12"),
        charset: try! HL7Path("MSH-18")
    )

    func write(_ context: SourceContext, index: Int) throws(MappingFailure) -> [UInt8] {
        var message = HL7Message()
        func text(_ rule: ValueRule?, _ context: SourceContext) throws(MappingFailure) -> String? {
            guard let rule, let text = try evaluator.value(rule, context)?.scalarText else { return nil }
            switch rule.type {
            case .date?: return evaluator.time.hl7Date(text) ?? text
            case .datetime?: return evaluator.time.hl7DateTime(text) ?? text
            default: return text
            }
        }
        do {
            try message.set(try text(spec.sendingApplication, context), at: Self.msh.sendingApplication)
            try message.set(try text(spec.sendingFacility, context), at: Self.msh.sendingFacility)
            try message.set(try text(spec.receivingApplication, context), at: Self.msh.receivingApplication)
            try message.set(try text(spec.receivingFacility, context), at: Self.msh.receivingFacility)
            if let received = context.headers["medbus-received-at"] {
                try message.set(evaluator.time.hl7ReceivedTime(received), at: Self.msh.time)
            }
            for (i, component) in spec.messageType.enumerated() {
                try message.set(component, at: HL7Path(segment: "MSH", field: 9, component: i + 1))
            }
            let seed = [context.headers["medbus-message-id"] ?? "", mapping, target, String(index)].joined(separator: "\u{1F}")
            try message.set(Self.controlID(seed), at: Self.msh.controlID)
            try message.set(spec.processingID, at: Self.msh.processingID)
            try message.set(spec.version, at: Self.msh.version)
            try message.set("UNICODE UTF-8", at: Self.msh.charset)
            for entry in spec.entries {
                switch entry {
                case .field(let path, let rule):
                    try message.set(try text(rule, context), at: path)
                case .segments(let id, let selector, let fields):
                    for element in evaluator.iterate(selector, context) {
                        var values: [(HL7Path, String)] = []
                        for (path, rule) in fields {
                            if let value = try text(rule, element) { values.append((path, value)) }
                        }
                        guard !values.isEmpty else { continue }
                        let occurrence = message.segments(withID: id).count + 1
                        for (path, value) in values {
                            let placed = try HL7Path(
                                segment: id, occurrence: occurrence, field: path.field, repetition: path.repetition,
                                component: path.component, subcomponent: path.subcomponent)
                            try message.set(value, at: placed)
                        }
                    }
                }
            }
            return try message.serialize(terminators: .carriageReturn)
        } catch let error as MappingFailure {
            throw error
        } catch {
            throw MappingFailure(reason: .type, rule: target, message: "cannot write the HL7 v2 output: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let hl7 = error as? HL7Error else { return "write failed" }
        switch hl7 {
        case .segmentNotFound: return "a segment occurrence is more than one past the last"
        case .readOnlyPath: return "MSH-1 and MSH-2 cannot be written"
        default: return "encoding failed"
        }
    }

    /// ≤ 20 characters, stable across runs and machines: `MB` and 16 hex digits of FNV-1a 64.
    static func controlID(_ seed: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in seed.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16, uppercase: true)
        return "MB" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
