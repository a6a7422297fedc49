/// HL7 table 0357, "Message error condition codes": the code an ACK's ERR-3 carries.
public enum HL7ErrorCode: Int, Hashable, Sendable, CaseIterable {
    case messageAccepted = 0
    case segmentSequenceError = 100
    case requiredFieldMissing = 101
    case dataTypeError = 102
    case tableValueNotFound = 103
    case unsupportedMessageType = 200
    case unsupportedEventCode = 201
    case unsupportedProcessingID = 202
    case unsupportedVersionID = 203
    case unknownKeyIdentifier = 204
    case duplicateKeyIdentifier = 205
    case applicationRecordLocked = 206
    case applicationInternalError = 207

    /// The table's description, written as ERR-3.2.
    public var text: String {
        switch self {
        case .messageAccepted: "Message accepted"
        case .segmentSequenceError: "Segment sequence error"
        case .requiredFieldMissing: "Required field missing"
        case .dataTypeError: "Data type error"
        case .tableValueNotFound: "Table value not found"
        case .unsupportedMessageType: "Unsupported message type"
        case .unsupportedEventCode: "Unsupported event code"
        case .unsupportedProcessingID: "Unsupported processing id"
        case .unsupportedVersionID: "Unsupported version id"
        case .unknownKeyIdentifier: "Unknown key identifier"
        case .duplicateKeyIdentifier: "Duplicate key identifier"
        case .applicationRecordLocked: "Application record locked"
        case .applicationInternalError: "Application internal error"
        }
    }

    /// Codes saying the receiver does not take this kind of message at all (ACK code AR/CR rather than AE/CE).
    var rejectsMessage: Bool { (200...203).contains(rawValue) }
}

/// HL7 table 0516, ERR-4.
public enum HL7Severity: String, Hashable, Sendable {
    case error = "E"
    case warning = "W"
    case information = "I"
}

/// Where in a message a problem is: the ERL data type of ERR-2. All numbers are 1-based like HL7's.
public struct HL7ErrorLocation: Hashable, Sendable, CustomStringConvertible {
    public var segmentID: String
    /// Which occurrence of `segmentID` (the third OBX is 3).
    public var segmentSequence: Int
    public var field: Int?
    public var fieldRepetition: Int?
    public var component: Int?
    public var subcomponent: Int?

    public init(
        segmentID: String, segmentSequence: Int = 1, field: Int? = nil, fieldRepetition: Int? = nil,
        component: Int? = nil, subcomponent: Int? = nil
    ) {
        self.segmentID = segmentID
        self.segmentSequence = segmentSequence
        self.field = field
        self.fieldRepetition = fieldRepetition
        self.component = component
        self.subcomponent = subcomponent
    }

    /// Path notation, e.g. `OBX[3]-5[1].2`.
    public var description: String {
        var text = segmentID + (segmentSequence == 1 ? "" : "[\(segmentSequence)]")
        guard let field else { return text }
        text += "-\(field)"
        if let fieldRepetition, fieldRepetition != 1 { text += "[\(fieldRepetition)]" }
        if let component { text += ".\(component)" }
        if let subcomponent { text += ".\(subcomponent)" }
        return text
    }
}

/// A receiver-defined error code for ERR-5 (`identifier^text^coding system`), for conditions HL7 table 0357
/// has no code for; the coding system is a local one (`99zzz`, HL7 table 0396).
public struct HL7ApplicationError: Hashable, Sendable {
    public var identifier: String
    public var text: String
    public var codingSystem: String

    public init(identifier: String, text: String, codingSystem: String = "99MEDBUS") {
        self.identifier = identifier
        self.text = text
        self.codingSystem = codingSystem
    }
}

/// One finding about a message, as a validator reports it and an ACK carries it in an ERR segment.
public struct HL7Issue: Hashable, Sendable, CustomStringConvertible {
    public var code: HL7ErrorCode
    public var severity: HL7Severity
    public var location: HL7ErrorLocation?
    /// Free text for ERR-7 (diagnostic information). Never put message contents here.
    public var diagnostic: String?
    /// ERR-5, the receiver's own error code (CWE, v2.5+) where table 0357 has none that fits.
    public var applicationError: HL7ApplicationError?
    /// ERR-8, text for the sending system's operators (v2.5+). Never put message contents here.
    public var userMessage: String?
    /// Whether the ACK is a reject (AR/CR) rather than an error (AE/CE). By default only for the header
    /// codes 200–203 (HL7 v2.5 §2.9.2.1: message type, event, processing id or version not taken here).
    public var rejectsMessage: Bool

    public init(
        code: HL7ErrorCode, severity: HL7Severity = .error, location: HL7ErrorLocation? = nil, diagnostic: String? = nil,
        applicationError: HL7ApplicationError? = nil, userMessage: String? = nil, rejectsMessage: Bool? = nil
    ) {
        self.code = code
        self.severity = severity
        self.location = location
        self.diagnostic = diagnostic
        self.applicationError = applicationError
        self.userMessage = userMessage
        self.rejectsMessage = rejectsMessage ?? code.rejectsMessage
    }

    public var description: String {
        "\(severity.rawValue) \(code.rawValue) \(code.text)" + (location.map { " at \($0)" } ?? "")
            + (diagnostic.map { ": \($0)" } ?? "")
    }
}

