import Foundation
import MedBusCore
import XCTest

final class MoneyTests: XCTestCase {
    func testParsesJSONNumberTextExactly() {
        XCTAssertEqual(Money("356.50")?.fen, 35650)
        XCTAssertEqual(Money("356.5")?.fen, 35650)
        XCTAssertEqual(Money("0")?.fen, 0)
        XCTAssertEqual(Money("-0.05")?.fen, -5)
        XCTAssertEqual(Money("3.565e2")?.fen, 35650)
        XCTAssertEqual(Money("1.500")?.fen, 150)
        XCTAssertEqual(Money("0.1")! + Money("0.2")!, Money("0.3")!, "no binary floating point")
        XCTAssertNil(Money("1.005"), "a digit below the fen")
        XCTAssertNil(Money("abc"))
        XCTAssertNil(Money("1."))
        XCTAssertNil(Money("99999999999999999999"))
    }

    func testParsesBillAmountsStrictly() {
        XCTAssertEqual(Money(yuan: "356.50")?.fen, 35650)
        XCTAssertEqual(Money(yuan: "356.5")?.fen, 35650)
        XCTAssertEqual(Money(yuan: "0.05")?.fen, 5)
        XCTAssertEqual(Money(yuan: "-12")?.fen, -1200)
        XCTAssertEqual(Money(yuan: ".5")?.fen, 50)
        XCTAssertNil(Money(yuan: "1.005"), "more than two decimals is an input error, not rounded")
        XCTAssertNil(Money(yuan: "1.500"), "three decimals as written, even zero")
        XCTAssertNil(Money(yuan: "1e3"))
        XCTAssertNil(Money(yuan: ""))
    }

    func testWritesTwoDecimals() {
        XCTAssertEqual(Money(fen: 35650).description, "356.50")
        XCTAssertEqual(Money(fen: 5).description, "0.05")
        XCTAssertEqual(Money(fen: -120).description, "-1.20")
        XCTAssertEqual(Money(fen: -5).yuanText, "-0.05")
        XCTAssertEqual(Money.zero.yuanText, "0.00")
        XCTAssertEqual(JSONValue.object(["a": .money(Money(fen: 100))]).jsonText, #"{"a":1.00}"#)
    }

    func testArithmetic() {
        XCTAssertEqual([Money(fen: 1), Money(fen: 2)].sum(), Money(fen: 3))
        XCTAssertEqual(-Money(fen: 5), Money(fen: -5))
        XCTAssertEqual(Money(fen: -5).clampedAtZero, .zero)
        XCTAssertEqual(Money.min(Money(fen: 4), Money(fen: 3)), Money(fen: 3))
        XCTAssertEqual(Money.yuan(12), Money(fen: 1200))
        XCTAssertEqual(Money(fen: 35650).decimal, Decimal(string: "356.5"))
    }

    func testDecodesFromJSONWithoutRounding() throws {
        let json = #"{"a": 0.1, "b": 12345678901234.57, "c": 356.50}"#
        let values = try JSONDecoder().decode([String: Money].self, from: Data(json.utf8))
        XCTAssertEqual(values["a"]?.fen, 10)
        XCTAssertEqual(values["b"]?.fen, 1_234_567_890_123_457)
        XCTAssertEqual(values["c"]?.fen, 35650)
        XCTAssertThrowsError(try JSONDecoder().decode([Money].self, from: Data("[0.001]".utf8)))
        let value = try JSONValue.parse(Array(json.utf8))
        XCTAssertEqual(value["b"]?.moneyValue?.fen, 1_234_567_890_123_457)
    }

    func testRatioSharesRoundHalfUpToTheFen() {
        XCTAssertEqual(Ratio("0.10")!.share(of: Money(yuan: "356.55")!), Money(yuan: "35.66")!)  // 35.655 → 35.66
        XCTAssertEqual(Ratio("0.10")!.share(of: Money(yuan: "356.54")!), Money(yuan: "35.65")!)  // 35.654 → 35.65
        XCTAssertEqual(Ratio("85%")!.share(of: Money(yuan: "100.01")!), Money(yuan: "85.01")!)   // 85.0085 → 85.01
        XCTAssertEqual(Ratio("1")!.share(of: Money(yuan: "7.77")!), Money(yuan: "7.77")!)
        XCTAssertNil(Ratio("1.2"))
        XCTAssertNil(Ratio("0.1234567"))
        XCTAssertEqual(Ratio("0.850")!.decimalText, "0.85")
    }
}
