import ArgumentParser
import Foundation
import MedBusCore
import MedBusHTTPClient

/// `medbus settle submit|status|cancel|list|reconcile`: the operator's and HIS's view of one-stop
/// settlement, through the settlement API of a running `medbus serve` (`--api`, default
/// http://127.0.0.1:8092). Prints the API's JSON; a problem answer becomes one `Error:` line.
struct SettleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Submit, inspect, cancel and reconcile settlements through a running `medbus serve` (or `medbus settle run`); run the orchestrator on its own.",
        subcommands: [SettleSubmitCommand.self, SettleStatusCommand.self, SettleCancelCommand.self, SettleListCommand.self, SettleReconcileCommand.self, SettleRunCommand.self]
    )
}

struct SettlementAPIOptions: ParsableArguments {
    @Option(help: "The settlement API of `medbus serve` (its --settlement-api address).")
    var api: String = "http://127.0.0.1:8092"

    /// Calls the API and returns the JSON body of a 2xx answer.
    /// - Throws: `CommandFailure` with the problem's detail (or the connection failure).
    func call(_ method: String, _ target: String, body: [UInt8] = [], timeout: Duration = .seconds(30)) async throws -> (status: Int, body: JSONValue) {
        let client: HTTPClient
        do { client = try HTTPClient(url: api.hasSuffix("/") ? api : api + "/") } catch { throw CommandFailure("--api: \(error)") }
        defer { Task { await client.close() } }
        let response: HTTPClientResponse
        do {
            response = try await client.send(HTTPClientRequest(method: method, target: target, headers: [("Content-Type", "application/json")], body: body),
                                             timeout: timeout)
        } catch {
            throw CommandFailure("settlement API \(api): \(error)")
        }
        guard let json = try? JSONValue.parse(response.body) else {
            throw CommandFailure("settlement API \(api) answered \(response.status) without JSON")
        }
        guard (200..<300).contains(response.status) else {
            throw CommandFailure("\(json["detail"]?.stringValue ?? "HTTP \(response.status)") (\(json["type"]?.stringValue?.split(separator: "/").last ?? "\(response.status)"))")
        }
        return (response.status, json)
    }
}

/// Pretty JSON on standard output, numbers exactly as the API wrote them (money keeps two decimals).
func printJSON(_ value: JSONValue) {
    print(JSONWriter.pretty(value))
}

struct SettleSubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a settlement request (settlement-request.schema.json); prints its status, or its result with --wait.",
        discussion: "Submitting the same (fixmedins_code, chrg_bchno) again answers the same settlement, never a second charge."
    )
    @OptionGroup var options: SettlementAPIOptions
    @Argument(help: "JSON file with the request ('-' reads standard input).")
    var file: String
    @Option(help: "Wait up to this long for the final result, e.g. 5s (at most 60s).")
    var wait: String?

    func run() async throws {
        let data: Data
        if file == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else {
            guard let contents = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
            data = contents
        }
        let target = "/v1/settlements" + (wait.map { "?wait=\($0)" } ?? "")
        let answer = try await options.call("POST", target, body: [UInt8](data), timeout: .seconds(75))
        printJSON(answer.body)
    }
}

struct SettleStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "A settlement's state, and its result once final.")
    @OptionGroup var options: SettlementAPIOptions
    @Argument(help: "Settlement id (stl-…).") var id: String

    func run() async throws {
        printJSON(try await options.call("GET", "/v1/settlements/\(Self.escaped(id))").body)
    }

    static func escaped(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? text }
}

struct SettleCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a completed settlement: 2208 and the commercial reversal; the settlement ends cancelled.")
    @OptionGroup var options: SettlementAPIOptions
    @Argument(help: "Settlement id (stl-…).") var id: String

    func run() async throws {
        printJSON(try await options.call("POST", "/v1/settlements/\(SettleStatusCommand.escaped(id))/cancel").body)
    }
}

struct SettleListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Settlements, newest first: id, state, hospital, charge batch, patient payable.")
    @OptionGroup var options: SettlementAPIOptions
    @Option(help: "Only settlements in this state (received, person-lookup, …, completed, failed, cancelled).") var state: String?
    @Option(help: "At most this many.") var limit: Int = 50
    @Flag(help: "Print the JSON instead of a table.") var json = false

    func run() async throws {
        var query = "?limit=\(limit)"
        if let state { query += "&state=\(state)" }
        let body = try await options.call("GET", "/v1/settlements\(query)").body
        if json { return printJSON(body) }
        print("id\tstate\tfixmedins_code\tchrg_bchno\tpatientPayable\tupdatedAt")
        for item in body["settlements"]?.arrayValue ?? [] {
            let payable = item["result"]?["patientPayable"]?.stringValue ?? "-"
            print([item["settlementId"], item["state"], item["fixmedins_code"], item["chrg_bchno"]].map { $0?.stringValue ?? "" }.joined(separator: "\t")
                + "\t\(payable)\t\(item["updatedAt"]?.stringValue ?? "")")
        }
    }
}

struct SettleReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare MedBus's ledger of one day with the insurer's totals (3201), per hospital and insurance type; exit 1 on a difference."
    )
    @OptionGroup var options: SettlementAPIOptions
    @Option(help: "The settlement day, yyyy-MM-dd (China time, the platform's setl_time).") var date: String
    @Option(help: "The insurer (nhsa: the national platform answers 3201).") var insurer: String = "nhsa"

    func run() async throws {
        let body = try await options.call("GET", "/v1/reconciliation?date=\(date)&insurer=\(insurer)", timeout: .seconds(120)).body
        for group in body["groups"]?.arrayValue ?? [] {
            let ours = group["medbus"]
            let head = "\(group["fixmedins_code"]?.stringValue ?? "") insutype \(group["insutype"]?.stringValue ?? ""): "
                + "\(ours?["fixmedins_setl_cnt"]?.stringValue ?? "0") settlements, medfee_sumamt \(ours?["medfee_sumamt"]?.stringValue ?? "0"), "
                + "fund_pay_sumamt \(ours?["fund_pay_sumamt"]?.stringValue ?? "0")"
            print(head + (group["agreed"] == .bool(true) ? " — agrees" : " — DIFFERS"))
            for difference in group["differences"]?.arrayValue ?? [] { print("  \(difference.stringValue ?? "")") }
        }
        if body["groups"]?.arrayValue?.isEmpty ?? true { print("no settlements on \(date)") }
        if body["agreed"] != .bool(true) { throw ExitCode.failure }
    }
}
