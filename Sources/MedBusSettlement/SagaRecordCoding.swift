import Foundation
import MedBusCore

/// The saga record as the saga log stores it (`settlements.record`), written and read with
/// `JSONWriter`/`JSONParser` instead of Foundation's `JSONEncoder`: the record is stored at every
/// transition, and encoding it through `Codable` was the largest CPU cost of a settlement.
///
/// The shape is the one the synthesized `Codable` gave (same keys, dates as seconds since 2001,
/// amounts as numbers, absent optionals left out), so records written before still load, and the
/// platform's outputs keep their number text and member order. `request` is the one part still
/// encoded and decoded through its `Codable` conformance (it carries the HIS's fields and grows
/// with them), but only once per saga and process: `SagaRecord.requestJSON` keeps its encoding.
extension SagaRecord {
    /// The record's stored bytes.
    var storedBytes: [UInt8] {
        var fields: [(String, JSONValue)] = [("id", .string(id)), ("request", requestJSON), ("state", .string(state.rawValue))]
        func add(_ key: String, _ value: JSONValue?) { if let value { fields.append((key, value)) } }
        add("pending", pending.map { .object([("step", .string($0.step.rawValue)), ("msgid", .string($0.msgid)), ("topic", .string($0.topic)),
                                              ("payload", .string($0.payload)), ("attempt", .int($0.attempt))]) })
        add("msgids", .object(msgids.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.map(JSONValue.string))) }))
        add("person", person.map { person in
            var members: [(String, JSONValue)] = []
            for (key, value) in [("psnNo", person.psnNo), ("insutype", person.insutype), ("insuplcAdmdvs", person.insuplcAdmdvs),
                                 ("psnName", person.psnName), ("certno", person.certno)] {
                if let value { members.append((key, .string(value))) }
            }
            return .object(members)
        })
        add("registeredMdtrtId", registeredMdtrtId.map(JSONValue.string))
        add("preSettlement", preSettlement)
        add("settlement", settlement)
        add("reversalTarget", reversalTarget.map { .object([("msgid", .string($0.msgid)), ("infno", .string($0.infno))]) })
        add("settlementRounds", .int(settlementRounds))
        add("commercial", commercial.map { leg in
            var members: [(String, JSONValue)] = [("insurerCode", .string(leg.insurerCode)), ("claimId", .string(leg.claimId)),
                                                  ("claimed", .money(leg.claimed)), ("approved", .money(leg.approved)),
                                                  ("status", .string(leg.status.rawValue))]
            if let reason = leg.rejectReason { members.append(("rejectReason", .string(reason))) }
            members.append(("claimQueued", .bool(leg.claimQueued)))
            return .object(members)
        })
        add("compensation", .array(compensation.map { .string($0.rawValue) }))
        add("ending", ending.map { .string($0.rawValue) })
        add("failureReason", failureReason.map(JSONValue.string))
        add("errMsg", errMsg.map(JSONValue.string))
        add("result", result?.jsonValue)
        add("claimRecord", claimRecord)
        add("outputsPublished", .bool(outputsPublished))
        add("createdAt", Self.storedDate(createdAt))
        add("updatedAt", Self.storedDate(updatedAt))
        return JSONWriter.compact(.object(fields))
    }

    /// Reads a stored record (either encoding).
    /// - Throws: `SettlementError.store` naming the field that is missing or unreadable.
    init(stored bytes: [UInt8]) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw SettlementError.store("unreadable saga record (not JSON)") }
        let record = StoredFields(json, path: "")
        let requestJSON = try record.required("request")
        let request: SettlementRequest = try record.decoded("request", from: requestJSON)
        self.init(id: try record.string("id"), request: request, requestJSON: requestJSON, at: try record.date("createdAt"))
        state = try record.enumeration("state")
        if let pending = record.object("pending") {
            self.pending = PendingRequest(step: try pending.enumeration("step"), msgid: try pending.string("msgid"), topic: try pending.string("topic"),
                                          payload: try pending.string("payload"), attempt: try pending.int("attempt"))
        }
        if let msgids = record.object("msgids") {
            for (step, ids) in msgids.members { self.msgids[step] = try StoredFields(ids, path: "msgids.\(step)").strings() }
        }
        if let person = record.object("person") {
            self.person = Person(psnNo: person.optionalString("psnNo"), insutype: person.optionalString("insutype"),
                                 insuplcAdmdvs: person.optionalString("insuplcAdmdvs"), psnName: person.optionalString("psnName"),
                                 certno: person.optionalString("certno"))
        }
        registeredMdtrtId = record.optionalString("registeredMdtrtId")
        preSettlement = record.present("preSettlement")
        settlement = record.present("settlement")
        if let target = record.object("reversalTarget") {
            reversalTarget = ReversalTarget(msgid: try target.string("msgid"), infno: try target.string("infno"))
        }
        settlementRounds = try record.int("settlementRounds", default: 0)
        if let leg = record.object("commercial") {
            commercial = CommercialLeg(insurerCode: try leg.string("insurerCode"), claimId: try leg.string("claimId"), claimed: try leg.money("claimed"),
                                       approved: try leg.money("approved"), status: try leg.enumeration("status"),
                                       rejectReason: leg.optionalString("rejectReason"), claimQueued: try leg.bool("claimQueued", default: false))
        }
        if let steps = record.present("compensation") {
            compensation = try StoredFields(steps, path: "compensation").strings().map { raw in
                guard let step = SagaStep(rawValue: raw) else { throw SettlementError.store("unreadable saga record (field compensation)") }
                return step
            }
        }
        if record.present("ending") != nil { ending = try record.enumeration("ending") }
        failureReason = record.optionalString("failureReason")
        errMsg = record.optionalString("errMsg")
        if let result = record.object("result") { self.result = try SettlementResult(stored: result) }
        claimRecord = record.present("claimRecord")
        outputsPublished = try record.bool("outputsPublished", default: false)
        updatedAt = try record.date("updatedAt")
    }

    /// `request` as stored: its `Codable` encoding, made once per saga.
    static func storedRequest(_ request: SettlementRequest) throws -> JSONValue {
        do { return try JSONValue.parse([UInt8](JSONEncoder().encode(request))) } catch {
            throw SettlementError.store("cannot encode the settlement request: \(type(of: error))")
        }
    }

    /// A `Date` as `JSONEncoder` writes it by default (seconds since 2001-01-01, shortest exact form).
    private static func storedDate(_ date: Date) -> JSONValue { .number("\(date.timeIntervalSinceReferenceDate)") }
}

