import Foundation
import MedBusCore
import XCTest

final class JSONValueTests: XCTestCase {
    func testKeepsNumbersAsWrittenAndKeyOrder() throws {
        let text = #"{"b":356.50,"a":[1,true,null,"中文\n"],"c":{"x":0.1}}"#
        let value = try JSONValue.parse(text)
        XCTAssertEqual(value.jsonText, text)
        XCTAssertEqual(value.jsonBytes, Array(text.utf8))
        XCTAssertEqual(value["b"]?.moneyValue, Money(fen: 35650))
        XCTAssertEqual(value.setting("b", .string("x")).jsonText, #"{"b":"x","a":[1,true,null,"中文\n"],"c":{"x":0.1}}"#)
        XCTAssertEqual(value.setting("d", .null).jsonText, #"{"b":356.50,"a":[1,true,null,"中文\n"],"c":{"x":0.1},"d":null}"#)
    }

    func testRejectsInvalidJSONWithAnOffset() {
        XCTAssertThrowsError(try JSONValue.parse("{\"a\":}")) { error in
            XCTAssertEqual((error as? JSONParser.Failure)?.offset, 5)
        }
        XCTAssertThrowsError(try JSONValue.parse("01"))
        XCTAssertThrowsError(try JSONValue.parse("\"\\ud800\""), "lone surrogate")
        XCTAssertThrowsError(try JSONValue.parse("[1,]"))
    }

    func testDictionaryObjectsAreSortedByKey() {
        let value = JSONValue.object(["b": .int(2), "a": .optional(nil), "c": .optional("x")])
        XCTAssertEqual(value.jsonText, #"{"a":null,"b":2,"c":"x"}"#)
        XCTAssertEqual(value["b"]?.intValue, 2)
        XCTAssertEqual(value["a"]?.isNull, true)
        XCTAssertEqual(value["c"]?.stringValue, "x")
    }

    func testCodableRoundTripKeepsValues() throws {
        let value = JSONValue.object(["a": .array([.number("356.50"), .bool(true), .null]), "b": .string("é\"")])
        let decoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        XCTAssertEqual(decoded["a"]?.arrayValue?.first?.moneyValue, Money(fen: 35650))
        XCTAssertEqual(decoded["b"], .string("é\""))
    }

    func testPrettySortsKeys() {
        let value = JSONValue.object([("b", .int(1)), ("a", .array([.string("x")]))])
        XCTAssertEqual(JSONWriter.pretty(value), "{\n  \"a\": [\n    \"x\"\n  ],\n  \"b\": 1\n}")
    }
}
