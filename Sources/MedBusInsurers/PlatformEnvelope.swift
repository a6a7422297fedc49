import Foundation
import MedBusCore

/// The fields of the national platform's request envelope the simulator and the adapter use;
/// the rest of the body is kept as sent (see `JSONValue`).
public struct PlatformRequest: Sendable {
    public var body: JSONValue
    public var infno: String
    public var msgid: String
    public var fixmedinsCode: String
    public var signNo: String
    public var input: JSONValue

    /// - Throws: `PlatformEnvelopeError` naming the missing field; never quotes the body.
    public init(_ body: JSONValue) throws {
        guard case .object = body else { throw PlatformEnvelopeError("request body is not a JSON object") }
        guard let infno = body["infno"]?.stringValue, !infno.isEmpty else { throw PlatformEnvelopeError("infno is missing") }
        guard let msgid = body["msgid"]?.stringValue, !msgid.isEmpty else { throw PlatformEnvelopeError("msgid is missing") }
        self.body = body
        self.infno = infno
        self.msgid = msgid
        self.fixmedinsCode = body["fixmedins_code"]?.stringValue ?? ""
        self.signNo = body["sign_no"]?.stringValue ?? ""
        self.input = body["input"] ?? .object([])
    }

    /// `input.data`, where most transactions put their fields.
    public var data: JSONValue { input["data"] ?? .object([]) }
}

public struct PlatformEnvelopeError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Builds response envelopes: `infcode`, `inf_refmsgid`, `refmsg_time`, `respond_time`, `err_msg`, `output`.
public enum PlatformResponse {
    /// infcode values: 0 success, -1 system error (outcome unknown: reverse with 2601), -2 business error.
    public static let success = 0
    public static let systemError = -1
    public static let businessError = -2

    public static func make(infcode: Int, refmsgid: String, received: Date, errMsg: String? = nil, output: JSONValue = .object([])) -> JSONValue {
        .object([
            ("infcode", .int(infcode)),
            ("inf_refmsgid", .string(refmsgid)),
            ("refmsg_time", .string(PlatformTime.compact(received))),
            ("respond_time", .string(PlatformTime.compact(Date()))),
            ("err_msg", errMsg.map(JSONValue.string) ?? .null),
            ("output", output),
        ])
    }

    public static func infcode(of response: JSONValue) -> Int? { response["infcode"]?.intValue }
}

/// Platform timestamps, always China Standard Time (UTC+8, no daylight saving).
public enum PlatformTime {
    private static func fields(_ date: Date) -> (tm, Int) {
        let millis = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis / 1000 + 8 * 3600)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return (parts, millis % 1000)
    }

    /// `yyyyMMddHHmmssSSS` (refmsg_time, respond_time).
    public static func compact(_ date: Date) -> String {
        let (t, ms) = fields(date)
        return String(format: "%04d%02d%02d%02d%02d%02d%03d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms)
    }

    /// `yyyy-MM-dd HH:mm:ss` (inf_time, setl_time, sign_time).
    public static func readable(_ date: Date) -> String {
        let (t, _) = fields(date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    }

    /// `yyyyMMddHHmmss`, the middle of a msgid.
    public static func msgidStamp(_ date: Date) -> String { String(compact(date).prefix(14)) }
}
