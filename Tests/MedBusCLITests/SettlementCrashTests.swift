import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MedBusCore
import MedBusKafka
import MedBusTestSupport
import XCTest

/// Crash safety of one-stop settlement (issue 5): the orchestrator process (`medbus settle run`:
/// saga log, NHSA insurer adapter, settlement API) is killed with SIGKILL again and again while
/// settlements stream in, always while sagas stand at every step (1101, 2201/2401, 2204, 2206,
/// 2207, commercial claim, result not yet published). The reference insurers run in processes of
/// their own and keep their ledgers; the cluster is embedded in the test process.
///
/// After the last restart: every visit has exactly one settlement, and every record of it on
/// `settlement.results` is the same completed result (a result committed just before a kill may be
/// published again; consumers key on the settlement id); its shares add up to the bill exactly; the
/// platform's ledger holds exactly one standing 2207 (2304 for an admission) per visit, the one the result names, and none
/// without a result (reversed settlements are counted); the commercial book holds one claim per visit
/// with a commercial share, claimed under one msgid, approved as the result says.
///
/// CI runs 200 settlements and 10 kills (about 2 minutes); `MEDBUS_SETTLE_KILL_SETTLEMENTS=2000
/// MEDBUS_SETTLE_KILLS=50` is the full run of the issue.
final class SettlementCrashTests: XCTestCase {
    static let topics = ["settlement.requests", "settlement.results", "dlq.settlement", "insurer.nhsa.requests", "insurer.nhsa.replies",
                         "insurer.hmb.requests", "insurer.hmb.replies", "settlement.claims.hmb"]

