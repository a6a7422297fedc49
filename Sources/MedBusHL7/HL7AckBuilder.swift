import Foundation

/// The outcome an ACK reports: MSA-1.
public enum HL7AckCode: String, Hashable, Sendable {
    case applicationAccept = "AA"
    case applicationError = "AE"
    case applicationReject = "AR"
    case commitAccept = "CA"
    case commitError = "CE"
    case commitReject = "CR"
}

/// Which of the two acknowledgments of enhanced mode to build (HL7 v2 §2.9.3).
public enum HL7AckLevel: Hashable, Sendable {
    /// The accept (commit) ACK, sent once the message is safely stored: CA/CE/CR in enhanced mode, as
    /// MSH-15 asks. In original mode (MSH-15 and MSH-16 empty) the only ACK there is: AA/AE/AR.
    case commit
    /// The application ACK, sent once the message is processed: AA/AE/AR, as MSH-16 asks in enhanced mode.
    case application
}

/// Builds ACK messages for received messages, and for input too broken to parse.
///
/// The ACK uses the received message's delimiters, character set (MSH-18 copied; declared when the
/// received message relied on a non-UTF-8 default), version and processing id. MSH-3/4 and MSH-5/6 are the
/// received MSH-5/6 and MSH-3/4; MSH-9 is `ACK^<trigger>^ACK`; MSH-10 is a new control id; MSA-2 is the
/// received MSH-10; each issue becomes one ERR segment: ERR-2 the location (ERL:
/// `segment^sequence^field^repetition^component^sub-component`), ERR-3 the table 0357 code as CWE
/// (`101^Required field missing^HL70357`), ERR-4 the severity, ERR-5 the application error code (if any),
/// ERR-7 the diagnostic, ERR-8 the user message (if any). For v2.3 and v2.4,
/// whose receivers know only ERR-1, ERR-1 (ELD: `segment^sequence^field^code&text&HL70357`) is filled too.
public struct HL7AckBuilder: Sendable {
    /// Makes MSH-10 of each ACK. The default is 20 random hex digits (MSH-10 allows 20 characters in v2.3).
    public var makeControlID: @Sendable () -> String
    /// The clock for MSH-7.
    public var now: @Sendable () -> Date
    /// The time zone MSH-7 is written in (China Standard Time for Chinese HIS).
    public var timeZone: TimeZone

    public init(
        makeControlID: @escaping @Sendable () -> String = { String(UUID().uuidString.filter { $0 != "-" }.prefix(20)) },
        now: @escaping @Sendable () -> Date = { Date() },
        timeZone: TimeZone = .current
    ) {
        self.makeControlID = makeControlID
        self.now = now
        self.timeZone = timeZone
    }

    /// The ACK for a parsed message.
    ///
    /// The code follows from `issues`: no issue of severity error → accept (AA/CA); an error with a table
    /// 0357 code 200–203 (unsupported message type, event, processing id or version), or another issue marked
    /// `rejectsMessage` → reject (AR/CR); any other error → error (AE/CE). Warnings and information travel in ERR without changing the code.
    ///
    /// - Returns: nil when the sender asked not to get this ACK: in enhanced mode MSH-15 (for `.commit`) or
    ///   MSH-16 (for `.application`) is `NE`, or `ER` on success, or `SU` on failure.
    public func acknowledge(_ message: HL7Message, issues: [HL7Issue] = [], level: HL7AckLevel = .commit) -> HL7Message? {
        let errors = issues.filter { $0.severity == .error }
        let accepted = errors.isEmpty
        let rejected = errors.contains { $0.rejectsMessage }
        let msh = message.msh
        let enhanced = msh.acceptAckType != nil || msh.applicationAckType != nil
        let code: HL7AckCode
        if enhanced && level == .commit {
            code = accepted ? .commitAccept : rejected ? .commitReject : .commitError
        } else {
            code = accepted ? .applicationAccept : rejected ? .applicationReject : .applicationError
        }
        if enhanced {
            switch level == .commit ? msh.acceptAckType : msh.applicationAckType {
            case "NE": return nil
            case "ER" where accepted: return nil
            case "SU" where !accepted: return nil
            default: break
            }
        }
        var header = ReceivedHeader(delimiters: message.delimiters, charset: message.charset)
        // Copied as encoded, minus any LF: a sender ending segments with CR alone may have one in a field,
        // and in the ACK's MSH it would end the segment.
        func encoded(_ element: HL7Element) -> [UInt8] { Array(element.encoded.utf8).filter { $0 != Parser.lf } }
        for n in [3, 4, 5, 6, 10, 11, 12, 18] { header.fields[n] = encoded(msh.segment.field(n)) }
        header.trigger = encoded(msh.segment.field(9).component(2))
        return build(header: header, code: code, issues: issues)
    }

    /// The ACK (code AR) for input that did not parse. Never fails, whatever the bytes.
    ///
    /// What can be recovered of MSH is reused: delimiters, applications and facilities, trigger, control id,
    /// processing id, version and a recognized MSH-18, each only if it is short printable ASCII. The rest
    /// falls back to `|^~\&`, UTF-8 and empty fields. `error.issue` becomes the ERR segment: code 100 (no or
    /// cut-off MSH, bad segment ids), 102 (bad delimiters, invalid bytes), 103 (MSH-18 not in table 0211)
    /// or 207 (no converter on this system).
    public func reject(unparseable bytes: [UInt8], error: HL7Error) -> HL7Message {
        build(header: ReceivedHeader(salvaging: bytes), code: .applicationReject, issues: [error.issue])
    }