/// Every failure of the HL7 module. Cases carry positions (segment, field, byte offset) and codes, never
/// message contents: errors end up in logs and ACKs, and patient data must not.
public enum HL7Error: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input holds no segment at all (nothing, or only blank lines).
    case emptyMessage
    /// The first segment is not MSH (or FHS/BHS where a batch envelope may start).
    case noMSH
    /// The input ends inside the header before MSH-2 is complete.
    case truncated(byteOffset: Int)
    /// MSH-1 or MSH-2 (`field` 1 or 2) is not a legal delimiter set: 4 or 5 distinct encoding characters,
    /// all printable, non-alphanumeric ASCII.
    case invalidDelimiters(segmentID: String, field: Int)
    /// MSH-18 names a character set this module does not decode. `name` is the name as sent when it is a
    /// known character set name (HL7 table 0211, common IANA names), nil otherwise: MSH-18 is free text
    /// and a broken sender may have put anything there.
    case unsupportedCharset(name: String?)
    /// A byte sequence is not valid in the message's character set. `byteOffset` counts from the start of
    /// the input as received; `location` is the field it falls in, when the bytes before it were readable.
    case invalidEncoding(charset: HL7Charset, byteOffset: Int, location: HL7ErrorLocation?)
    /// A segment (1-based, counting non-blank lines) does not start with a three-character segment id.
    case invalidSegmentID(segmentIndex: Int)
    /// A terser path that does not parse, or addresses nothing (field 0, sub-component without component).
    case invalidPath(String)
    /// MSH-1 and MSH-2 (and FHS/BHS-1, -2) are fixed when a message is created and cannot be set.
    case readOnlyPath(String)
    /// A write named a segment occurrence more than one past the last (`OBX[5]` when there are three).
    case segmentNotFound(String)
    /// BTS-1 (message count) or FTS-1 (batch count) disagrees with what the file holds.
    case batchCountMismatch(location: HL7ErrorLocation, declared: Int, actual: Int)
    /// BTS-1 or FTS-1 is not a number.
    case invalidBatchCount(location: HL7ErrorLocation)
    /// A batch file line (1-based, counting non-blank lines) that is out of place: FHS not first, BTS without
    /// BHS, FTS without FHS, or a segment before the first MSH that is no envelope segment.
    case unexpectedBatchSegment(segmentIndex: Int)
    /// The message could not be written in its character set: non-ASCII text in an ASCII message.
    case encodingFailed(charset: HL7Charset)
    /// This system's iconv has no converter for the character set (glibc without its gconv modules).
    case charsetUnavailable(HL7Charset)

    /// The table 0357 code an ACK reports for this error.
    public var code: HL7ErrorCode {
        switch self {
        case .emptyMessage, .noMSH, .truncated, .invalidSegmentID, .batchCountMismatch, .unexpectedBatchSegment:
            .segmentSequenceError
        case .invalidDelimiters, .invalidEncoding, .invalidBatchCount:
            .dataTypeError
        case .unsupportedCharset:
            .tableValueNotFound  // MSH-18 takes its values from HL7 table 0211
        case .invalidPath, .readOnlyPath, .segmentNotFound, .encodingFailed, .charsetUnavailable:
            .applicationInternalError
        }
    }

    /// Where the error is, for ERR-2; nil when no segment can be named.
    public var location: HL7ErrorLocation? {
        switch self {
        case .noMSH, .truncated:
            HL7ErrorLocation(segmentID: "MSH")
        case .invalidDelimiters(let segmentID, let field):
            HL7ErrorLocation(segmentID: segmentID, field: field)
        case .unsupportedCharset:
            HL7ErrorLocation(segmentID: "MSH", field: 18)
        case .invalidEncoding(_, _, let location):
            location
        case .batchCountMismatch(let location, _, _), .invalidBatchCount(let location):
            location
        case .emptyMessage, .invalidSegmentID, .invalidPath, .readOnlyPath, .segmentNotFound,
            .unexpectedBatchSegment, .encodingFailed, .charsetUnavailable:
            nil
        }
    }

    /// The error as one ERR segment's worth of information.
    public var issue: HL7Issue {
        HL7Issue(code: code, severity: .error, location: location, diagnostic: description)
    }

    public var description: String {
        switch self {
        case .emptyMessage:
            "empty HL7 message: no segments"
        case .noMSH:
            "HL7 message does not start with an MSH segment"
        case .truncated(let offset):
            "HL7 message is truncated: input ends inside the MSH header at byte \(offset)"
        case .invalidDelimiters(let segmentID, let field):
            "invalid HL7 delimiters in \(segmentID)-\(field): need 4 or 5 distinct encoding characters, "
                + "all printable non-alphanumeric ASCII"
        case .unsupportedCharset(let name?):
            "unsupported character set '\(name)' in MSH-18"
        case .unsupportedCharset(nil):
            "MSH-18 does not name a known character set"
        case .invalidEncoding(let charset, let offset, let location):
            "invalid \(charset) byte sequence at byte offset \(offset)" + (location.map { " (in \($0))" } ?? "")
        case .invalidSegmentID(let index):
            "segment \(index) of the HL7 message does not start with a valid segment id"
        case .invalidPath(let path):
            "invalid HL7 path '\(path)'"
        case .readOnlyPath(let path):
            "HL7 path '\(path)' addresses the delimiters, which cannot be set"
        case .segmentNotFound(let path):
            "HL7 path '\(path)' names a segment occurrence that does not exist"
        case .batchCountMismatch(let location, let declared, let actual):
            "\(location) declares \(declared) but the batch holds \(actual)"
        case .invalidBatchCount(let location):
            "\(location) is not a count"
        case .unexpectedBatchSegment(let index):
            "segment \(index) of the HL7 batch is out of place for the FHS/BHS/BTS/FTS envelope"
        case .encodingFailed(let charset):
            "the HL7 message cannot be written in \(charset)"
        case .charsetUnavailable(let charset):
            "this system's iconv has no \(charset) converter"
        }
    }
}
