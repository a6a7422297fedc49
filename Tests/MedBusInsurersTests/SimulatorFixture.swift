import Foundation
import Logging
import MedBusCore
import NIOHTTP1
@testable import MedBusInsurers
import XCTest

/// A running NHSA simulator on a free port of 127.0.0.1, and a client that speaks to it.
final class NHSASimulatorFixture: @unchecked Sendable {
    static var repository: URL { URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("../..").standardized }
    static var demoPolicy: BasicInsurancePolicy { try! BasicInsurancePolicy.load(path: repository.appendingPathComponent("Adapters/insurers/policy-shandong-demo.yaml").path) }
    static var demoPersons: PersonDirectory { try! PersonDirectory.load(path: repository.appendingPathComponent("Adapters/insurers/persons-demo.yaml").path) }

    let simulator: NHSAPlatformSimulator
    let server: NHSASimulatorServer
    let port: Int
    let client: PlatformHTTPClient
    private let task: Task<Void, Error>
    private var sequence = 0
    var signNo = ""

    init(faults: [SimulatorFault] = [], dropHold: Duration = .seconds(2), clientTimeout: Duration = .seconds(5)) async throws {
        simulator = NHSAPlatformSimulator(policy: Self.demoPolicy, persons: Self.demoPersons)
        var logger = Logger(label: "test.nhsa")
        logger.logLevel = .warning
        let server = NHSASimulatorServer(simulator: simulator, faults: FaultPlan(faults), host: "127.0.0.1", port: 0, dropHold: dropHold, logger: logger)
        self.server = server
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        task = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        port = await iterator.next()!
        client = try PlatformHTTPClient(url: "http://127.0.0.1:\(port)\(NHSASimulatorServer.defaultPath)", timeout: clientTimeout)
    }

    var url: String { "http://127.0.0.1:\(port)\(NHSASimulatorServer.defaultPath)" }

    func stop() async {
        await client.close()
        server.shutdown()
        _ = try? await task.value
    }

    func nextMsgid() -> String {
        sequence += 1
        return "H37010200001" + "20250115103045" + String(format: "%04d", sequence)
    }

    /// A request envelope like the orchestrator writes.
    func envelope(_ infno: String, msgid: String? = nil, input: JSONValue) -> JSONValue {
        .object([
            ("infno", .string(infno)), ("msgid", .string(msgid ?? nextMsgid())), ("mdtrtarea_admvs", .string("370102")),
            ("insuplc_admdvs", .string("370105")), ("recer_sys_code", .string("SDYB")), ("infver", .string("V1.0")),
            ("opter_type", .string("1")), ("opter", .string("0321")), ("opter_name", .string("test")),
            ("inf_time", .string("2025-01-15 10:30:45")), ("fixmedins_code", .string("H37010200001")),
            ("fixmedins_name", .string("test")), ("sign_no", .string(signNo)), ("input", input),
        ])
    }

    func call(_ envelope: JSONValue) async throws -> JSONValue {
        let answer = try await client.post(envelope.jsonBytes, headers: [])
        XCTAssertEqual(answer.status, 200)
        return try JSONValue.parse(answer.body)
    }

    func call(_ infno: String, msgid: String? = nil, _ input: JSONValue) async throws -> JSONValue {
        try await call(envelope(infno, msgid: msgid, input: input))
    }

    func signIn() async throws {
        let response = try await call("9001", .object([("signIn", .object([("opter_no", .string("0321")), ("mac", .string("")), ("ip", .string(""))]))]))
        signNo = response["output"]!["signinoutb"]!["sign_no"]!.stringValue!
    }

    /// An admin route over HTTP: `GET /_ledger`, `POST /_faults`…
    func admin(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        let client = try PlatformHTTPClient(url: "http://127.0.0.1:\(port)\(path)", timeout: .seconds(5))
        let answer = try await client.send(method, body?.jsonBytes ?? [])
        await client.close()
        return try JSONValue.parse(answer.body)
    }
}

/// Test inputs in the platform's field names.
enum Inputs {
    static func data(_ fields: [(String, JSONValue)]) -> JSONValue { .object([("data", .object(fields))]) }

    static func feedetail(mdtrtId: String, psnNo: String, batch: String, lines: [(sn: String, code: String, amount: String)]) -> JSONValue {
        .object([("feedetail", .array(lines.map { line in
            .object([
                ("feedetl_sn", .string(line.sn)), ("mdtrt_id", .string(mdtrtId)), ("psn_no", .string(psnNo)),
                ("chrg_bchno", .string(batch)), ("fee_ocur_time", .string("2025-01-15 10:00:00")),
                ("med_list_codg", .string(line.code)), ("medins_list_codg", .string(line.code)),
                ("det_item_fee_sumamt", .number(line.amount)), ("cnt", .number("1")), ("pric", .number(line.amount)),
            ])
        }))])
    }

    static func settle(psnNo: String, mdtrtId: String, batch: String, total: String) -> JSONValue {
        data([("psn_no", .string(psnNo)), ("mdtrt_cert_type", .string("02")), ("mdtrt_cert_no", .string("x")), ("med_type", .string("11")),
              ("medfee_sumamt", .number(total)), ("psn_setlway", .string("01")), ("mdtrt_id", .string(mdtrtId)),
              ("chrg_bchno", .string(batch)), ("insutype", .string("")), ("acct_used_flag", .string("0"))])
    }
}
