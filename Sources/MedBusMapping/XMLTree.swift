import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An HL7 v3 document as a small element tree, built once per message so every compiled XPath runs on
/// it without re-parsing. Names are local names: v3 payloads use one default namespace and XPaths in
/// mappings leave prefixes out.
final class XMLNode: Sendable {
    let name: String
    let attributes: [(String, String)]
    let children: [XMLNode]
    /// Character data directly inside this element, in order.
    let text: String

    init(name: String, attributes: [(String, String)], children: [XMLNode], text: String) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    func attribute(_ name: String) -> String? {
        for (key, value) in attributes where key == name { return value }
        return nil
    }

    /// All text inside, like XPath's string value of an element.
    var stringValue: String {
        children.isEmpty ? text : text + children.map(\.stringValue).joined()
    }

    struct ParseError: Error {}

    /// External entities are never resolved: a payload cannot make the router read files or URLs.
    static func parse(_ bytes: [UInt8]) throws(ParseError) -> XMLNode {
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = true
        let builder = Builder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { throw ParseError() }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        struct Open {
            var name: String
            var attributes: [(String, String)]
            var children: [XMLNode] = []
            var text = ""
        }
        var stack: [Open] = []
        var root: XMLNode?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
            attributes attributeDict: [String: String] = [:]
        ) {
            let attributes = attributeDict.map { (Builder.localName($0.key), $0.value) }.sorted { $0.0 < $1.0 }
            stack.append(Open(name: Builder.localName(elementName), attributes: attributes))
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let open = stack.popLast() else { return }
            let node = XMLNode(name: open.name, attributes: open.attributes, children: open.children, text: open.text)
            if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
        }

        static func localName(_ name: String) -> String {
            guard let colon = name.lastIndex(of: ":") else { return name }
            return String(name[name.index(after: colon)...])
        }
    }
}
