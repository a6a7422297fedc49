import MedBusCore
import XCTest

@testable import MedBusMapping

final class ConversionTests: XCTestCase {
    let shanghai = TimeConversion(timeZone: TimeZone(identifier: "Asia/Shanghai")!)

    func testDateTimeOffsets() {
        XCTAssertEqual(shanghai.dateTime("20250115103000+0800"), "2025-01-15T10:30:00+08:00")
        XCTAssertEqual(shanghai.dateTime("20250115103000"), "2025-01-15T10:30:00+08:00")
        XCTAssertEqual(shanghai.dateTime("202501151030"), "2025-01-15T10:30:00+08:00")
        XCTAssertEqual(shanghai.dateTime("20250115"), "2025-01-15T00:00:00+08:00")
        XCTAssertEqual(shanghai.dateTime("20250115103000-0530"), "2025-01-15T10:30:00-05:30")
        XCTAssertEqual(shanghai.dateTime("20250115103000.123+0000"), "2025-01-15T10:30:00.123+00:00")
        XCTAssertEqual(shanghai.dateTime("2025-01-15T10:30:00Z"), "2025-01-15T10:30:00+00:00")
        XCTAssertEqual(shanghai.dateTime("2025-01-15T10:30:00"), "2025-01-15T10:30:00+08:00")
        XCTAssertNil(shanghai.dateTime("20250230"))
        XCTAssertNil(shanghai.dateTime("hello"))
        let newYork = TimeConversion(timeZone: TimeZone(identifier: "America/New_York")!)
        XCTAssertEqual(newYork.dateTime("20250115103000"), "2025-01-15T10:30:00-05:00")
        XCTAssertEqual(newYork.dateTime("20250715103000"), "2025-07-15T10:30:00-04:00")
    }

    /// hl7v2 targets write dates and times in HL7 form; MSH-7 is the received time in the mapping's zone.
    func testHL7Forms() {
        XCTAssertEqual(shanghai.hl7Date("2025-01-15"), "20250115")
        XCTAssertEqual(shanghai.hl7DateTime("2025-01-15T10:42:00+08:00"), "20250115104200+0800")
        XCTAssertEqual(shanghai.hl7DateTime("2025-01-15T10:42:00.5-05:30"), "20250115104200.5-0530")
        XCTAssertEqual(shanghai.hl7ReceivedTime("2025-01-15T10:30:00.000+08:00"), "20250115103000+0800")
        XCTAssertEqual(shanghai.hl7ReceivedTime("2025-01-15T02:42:05.123Z"), "20250115104205+0800")
        XCTAssertEqual(shanghai.hl7ReceivedTime("2024-12-31T20:00:00Z"), "20250101040000+0800", "the local date can be the next day")
        XCTAssertEqual(shanghai.hl7ReceivedTime("2025-03-01T01:00:00+09:00"), "20250301000000+0800")
        let newYork = TimeConversion(timeZone: TimeZone(identifier: "America/New_York")!)
        XCTAssertEqual(newYork.hl7ReceivedTime("2025-07-15T12:00:00Z"), "20250715080000-0400")
        XCTAssertEqual(newYork.hl7ReceivedTime("2025-01-01T03:00:00Z"), "20241231220000-0500")
        XCTAssertNil(shanghai.hl7ReceivedTime("yesterday"))
        for days in [-800_000, -1, 0, 1, 20_103, 2_932_896] {
            let (y, m, d) = TimeConversion.civilFromDays(days)
            XCTAssertEqual(TimeConversion.daysFromCivil(y, m, d), days)
        }
    }

    func testDates() {
        XCTAssertEqual(shanghai.date("19900101"), "1990-01-01")
        XCTAssertEqual(shanghai.date("199001011230+0800"), "1990-01-01")
        XCTAssertEqual(shanghai.date("1990-01-01"), "1990-01-01")
        XCTAssertNil(shanghai.date("1990"))
        XCTAssertNil(shanghai.date("19901301"))
    }