    private func build(header: ReceivedHeader, code: HL7AckCode, issues: [HL7Issue]) -> HL7Message {
        var ack = HL7Message(delimiters: header.delimiters, charset: header.charset)
        let escape = { (text: String) in Escaping.encode(text, delimiters: header.delimiters) }
        func setMSH(_ field: Int, _ encoded: [UInt8]?, component: Int? = nil) {
            guard let encoded, !encoded.isEmpty else { return }
            let coordinates = [field - 1] + (component.map { [0, $0 - 1] } ?? [])
            ack.replace(segment: SegmentID.msh, occurrence: 1, coordinates: coordinates, with: encoded)
        }
        // Sender and receiver swap places.
        setMSH(3, header.fields[5])
        setMSH(4, header.fields[6])
        setMSH(5, header.fields[3])
        setMSH(6, header.fields[4])
        setMSH(7, escape(HL7DateTime(now(), timeZone: timeZone).description))
        setMSH(9, escape("ACK"), component: 1)
        setMSH(9, header.trigger, component: 2)
        setMSH(9, escape("ACK"), component: 3)
        setMSH(10, escape(makeControlID()))
        setMSH(11, header.fields[11])
        setMSH(12, header.fields[12])
        setMSH(18, header.fields[18])

        ack.replace(segment: SegmentID.msa, occurrence: 1, coordinates: [1], with: escape(code.rawValue))
        if let controlID = header.fields[10], !controlID.isEmpty {
            ack.replace(segment: SegmentID.msa, occurrence: 1, coordinates: [2], with: controlID)
        }

        let version = header.fields[12].map { String(decoding: $0, as: UTF8.self) } ?? ""
        let legacyERR = ["2.1", "2.2", "2.3", "2.4"].contains { version.hasPrefix($0) }
        for (i, issue) in issues.enumerated() {
            func setERR(_ coordinates: [Int], _ text: String?) {
                guard let text else { return }
                ack.replace(segment: SegmentID.err, occurrence: i + 1, coordinates: coordinates, with: escape(text))
            }
            let location = issue.location
            if legacyERR {
                setERR([1, 0, 0], location?.segmentID ?? "")
                setERR([1, 0, 1], location.map { String($0.segmentSequence) })
                setERR([1, 0, 2], location?.field.map(String.init))
                setERR([1, 0, 3, 0], String(issue.code.rawValue))
                setERR([1, 0, 3, 1], issue.code.text)
                setERR([1, 0, 3, 2], "HL70357")
            }
            if let location {
                setERR([2, 0, 0], location.segmentID)
                setERR([2, 0, 1], String(location.segmentSequence))
                setERR([2, 0, 2], location.field.map(String.init))
                setERR([2, 0, 3], location.fieldRepetition.map(String.init))
                setERR([2, 0, 4], location.component.map(String.init))
                setERR([2, 0, 5], location.subcomponent.map(String.init))
            }
            setERR([3, 0, 0], String(issue.code.rawValue))
            setERR([3, 0, 1], issue.code.text)
            setERR([3, 0, 2], "HL70357")
            setERR([4], issue.severity.rawValue)
            if let application = issue.applicationError {
                setERR([5, 0, 0], application.identifier)
                setERR([5, 0, 1], application.text)
                setERR([5, 0, 2], application.codingSystem)
            }
            setERR([7], issue.diagnostic)
            setERR([8], issue.userMessage)
        }
        return ack
    }
}

/// The parts of a received MSH an ACK reuses, as encoded bytes in the ACK's delimiters.
private struct ReceivedHeader {
    var delimiters: HL7Delimiters
    var charset: HL7Charset
    /// MSH fields by number (3, 4, 5, 6, 10, 11, 12, 18).
    var fields: [Int: [UInt8]] = [:]
    /// MSH-9.2.
    var trigger: [UInt8]?

    init(delimiters: HL7Delimiters, charset: HL7Charset) {
        self.delimiters = delimiters
        self.charset = charset
    }

    /// Whatever can be trusted of the header of input that did not parse.
    init(salvaging bytes: [UInt8]) {
        self.init(delimiters: .standard, charset: .utf8)
        guard let header = try? Parser.readHeader(bytes, allowed: [SegmentID.msh]) else { return }
        delimiters = header.delimiters
        let pieces = Parser.headerPieces(bytes, header: header)
        // Field n of MSH is piece n - 1. Only short printable ASCII is reused: anything else may be
        // mis-split (unknown character set) or not what the sender meant.
        func field(_ n: Int) -> [UInt8]? {
            guard n - 1 < pieces.count else { return nil }
            let value = bytes[pieces[n - 1]]
            guard value.count <= 199, value.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
            return Array(value)
        }
        for n in [3, 4, 5, 6, 10, 11, 12] { fields[n] = field(n) }
        trigger = field(9).flatMap { type in
            type.split(separator: delimiters.component, omittingEmptySubsequences: false).dropFirst().first.map(Array.init)
        }
        if let declared = field(18), let charset = try? Parser.declaredCharset(bytes, header: header) {
            self.charset = charset
            fields[18] = declared
        }
    }
}
