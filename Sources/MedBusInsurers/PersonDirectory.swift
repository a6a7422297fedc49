import Foundation
import MedBusCore

/// A demo insured person: what 1101 answers and what the policy needs.
public struct InsuredPerson: Sendable, Equatable {
    public var certno: String
    public var psnNo: String
    public var psnName: String
    public var insutype: String
    public var psnType: String
    public var insuplcAdmdvs: String
    public var balance: Money
    /// Eligible for medical assistance (e.g. 低保, 特困).
    public var assistance: Bool

    public init(certno: String, psnNo: String, psnName: String, insutype: String, psnType: String = "1", insuplcAdmdvs: String = "370100", balance: Money = .zero, assistance: Bool = false) {
        self.certno = certno
        self.psnNo = psnNo
        self.psnName = psnName
        self.insutype = insutype
        self.psnType = psnType
        self.insuplcAdmdvs = insuplcAdmdvs
        self.balance = balance
        self.assistance = assistance
    }
}

/// The simulator's persons: those of a persons file, and — when `synthesizeUnknown` is on (the
/// default without a file) — a deterministic person for any other certificate number, so a demo
/// or a load test can use any certno without a file listing each one.
///
/// Synthesized persons: `psn_no` = `SIM` + certno; the last character of the certno decides the
/// rest — even digit: employee (310), odd digit or X: resident (390); 9 or X: eligible for medical
/// assistance; `insuplc_admdvs` = the certno's first six characters.
public struct PersonDirectory: Sendable {
    public static let synthesizedPrefix = "SIM"

    private var byCertno: [String: InsuredPerson] = [:]
    private var byPsnNo: [String: InsuredPerson] = [:]
    public var synthesizeUnknown: Bool

    public init(persons: [InsuredPerson] = [], synthesizeUnknown: Bool = true) {
        self.synthesizeUnknown = synthesizeUnknown
        for person in persons {
            byCertno[person.certno] = person
            byPsnNo[person.psnNo] = person
        }
    }

    public func person(certno: String) -> InsuredPerson? {
        byCertno[certno] ?? (synthesizeUnknown ? Self.synthesize(certno: certno) : nil)
    }

    public func person(psnNo: String) -> InsuredPerson? {
        if let known = byPsnNo[psnNo] { return known }
        guard synthesizeUnknown, psnNo.hasPrefix(Self.synthesizedPrefix) else { return nil }
        return Self.synthesize(certno: String(psnNo.dropFirst(Self.synthesizedPrefix.count)))
    }

    static func synthesize(certno: String) -> InsuredPerson? {
        guard let last = certno.last, certno.count >= 6, certno.count <= 27 else { return nil }
        let digit = last.wholeNumberValue ?? (last == "X" || last == "x" ? 10 : nil)
        guard let digit else { return nil }
        return InsuredPerson(
            certno: certno, psnNo: synthesizedPrefix + certno, psnName: "模拟参保人",
            insutype: digit % 2 == 0 && digit != 10 ? "310" : "390",
            psnType: digit % 2 == 0 && digit != 10 ? "11" : "1",
            insuplcAdmdvs: String(certno.prefix(6)), assistance: digit >= 9
        )
    }

    /// - Throws: `InsurerConfigError` at `file:line:column`.
    public static func load(path: String) throws -> PersonDirectory {
        let root = try YAMLFields.load(path: path)
        try root.checkKeys(["persons", "synthesizeUnknown"])
        var persons: [InsuredPerson] = []
        for item in try root.required("persons").items() {
            try item.checkKeys(["certno", "psn_no", "psn_name", "insutype", "psn_type", "insuplc_admdvs", "balc", "assistance"])
            persons.append(InsuredPerson(
                certno: try item.required("certno").string(), psnNo: try item.required("psn_no").string(),
                psnName: try item.required("psn_name").string(), insutype: try item.required("insutype").string(),
                psnType: try item.child("psn_type")?.string() ?? "1", insuplcAdmdvs: try item.child("insuplc_admdvs")?.string() ?? "370100",
                balance: try item.child("balc")?.money() ?? .zero, assistance: try item.child("assistance")?.bool() ?? false
            ))
        }
        return PersonDirectory(persons: persons, synthesizeUnknown: try root.child("synthesizeUnknown")?.bool() ?? false)
    }
}