extension SettlementStatus {
    /// The status out of a stored record, reading only what a status shows (not the request: the
    /// hospital and charge batch come from their columns).
    init(stored bytes: [UInt8], fixmedinsCode: String, chrgBchno: String) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw SettlementError.store("unreadable saga record (not JSON)") }
        let record = StoredFields(json, path: "")
        let state: SettlementState = try record.enumeration("state")
        var result: SettlementResult?
        if state.isTerminal, let stored = record.object("result") { result = try SettlementResult(stored: stored) }
        self.init(id: try record.string("id"), fixmedinsCode: fixmedinsCode, chrgBchno: chrgBchno, state: state,
                  failureReason: record.optionalString("failureReason"), result: result,
                  createdAt: try record.date("createdAt"), updatedAt: try record.date("updatedAt"))
    }
}

extension SettlementResult {
    /// The result in a stored record (its `jsonValue`, or the earlier `Codable` form: the same keys).
    fileprivate init(stored result: StoredFields) throws {
        settlementId = try result.string("settlementId")
        chrgBchno = try result.string("chrg_bchno")
        status = try result.enumeration("status")
        encounterId = result.optionalString("encounterId")
        patientId = result.optionalString("patientId")
        fixmedinsCode = result.optionalString("fixmedins_code")
        failureReason = result.optionalString("failureReason")
        errMsg = result.optionalString("err_msg")
        setlinfo = result.present("setlinfo")
        setldetail = try result.present("setldetail").map { details in
            guard case .array(let items) = details else { throw SettlementError.store("unreadable saga record (field result.setldetail)") }
            return items
        }
        patientPayable = try result.present("patientPayable").map { _ in try result.money("patientPayable") }
        completedAt = result.optionalString("completedAt")
        if let leg = result.object("commercial") {
            commercial = Commercial(insurerCode: try leg.string("insurerCode"), claimId: leg.optionalString("claimId"), status: try leg.enumeration("status"),
                                    claimedAmount: try leg.present("claimedAmount").map { _ in try leg.money("claimedAmount") },
                                    approvedAmount: try leg.present("approvedAmount").map { _ in try leg.money("approvedAmount") },
                                    rejectReason: leg.optionalString("rejectReason"), claimQueued: try leg.present("claimQueued").map { _ in try leg.bool("claimQueued", default: false) })
        }
    }
}

/// The members of one stored object, read with errors that name the field (never its value).
fileprivate struct StoredFields {
    let value: JSONValue
    let path: String

    init(_ value: JSONValue, path: String) {
        self.value = value
        self.path = path
    }

    var members: [(String, JSONValue)] {
        if case .object(let members) = value { return members }
        return []
    }

    /// The member, nil when absent or null.
    func present(_ key: String) -> JSONValue? {
        guard let member = value[key], !member.isNull else { return nil }
        return member
    }

    func object(_ key: String) -> StoredFields? { present(key).map { StoredFields($0, path: name(key)) } }

    func required(_ key: String) throws -> JSONValue {
        guard let member = present(key) else { throw unreadable(key) }
        return member
    }

    func string(_ key: String) throws -> String {
        guard case .string(let text) = try required(key) else { throw unreadable(key) }
        return text
    }

    func optionalString(_ key: String) -> String? {
        if case .string(let text) = present(key) { return text }
        return nil
    }

    func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let member = present(key) else {
            if let fallback { return fallback }
            throw unreadable(key)
        }
        guard case .number(let text) = member, let number = Int(text) else { throw unreadable(key) }
        return number
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let member = present(key) else { return fallback }
        guard case .bool(let flag) = member else { throw unreadable(key) }
        return flag
    }

    func money(_ key: String) throws -> Money {
        guard case .number(let text) = try required(key), let amount = Money(text) else { throw unreadable(key) }
        return amount
    }

    func date(_ key: String) throws -> Date {
        guard case .number(let text) = try required(key), let seconds = Double(text) else { throw unreadable(key) }
        return Date(timeIntervalSinceReferenceDate: seconds)
    }

    func enumeration<T: RawRepresentable>(_ key: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: try string(key)) else { throw unreadable(key) }
        return value
    }

    /// An array of strings.
    func strings() throws -> [String] {
        guard case .array(let items) = value else { throw SettlementError.store("unreadable saga record (field \(path))") }
        return try items.map { item in
            guard case .string(let text) = item else { throw SettlementError.store("unreadable saga record (field \(path))") }
            return text
        }
    }

    /// A member decoded through its `Codable` conformance.
    func decoded<T: Decodable>(_ key: String, from member: JSONValue) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(member.jsonBytes)) } catch { throw unreadable(key) }
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func unreadable(_ key: String) -> SettlementError { .store("unreadable saga record (field \(name(key)))") }
}
