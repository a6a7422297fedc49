/// What a router believes is active, built from the records of `medbus.mappings` in the order they are read.
///
/// A record replaces a name's entry only if its activation sequence is higher than the one held: an old
/// announcement re-sent late (a resync racing a newer publish from another machine) never undoes a newer
/// decision. A record whose content does not match its digest, whose key is not its mapping's name, or that is
/// not an announcement at all is rejected and changes nothing: a router keeps running what it had rather than
/// load something damaged. A tombstone (null value) retires the name.
struct ActiveMappingSet: Sendable {
    enum Outcome: Equatable {
        /// The active set changed.
        case changed
        /// Nothing new (a duplicate, or older than what is held).
        case unchanged
        /// The record was not applied; the reason names the record, never its content.
        case rejected(String)
    }

    private var entries: [String: (mapping: MappingVersion, sequence: Int64)] = [:]

    var snapshot: [String: MappingVersion] { entries.mapValues(\.mapping) }

    mutating func apply(key: [UInt8]?, value: [UInt8]?) -> Outcome {
        guard let key, !key.isEmpty else { return .rejected("record without a key") }
        let name = String(decoding: key, as: UTF8.self)
        guard let value else {
            return entries.removeValue(forKey: name) == nil ? .unchanged : .changed
        }
        guard let announcement = MappingAnnouncement.decode(value) else {
            return .rejected("record for '\(name)' is not a \(MappingAnnouncement.currentSchema) announcement")
        }
        let mapping = announcement.mapping
        let activation = announcement.activation
        guard mapping.name == name, activation.name == name, activation.version == mapping.version else {
            return .rejected("record for '\(name)' announces \(activation.name) v\(activation.version) / \(mapping.name) v\(mapping.version)")
        }
        guard mapping.isIntact else {
            return .rejected("\(name) v\(mapping.version): content does not match its digest \(mapping.digest.prefix(12))")
        }
        if let held = entries[name], held.sequence >= activation.sequence { return .unchanged }
        let previous = entries[name]?.mapping
        entries[name] = (mapping, activation.sequence)
        return previous == mapping ? .unchanged : .changed
    }
}