    func testOrchestratorKilledAtEveryStepSettlesEachVisitOnce() async throws {
        let environment = ProcessInfo.processInfo.environment
        let total = Int(environment["MEDBUS_SETTLE_KILL_SETTLEMENTS"] ?? "") ?? 200
        let kills = Int(environment["MEDBUS_SETTLE_KILLS"] ?? "") ?? 10
        let started = Date()
        let directory = temporaryDirectory()
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: 6, replicationFactor: 1) }
        let kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        let policies = packageRoot.appendingPathComponent("Adapters/insurers").path

        let nhsa = try MedBusProcess(["simulate", "nhsa", "--listen", "127.0.0.1:0", "--policy", policies + "/policy-shandong-demo.yaml"])
        defer { nhsa.signal(SIGKILL) }
        try nhsa.waitForOutput { $0.contains("listening on http://") }
        let platformURL = try XCTUnwrap(nhsa.stdout.split(separator: " ").last { $0.hasPrefix("http://") }).trimmingCharacters(in: .whitespacesAndNewlines)
        let ledgerFile = directory + "/hmb-ledger.json"
        let commercial = try MedBusProcess(["simulate", "commercial", "--brokers", cluster.bootstrapServers, "--kafka-option", "session.timeout.ms=6000",
                                            "--insurer", "hmb", "--policy", policies + "/policy-huiminbao-demo.yaml", "--ledger", ledgerFile])
        defer { commercial.signal(SIGKILL) }
        try commercial.waitForOutput { $0.contains("answering insurer.hmb.requests") }

        let manifest = directory + "/insurer-nhsa.yaml"
        let template = try String(contentsOfFile: policies + "/insurer-nhsa.yaml", encoding: .utf8)
        try template.replacingOccurrences(of: "http://127.0.0.1:8091/fsi/api/rsfComIfsService/callService", with: platformURL)
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        let sagaLog = directory + "/saga"
        let orchestratorArguments = ["settle", "run", "--brokers", cluster.bootstrapServers, "--data-dir", sagaLog, "--nhsa-adapter", manifest,
                                     "--commercial-insurer", "hmb", "--settlement-api", "127.0.0.1:0",
                                     "--kafka-option", "session.timeout.ms=3000", "--kafka-option", "heartbeat.interval.ms=500", "--kafka-option", "fetch.wait.max.ms=10"]

        var generator = SeededGenerator(seed: 5)
        let visits = (0..<total).map { CrashVisit.make($0, generator: &generator) }
        let producer = try KafkaProducer(config: kafka)
        var submitted = 0
        func submit(upTo count: Int) async throws {
            let batch = visits[submitted..<min(count, total)].map {
                KafkaProducerMessage(topic: "settlement.requests", key: $0.chrgBchno, value: $0.json)
            }
            let reports = try await producer.sendBatch(Array(batch))
            XCTAssertTrue(reports.allSatisfy { $0.error == nil })
            submitted = min(count, total)
        }

        // Requests arrive in kills + 1 waves, each while the orchestrator is down or busy. Each kill
        // aims at one step in turn: it comes once this run has finished some settlements and a saga
        // stands at that step (read from the saga log just before), or after 15 s anyway.
        let targets = ["person-lookup/1101", "fee-upload/2204", "pre-settled/2206", "settled/2207", "commercial-claim/claim", "registration/2201"]
        let wave = (total + kills) / (kills + 1)
        try await submit(upTo: wave)
        var orchestrator = try MedBusProcess(orchestratorArguments)
        var hits: [String: Int] = [:]
        for kill in 1...kills {
            try orchestrator.waitForOutput { $0.contains("Settlement API listening") }
            let finishedBefore = try Self.sagaStates(sagaLog)["finished", default: 0]
            let deadline = Date().addingTimeInterval(30)
            while try Self.sagaStates(sagaLog)["finished", default: 0] < finishedBefore + max(1, wave / 3), Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            if kill % 2 == 0 { try await submit(upTo: submitted + wave) }
            let target = targets[kill % targets.count]
            var standing = try Self.sagaStates(sagaLog)
            let aim = Date().addingTimeInterval(15)
            while standing[target, default: 0] == 0, Date() < aim {
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...50, using: &generator)))
                standing = try Self.sagaStates(sagaLog)
            }
            orchestrator.signal(SIGKILL)
            XCTAssertEqual(orchestrator.wait(timeout: 10), SIGKILL)
            for (step, count) in standing where step != "finished" { hits[step, default: 0] += count }
            if kill % 2 == 1 { try await submit(upTo: submitted + wave) }
            orchestrator = try MedBusProcess(orchestratorArguments)
        }
        try await submit(upTo: total)
        defer { orchestrator.signal(SIGKILL) }
        let deadline = Date().addingTimeInterval(Double(total) / 5 + 60)
        while try Self.sagaStates(sagaLog)["finished", default: 0] < total, Date() < deadline {
            try await Task.sleep(for: .milliseconds(250))
        }
        let states = try Self.sagaStates(sagaLog)
        XCTAssertEqual(states["finished"], total, "sagas not finished: \(states); orchestrator: \(orchestrator.stderr.suffix(3000))")
        let runTime = Date().timeIntervalSince(started)

        // settlement.results: one settlement per visit, every copy of its result the same completed one.
        let records = try await KafkaTopicReader.read(config: kafka, topic: "settlement.results", since: started.addingTimeInterval(-60))
        var results: [String: [String: JSONValue]] = [:]   // chrg_bchno → settlementId → result
        var copies = 0
        for record in records {
            let result = try JSONValue.parse(record.value ?? [])
            let batch = try XCTUnwrap(result["chrg_bchno"]?.stringValue), id = try XCTUnwrap(result["settlementId"]?.stringValue)
            if let earlier = results[batch]?[id] {
                copies += 1
                if earlier != result {
                    func keys(_ value: JSONValue) -> [String] { if case .object(let members) = value { members.map(\.0) } else { [] } }
                    let fields = Set(keys(earlier) + keys(result)).sorted().filter { earlier[$0] != result[$0] }
                    XCTFail("\(id) published twice with different results: " + fields.map {
                        "\($0): \(earlier[$0]?.jsonText ?? "-") then \(result[$0]?.jsonText ?? "-")" }.joined(separator: "; "))
                }
            }
            results[batch, default: [:]][id] = result
        }
        var byBatch: [String: JSONValue] = [:]
        for visit in visits {
            guard let settlements = results[visit.chrgBchno], settlements.count == 1, let result = settlements.first?.value else {
                XCTFail("\(visit.chrgBchno): \(results[visit.chrgBchno]?.count ?? 0) settlements on settlement.results")
                continue
            }
            byBatch[visit.chrgBchno] = result
            XCTAssertEqual(result["status"]?.stringValue, "settled", "\(visit.chrgBchno): \(result["failureReason"]?.stringValue ?? "")")
            Self.checkShares(result, visit: visit)
        }

        // The platform's ledger: one standing 2207 / 2304 per visit, the one the result names. By
        // visit id (mdtrt_id): an inpatient 2304 settles the admission and names no charge batch.
        let (ledgerData, _) = try await URLSession.shared.data(from: URL(string: platformURL.replacingOccurrences(
            of: "/fsi/api/rsfComIfsService/callService", with: "/_ledger"))!)
        let entries = try XCTUnwrap(try JSONValue.parse([UInt8](ledgerData))["settlements"]?.arrayValue)
        var standing: [String: [String]] = [:]
        var reversed = 0
        for entry in entries {
            let visitID = entry["mdtrt_id"]?.stringValue ?? ""
            switch entry["status"]?.stringValue {
            case "settled": standing[visitID, default: []].append(entry["setl_id"]?.stringValue ?? "")
            case "reversed": reversed += 1
            default: XCTFail("\(visitID): platform settlement \(entry["status"]?.stringValue ?? "") (nothing was cancelled)")
            }
        }
        for visit in visits {
            let visitID = byBatch[visit.chrgBchno]?["setlinfo"]?["mdtrt_id"]?.stringValue ?? ""
            let setlIDs = standing.removeValue(forKey: visitID) ?? []
            XCTAssertEqual(setlIDs.count, 1, "\(visit.chrgBchno): \(setlIDs.count) standing settlements of visit \(visitID) on the platform")
            let named = byBatch[visit.chrgBchno]?["setlinfo"]?["setl_id"]?.stringValue
            XCTAssertEqual(setlIDs.first, named, "\(visit.chrgBchno): the result names another settlement than the platform's")
        }
        XCTAssertTrue(standing.isEmpty, "platform settlements of visits never submitted: \(standing.keys.sorted())")

        // The commercial book (written when the simulator stops): one claim per visit with a share.
        commercial.signal(SIGTERM)
        XCTAssertEqual(commercial.wait(timeout: 30), 0, commercial.stderr.suffix(2000).description)
        let book = try JSONValue.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: ledgerFile))))
        var claims: [String: JSONValue] = [:]
        for claim in try XCTUnwrap(book["claims"]?.arrayValue) { claims[claim["claimId"]?.stringValue ?? ""] = claim }
        for visit in visits {
            guard let leg = byBatch[visit.chrgBchno]?["commercial"], let claimID = leg["claimId"]?.stringValue else {
                if visit.commercial, let result = byBatch[visit.chrgBchno], Self.fen(result["setlinfo"], "psn_part_amt") > 0 {
                    XCTFail("\(visit.chrgBchno): a commercial visit with a patient share has no commercial leg")
                }
                continue
            }
            guard let claim = claims.removeValue(forKey: claimID) else {
                XCTAssertEqual(leg["status"]?.stringValue, "approved", "\(visit.chrgBchno): \(leg.jsonText)")
                XCTAssertEqual(Self.fen(leg, "claimedAmount"), 0, "\(visit.chrgBchno): claimed but not in the insurer's book")
                continue
            }
            XCTAssertEqual(claim["claimMsgids"]?.arrayValue?.count, 1, "\(visit.chrgBchno): claimed twice: \(claim["claimMsgids"]?.jsonText ?? "")")
            XCTAssertEqual(claim["reversed"], .bool(false))
            XCTAssertEqual(Self.fen(claim, "approvedAmount"), Self.fen(leg, "approvedAmount"), "\(visit.chrgBchno): book and result differ")
        }
        XCTAssertTrue(claims.isEmpty, "claims in the insurer's book without a settlement result: \(claims.keys.sorted())")

        let report = hits.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print("settlement crash run: \(total) settlements, \(kills) kills in \(Int(runTime)) s; sagas standing at each kill, by step: \(report); "
            + "platform 2207s reversed and re-settled: \(reversed); result records published again after a kill: \(copies)")
        // Every step of the forward path stood when some kill came.
        for step in ["person-lookup/1101", "fee-upload/2204", "pre-settled/2206", "settled/2207", "commercial-claim/claim"] {
            XCTAssertGreaterThan(hits[step, default: 0], 0, "no kill while a saga stood at \(step): \(report)")
        }
    }

    /// The shares of a completed result add up to the visit's bill, in fen: funds (each
    /// fund_pay_type line), hospital, patient (commercial included), and the patient's cash.
    static func checkShares(_ result: JSONValue, visit: CrashVisit) {
        let setlinfo = result["setlinfo"]
        let funds = fen(setlinfo, "fund_pay_sumamt"), patient = fen(setlinfo, "psn_part_amt"), hospital = fen(setlinfo, "hosp_part_amt")
        XCTAssertEqual(fen(setlinfo, "medfee_sumamt"), visit.totalFen, visit.chrgBchno)
        XCTAssertEqual(funds + hospital + patient, visit.totalFen, "\(visit.chrgBchno): shares do not add up")
        let lines = (result["setldetail"]?.arrayValue ?? []).map { fen($0, "fund_payamt") }.reduce(0, +)
        XCTAssertEqual(lines, funds, "\(visit.chrgBchno): fund_pay_type lines do not add up to fund_pay_sumamt")
        let approved = fen(result["commercial"], "approvedAmount")
        XCTAssertLessThanOrEqual(approved, patient, visit.chrgBchno)
        let cash = setlinfo?["psn_cash_pay"] == nil ? patient : fen(setlinfo, "psn_cash_pay")
        XCTAssertEqual(fen(result, "patientPayable") + approved, cash, "\(visit.chrgBchno): patient payable")
    }

    /// A money field in fen (zero when absent), read exactly as the JSON wrote it.
    static func fen(_ object: JSONValue?, _ field: String) -> Int64 { object?[field]?.moneyValue?.fen ?? 0 }

    /// Sagas by "state/step" in the saga log (read-only, beside the running orchestrator);
    /// "finished": final and published.
    static func sagaStates(_ directory: String) throws -> [String: Int] {
        let path = directory + "/settlement.sqlite"
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let output = try runTool("/usr/bin/python3", ["-c", """
            import json, sqlite3, sys
            db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)
            rows = db.execute("SELECT CASE WHEN needs_work = 0 THEN 'finished' WHEN step IS NOT NULL THEN state || '/' || step WHEN state IN ('completed', 'failed', 'cancelled') THEN state || '/result' ELSE state END, count(*) FROM settlements GROUP BY 1").fetchall()
            print(json.dumps(dict(rows)))
            """, path])
        return try JSONDecoder().decode([String: Int].self, from: Data(output.utf8))
    }
}

