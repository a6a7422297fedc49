/// The XPath subset mappings use on HL7 v3: `/a/b`, `//b`, `*`, `@attr`, `text()`, `[n]` (from 1) and
/// `[@attr='v']`, names matched as local names. Compiled once; evaluating walks the element tree.
struct XPath: Sendable, Hashable {
    enum Axis: Sendable, Hashable { case child, descendant }
    enum Predicate: Sendable, Hashable {
        case position(Int)
        case attributeEquals(String, String)
        case hasAttribute(String)
    }
    struct Step: Sendable, Hashable {
        var axis: Axis
        /// nil for `*`.
        var name: String?
        var predicates: [Predicate]
    }
    enum Leaf: Sendable, Hashable { case element, attribute(String), text }

    var absolute: Bool
    var steps: [Step]
    var leaf: Leaf
    let text: String

    struct SyntaxError: Error { var message: String }

    init(_ text: String) throws(SyntaxError) {
        self.text = text
        var s = Substring(text)
        absolute = s.hasPrefix("/")
        steps = []
        leaf = .element
        if s == "." { return }
        if s.hasPrefix("./") { s = s.dropFirst(2) }
        var first = true
        while !s.isEmpty {
            var axis = Axis.child
            if s.hasPrefix("//") {
                axis = .descendant
                s = s.dropFirst(2)
            } else if s.hasPrefix("/") {
                s = s.dropFirst()
            } else if !first {
                throw SyntaxError(message: "expected '/'")
            }
            first = false
            let end = s.firstIndex(where: { $0 == "/" || $0 == "[" }) ?? s.endIndex
            let name = String(s[..<end])
            s = s[end...]
            if name.hasPrefix("@") {
                let attribute = String(name.dropFirst())
                guard XPath.isName(attribute), s.isEmpty else { throw SyntaxError(message: "an attribute must end the path") }
                if axis == .descendant { steps.append(Step(axis: .descendant, name: nil, predicates: [])) }
                leaf = .attribute(XPath.local(attribute))
                return
            }
            if name == "text()" {
                guard s.isEmpty, axis == .child else { throw SyntaxError(message: "text() must end the path") }
                leaf = .text
                return
            }
            guard name == "*" || XPath.isName(name) else { throw SyntaxError(message: "invalid name '\(name)'") }
            var predicates: [Predicate] = []
            while s.hasPrefix("[") {
                guard let close = s.firstIndex(of: "]") else { throw SyntaxError(message: "unclosed '['") }
                let body = s[s.index(after: s.startIndex)..<close].trimmingSpaces
                s = s[s.index(after: close)...]
                if let n = Int(body), n >= 1 {
                    predicates.append(.position(n))
                } else if body.hasPrefix("@") {
                    let parts = body.dropFirst().split(separator: "=", maxSplits: 1)
                    let attribute = String(parts[0]).trimmingSpaces
                    guard XPath.isName(attribute) else { throw SyntaxError(message: "invalid predicate") }
                    if parts.count == 1 {
                        predicates.append(.hasAttribute(XPath.local(attribute)))
                    } else {
                        let literal = String(parts[1]).trimmingSpaces
                        guard literal.count >= 2, let q = literal.first, q == "'" || q == "\"", literal.last == q else {
                            throw SyntaxError(message: "a predicate value must be quoted")
                        }
                        predicates.append(.attributeEquals(XPath.local(attribute), String(literal.dropFirst().dropLast())))
                    }
                } else {
                    throw SyntaxError(message: "unsupported predicate")
                }
            }
            steps.append(Step(axis: axis, name: name == "*" ? nil : XPath.local(name), predicates: predicates))
        }
    }

    private static func local(_ name: String) -> String {
        name.lastIndex(of: ":").map { String(name[name.index(after: $0)...]) } ?? name
    }

    private static func isName(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." || $0 == ":" }
    }

    /// The elements a path without leaf selects, from `context` (the document root for absolute paths).
    func nodes(root: XMLNode, context: XMLNode) -> [XMLNode] {
        var current: [XMLNode]
        var remaining = steps[...]
        if absolute {
            // The first step of `/a/b` names the document element itself.
            guard let first = remaining.first else { return [root] }
            if first.axis == .child {
                current = XPath.matches(first, [root])
                remaining = remaining.dropFirst()
            } else {
                current = [XMLNode(name: "", attributes: [], children: [root], text: "")]
            }
        } else {
            current = [context]
        }
        for step in remaining {
            var next: [XMLNode] = []
            for node in current {
                let candidates: [XMLNode]
                if step.axis == .child {
                    candidates = node.children
                } else {
                    var all: [XMLNode] = []
                    XPath.collectDescendants(node, into: &all)
                    candidates = all
                }
                next.append(contentsOf: XPath.matches(step, candidates))
            }
            current = next
        }
        return current
    }

    /// Every string the path selects (attribute values, texts, or elements' string values).
    func strings(root: XMLNode, context: XMLNode) -> [String] {
        let selected = nodes(root: root, context: context)
        switch leaf {
        case .element: return selected.map(\.stringValue)
        case .text: return selected.map(\.text)
        case .attribute(let name): return selected.compactMap { $0.attribute(name) }
        }
    }

    private static func collectDescendants(_ node: XMLNode, into all: inout [XMLNode]) {
        for child in node.children {
            all.append(child)
            collectDescendants(child, into: &all)
        }
    }

    private static func matches(_ step: Step, _ candidates: [XMLNode]) -> [XMLNode] {
        var selected = candidates.filter { step.name == nil || $0.name == step.name }
        for predicate in step.predicates {
            switch predicate {
            case .position(let n): selected = n <= selected.count ? [selected[n - 1]] : []
            case .attributeEquals(let name, let value): selected = selected.filter { $0.attribute(name) == value }
            case .hasAttribute(let name): selected = selected.filter { $0.attribute(name) != nil }
            }
        }
        return selected
    }
}

extension String {
    /// Without leading and trailing white space (Unicode White_Space); no copy work when there is none
    /// (the common case).
    var trimmingSpaces: String {
        // Every value read goes through here: decide on the first and last UTF-8 bytes when they are
        // printable ASCII, without decoding scalars.
        guard let firstByte = utf8.first, let lastByte = utf8.last else { return "" }
        if (0x21...0x7F).contains(firstByte) && (0x21...0x7F).contains(lastByte) { return self }
        return trimmingWhiteSpaceScalars
    }
}

extension StringProtocol {
    /// Without leading and trailing white space (Unicode White_Space).
    var trimmingSpaces: String { trimmingWhiteSpaceScalars }

    fileprivate var trimmingWhiteSpaceScalars: String {
        let scalars = unicodeScalars
        guard let first = scalars.first, let last = scalars.last else { return "" }
        if !first.isWhiteSpace && !last.isWhiteSpace { return String(self) }
        guard let start = scalars.firstIndex(where: { !$0.isWhiteSpace }),
            let end = scalars.lastIndex(where: { !$0.isWhiteSpace })
        else { return "" }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[start...end])
        return String(result)
    }
}

extension Unicode.Scalar {
    /// `properties.isWhitespace` (the Unicode White_Space property, unchanged since Unicode 6.3) as a
    /// switch: the property lookup is a table search that showed up as a tenth of a mapping's time.
    /// `ConversionTests.testWhiteSpaceTableMatchesUnicode` checks it against every scalar.
    var isWhiteSpace: Bool {
        switch value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }
}
