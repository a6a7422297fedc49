import MedBusCore

extension JSONValue {
    /// Equality as a golden test means it: object member order ignored, numbers compared by value.
    func semanticallyEquals(_ other: JSONValue) -> Bool {
        switch (self, other) {
        case (.number(let a), .number(let b)): return DecimalText.normalized(a) == DecimalText.normalized(b)
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.semanticallyEquals($1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (key, value) in a {
                guard let match = other[key], value.semanticallyEquals(match) else { return false }
            }
            return true
        default: return self == other
        }
    }
}
