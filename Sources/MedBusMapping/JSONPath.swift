import MedBusCore

/// JSON paths as mappings write them: `$` (root) or `@` (current `each` element), then `.name`,
/// `['name']`, `[index]` (from 0) and, in `each` selectors, `[*]`.
struct JSONPath: Sendable, Hashable {
    enum Step: Sendable, Hashable {
        case member(String)
        case index(Int)
        case wildcard
    }

    var relative: Bool
    var steps: [Step]

    struct SyntaxError: Error { var message: String }

    init(_ text: String) throws(SyntaxError) {
        let chars = Array(text)
        guard let first = chars.first, first == "$" || first == "@" else { throw SyntaxError(message: "a json path starts with $ or @") }
        relative = first == "@"
        steps = []
        var i = 1
        while i < chars.count {
            if chars[i] == "." {
                i += 1
                let start = i
                while i < chars.count, chars[i] != ".", chars[i] != "[" { i += 1 }
                guard i > start else { throw SyntaxError(message: "empty member name") }
                let name = String(chars[start..<i])
                steps.append(name == "*" ? .wildcard : .member(name))
            } else if chars[i] == "[" {
                i += 1
                guard i < chars.count else { throw SyntaxError(message: "unclosed '['") }
                if chars[i] == "'" || chars[i] == "\"" {
                    let quote = chars[i]
                    i += 1
                    let start = i
                    while i < chars.count, chars[i] != quote { i += 1 }
                    guard i + 1 < chars.count, chars[i + 1] == "]" else { throw SyntaxError(message: "unclosed '['") }
                    steps.append(.member(String(chars[start..<i])))
                    i += 2
                } else {
                    let start = i
                    while i < chars.count, chars[i] != "]" { i += 1 }
                    guard i < chars.count else { throw SyntaxError(message: "unclosed '['") }
                    let body = String(chars[start..<i])
                    i += 1
                    if body == "*" {
                        steps.append(.wildcard)
                    } else if let n = Int(body), n >= 0 {
                        steps.append(.index(n))
                    } else {
                        throw SyntaxError(message: "invalid index '\(body)'")
                    }
                }
            } else {
                throw SyntaxError(message: "expected '.' or '['")
            }
        }
    }

    var hasWildcard: Bool { steps.contains(.wildcard) }

    /// Every value the path selects (more than one only through `[*]`).
    func select(root: JSONValue, current: JSONValue) -> [JSONValue] {
        var values = [relative ? current : root]
        for step in steps {
            var next: [JSONValue] = []
            for value in values {
                switch step {
                case .member(let name):
                    if let member = value[name] { next.append(member) }
                case .index(let n):
                    if case .array(let elements) = value, n < elements.count { next.append(elements[n]) }
                case .wildcard:
                    if case .array(let elements) = value { next.append(contentsOf: elements) }
                    else if case .object(let members) = value { next.append(contentsOf: members.map(\.1)) }
                }
            }
            values = next
            if values.isEmpty { break }
        }
        return values
    }

    /// The first value, without building arrays on the common wildcard-free path.
    func first(root: JSONValue, current: JSONValue) -> JSONValue? {
        if hasWildcard { return select(root: root, current: current).first }
        var value = relative ? current : root
        for step in steps {
            switch step {
            case .member(let name):
                guard let member = value[name] else { return nil }
                value = member
            case .index(let n):
                guard case .array(let elements) = value, n < elements.count else { return nil }
                value = elements[n]
            case .wildcard: return nil
            }
        }
        return value
    }
}