    /// The White_Space switch that `trimmingSpaces` uses agrees with the Unicode property on every scalar.
    func testWhiteSpaceTableMatchesUnicode() {
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if scalar.isWhiteSpace != scalar.properties.isWhitespace { XCTFail("U+\(String(value, radix: 16))") }
        }
        XCTAssertEqual(" \u{3000}李明华\u{A0}\t".trimmingSpaces, "李明华")
        XCTAssertEqual("  ".trimmingSpaces, "")
        XCTAssertEqual("a b".trimmingSpaces, "a b")
        XCTAssertEqual("\u{85}x".trimmingSpaces, "x")
    }

    func testMoneyNeverRounds() {
        func money(_ text: String) -> JSONValue? { ValueConversion.convert(.string(text), to: .money, time: shanghai) }
        XCTAssertEqual(money("356.5"), .number("356.50"))
        XCTAssertEqual(money("356"), .number("356.00"))
        XCTAssertEqual(money("0012.30"), .number("12.30"))
        XCTAssertEqual(money("-3.1"), .number("-3.10"))
        XCTAssertEqual(money("1.000"), .number("1.00"))
        XCTAssertNil(money("1.005"))
        XCTAssertNil(money("abc"))
        XCTAssertNil(money("1e3"))
        XCTAssertEqual(ValueConversion.convert(.number("99999999999999999999.99"), to: .money, time: shanghai), .number("99999999999999999999.99"))
    }

    func testDecimalIntegerBoolean() {
        func convert(_ text: String, _ type: ValueType) -> JSONValue? { ValueConversion.convert(.string(text), to: type, time: shanghai) }
        XCTAssertEqual(convert("+007.2500", .decimal), .number("7.25"))
        XCTAssertEqual(convert("12345678901234567890.123456789", .decimal), .number("12345678901234567890.123456789"))
        XCTAssertNil(convert("7,25", .decimal))
        XCTAssertEqual(convert("042", .integer), .number("42"))
        XCTAssertNil(convert("4.2", .integer))
        for yes in ["Y", "y", "1", "true", "T"] { XCTAssertEqual(convert(yes, .boolean), .bool(true)) }
        for no in ["N", "0", "FALSE", "f"] { XCTAssertEqual(convert(no, .boolean), .bool(false)) }
        XCTAssertNil(convert("maybe", .boolean))
    }

    func testJSONParserEdgeCases() throws {
        XCTAssertEqual(try JSONParser.parse(#""\u00e9\ud83d\ude00\n""#), .string("é😀\n"))
        XCTAssertEqual(try JSONParser.parse("[123456789012345678901234567890.01]"), .array([.number("123456789012345678901234567890.01")]))
        XCTAssertEqual(try JSONParser.parse(#"{"a":1e-3,"b":[true,false,null]}"#)["a"], .number("1e-3"))
        for bad in ["", "{", "[1,]", "01", "\"\\ud800\"", "{\"a\" 1}", "nul", "1 2", "\"\u{01}\""] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad)
        }
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        XCTAssertThrowsError(try JSONParser.parse(deep))
        let round = #"{"x":"a\"b\\c\u0001","n":356.50}"#
        XCTAssertEqual(String(decoding: JSONWriter.compact(try JSONParser.parse(round)), as: UTF8.self), round)
    }

    func testTextDiff() {
        XCTAssertEqual(TextDiff.unified("a\nb", "a\nb", labels: ("x", "y")), "")
        XCTAssertEqual(TextDiff.unified("a\nb\nc", "a\nB\nc", labels: ("expected", "actual")), "--- expected\n+++ actual\n a\n-b\n+B\n c\n")
    }

    func testSchemaValidator() throws {
        let schema = try JSONSchemaValidator(
            schemaText: """
                {"type":"object","additionalProperties":false,"required":["id"],
                 "properties":{"id":{"type":"string","minLength":2,"pattern":"^[A-Z]"},
                   "amount":{"type":"number","minimum":0,"maximum":1000},"n":{"type":"integer"},
                   "sex":{"enum":["male","female"]},"born":{"type":"string","format":"date"},
                   "at":{"type":"string","format":"date-time"},"k":{"const":"v"},
                   "tags":{"type":"array","minItems":1,"items":{"$ref":"#/$defs/tag"}}},
                 "$defs":{"tag":{"type":"string","maxLength":3}}}
                """)
        func check(_ json: String) throws -> String? { schema.validate(try JSONParser.parse(json))?.pointer }
        XCTAssertNil(try check(#"{"id":"AB","amount":999.99,"n":3,"sex":"male","born":"1990-01-01","at":"2025-01-15T10:30:00+08:00","k":"v","tags":["a"]}"#))
        XCTAssertEqual(try check(#"{}"#), "/id")
        XCTAssertEqual(try check(#"{"id":"ab"}"#), "/id")
        XCTAssertEqual(try check(#"{"id":"A"}"#), "/id")
        XCTAssertEqual(try check(#"{"id":"AB","amount":1000.01}"#), "/amount")
        XCTAssertEqual(try check(#"{"id":"AB","amount":-0.01}"#), "/amount")
        XCTAssertEqual(try check(#"{"id":"AB","n":1.5}"#), "/n")
        XCTAssertEqual(try check(#"{"id":"AB","sex":"x"}"#), "/sex")
        XCTAssertEqual(try check(#"{"id":"AB","born":"19900101"}"#), "/born")
        XCTAssertEqual(try check(#"{"id":"AB","at":"2025-01-15T10:30:00"}"#), "/at")
        XCTAssertEqual(try check(#"{"id":"AB","k":"w"}"#), "/k")
        XCTAssertEqual(try check(#"{"id":"AB","tags":[]}"#), "/tags")
        XCTAssertEqual(try check(#"{"id":"AB","tags":["abcd"]}"#), "/tags/0")
        XCTAssertEqual(try check(#"{"id":"AB","extra":1}"#), "/extra")
    }

    func testXPathOnV3Sample() throws {
        let root = try XMLNode.parse(try Fixtures.sample("prpa_in201311uv02.xml"))
        func first(_ path: String) throws -> String? { try XPath(path).strings(root: root, context: root).first }
        XCTAssertEqual(try first("/PRPA_IN201311UV02/interactionId/@extension"), "PRPA_IN201311UV02")
        XCTAssertEqual(try first("//patient/id/item/@extension"), "MZ000123")
        XCTAssertEqual(try first("//patientPerson/id/item[@root='2.16.156.10011.1.3']/@extension"), "37010219000101000X")
        XCTAssertEqual(try first("//patientPerson/name/item/part/@value"), "张三")
        XCTAssertEqual(try first("//device[1]/id/item/@extension"), "EMPI")
        XCTAssertEqual(try XPath("//device").nodes(root: root, context: root).count, 2)
        XCTAssertNil(try first("//nothing/@x"))
        XCTAssertThrowsError(try XPath("//a[last()]"))
        XCTAssertThrowsError(try XPath("//@x/y"))
    }
}