/// One settlement request of the crash run: hospital, employee/resident, assistance,
/// outpatient/inpatient, registered by the HIS or not (2201/2401 by the saga), with or without a
/// commercial policy; amounts in fen.
struct CrashVisit {
    var chrgBchno: String
    var json: String
    var totalFen: Int64
    var commercial: Bool

    static func make(_ index: Int, generator: inout SeededGenerator) -> CrashVisit {
        let run = "K\(ProcessInfo.processInfo.processIdentifier)"
        let hospital = ["H37010200001", "H37010200002", "H37010200003"][index % 3]
        let lastDigit = [0, 1, 9, 2, 9, 7][index % 6]   // synthesized persons: even employee, odd resident, 9 assistance
        let certno = String(format: "37%010d%05d", index, Int.random(in: 0...99_999, using: &generator)) + "\(lastDigit)"
        let inpatient = index % 4 == 3
        let commercial = index % 3 != 1
        var total: Int64 = 0
        let lines = (0..<Int.random(in: 1...4, using: &generator)).map { line in
            let code = ["XA01", "XB02", "ZC03", "XB04"][Int.random(in: 0...3, using: &generator)]
            let fen = index % 5 == 4 ? Int64.random(in: 500_000...2_000_000, using: &generator) : Int64.random(in: 1...300_000, using: &generator)
            total += fen
            let amount = "\(fen / 100).\(String(format: "%02d", fen % 100))"
            return """
                {"feedetl_sn":"\(line + 1)","medins_list_codg":"M\(code)","med_list_codg":"\(code)\(line)","cnt":1,"pric":\(amount),\
                "det_item_fee_sumamt":\(amount),"fee_ocur_time":"2025-01-15T10:00:00+08:00"}
                """
        }
        let batch = "CB-\(run)-\(index)"
        var fields = [
            "\"chrg_bchno\":\"\(batch)\"", "\"encounterId\":\"ENC-\(index)\"", "\"patientId\":\"PAT-\(index)\"", "\"fixmedins_code\":\"\(hospital)\"", "\"mdtrt_cert_type\":\"02\"", "\"mdtrt_cert_no\":\"\(certno)\"",
            "\"med_type\":\"\(inpatient ? "21" : "11")\"", "\"feedetail\":[\(lines.joined(separator: ","))]",
        ]
        if index % 2 == 1 { fields.append("\"mdtrt_id\":\"MDT-\(run)-\(index)\"") }
        if commercial { fields.append("\"commercial\":{\"insurerCode\":\"hmb\",\"policyNo\":\"HMB-\(index)\"}") }
        return CrashVisit(chrgBchno: batch, json: "{" + fields.joined(separator: ",") + "}", totalFen: total, commercial: commercial)
    }
}

/// Deterministic amounts and kill moments for a given seed (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
