import Foundation
import MedBusCore
import XCTest

@testable import MedBusMapping

/// The byte-level fast paths of the mapping engine against the slower code they stand in for.
final class FastPathTests: XCTestCase {
    func testGlobMatchesLikeCharacters() {
        let cases: [(String, String, Bool)] = [
            ("his.*", "his.H37010200001", true), ("his.*", "his.", true), ("his.*", "hi", false), ("his.*", "lis.H1", false),
            ("ADT^A0*", "ADT^A01", true), ("*", "", true), ("*^A01", "ADT^A01", true), ("*^A01", "ADT^A011", false),
            ("a*b*c", "abc", true), ("a*b*c", "aXbYc", true), ("a*b*c", "acb", false), ("a*bc*bc", "abcbc", true), ("a*bc*bc", "abcb", false),
            ("ab*ba", "aba", false), ("ADT^A01", "ADT^A01", true), ("ADT^A01", "ADT^A02", false), ("医院.*", "医院.一", true),
        ]
        for (pattern, text, expected) in cases {
            XCTAssertEqual(Glob(pattern).matches(text), expected, "\(pattern) on \(text)")
        }
    }

    func testRecordBytesEscapeAsJSONWriterDoes() {
        var texts = ["", "plain", "a\"b\\c", "tab\there\nline\rcr", "\u{01}\u{1F}x", "李明华 \"引号\"", String(repeating: "0123456789", count: 5) + "\"",
                     "12345678\\", "\u{7F}ok", "seven77\u{08}"]
        for byte in 0..<0x80 { texts.append("abcdefgh" + String(UnicodeScalar(UInt8(byte))) + "ijklmnop") }
        for text in texts {
            var expected: [UInt8] = []
            Array(text.utf8).withUnsafeBufferPointer { JSONWriter.writeEscaped($0, into: &expected) }
            var bytes = RecordBytes(capacity: 4)
            defer { bytes.deallocate() }
            Array(text.utf8).withUnsafeBufferPointer { bytes.appendEscaped($0) }
            XCTAssertEqual(bytes.array, expected, text)
        }
    }

    func testPlainDecimalsNormalizeAsTheStringPathDoes() {
        let texts = ["0", "-0", "+0", "007", "7.", ".5", "-.5", "+.50", "-0.00", "0.0", "12.3400", "-12.30", "1e3", "1.5E-2", ".", "-", "+", "",
                     "1.2.3", "12a", "１２", " 12", "12 ", "-007.0700", "000.000", "5", "-5"]
        for text in texts {
            let plain = Array(text.utf8).withUnsafeBufferPointer { DecimalText.normalizedPlain($0) }
            if let plain {
                XCTAssertEqual(String(decoding: plain, as: UTF8.self), DecimalText.normalized(text), text)
            } else {
                // Left to the String path: only forms it does not cover (exponents, invalid text).
                XCTAssertTrue(text.contains("e") || text.contains("E") || DecimalText.normalized(text) == nil, text)
            }
        }
    }

    func testSimplePatternsDecideOnlyWhenCertain() throws {
        let texts = ["250001", "25000", "2500011", "", "abc123", "ABC", "a1", "25000a", "２５０００１", "250001\n", "A123", "a"]
        for pattern in ["^[0-9]{6}$", "^[A-Za-z]+[0-9]*$", "^\\d{1,3}$", "^A[0-9]?[0-9]+$", "^[a-c]{2,3}[1-3]$", "^(a|b)$", "^[0-9]{6}"] {
            let regex = try CompiledRegex(pattern)
            for text in texts {
                let certain = Array(text.utf8).withUnsafeBufferPointer { regex.certainlyMatchesWhole($0) }
                if certain { XCTAssertTrue(regex.matchesSomewhere(text), "\(pattern) on \(text)") }
            }
        }
        let postal = try CompiledRegex("^[0-9]{6}$")
        XCTAssertNotNil(postal.simple)
        XCTAssertTrue(Array("250001".utf8).withUnsafeBufferPointer { postal.certainlyMatchesWhole($0) })
        XCTAssertFalse(Array("25000".utf8).withUnsafeBufferPointer { postal.certainlyMatchesWhole($0) })
        XCTAssertNil(try CompiledRegex("^(a|b)$").simple)
        XCTAssertNil(try CompiledRegex("^[0-9]{6}").simple)
    }
}
