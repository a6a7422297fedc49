import MedBusCore

/// How the admin API hides patient identifiers from roles without `patient-data`: a value keeps
/// its first two characters (`37***`), so an operator can tell rows apart without reading them.
/// Every view that reveals instead must be audited by its route (`trail.record(caller, …)`).
public enum PatientDataMask {
    /// Keys whose values identify a patient (or an encounter that leads to one) in the JSON the
    /// components keep: NHSA field names, canonical schema names, CAD event names.
    public static let identifierKeys: Set<String> = [
        "psn_no", "psn_name", "certno", "psn_cert_type", "mdtrt_cert_no", "mdtrt_id", "chrg_bchno", "setl_id", "brdy", "emp_name",
        "patientId", "encounterId", "name", "idNumber", "idCard", "phone", "callPhone", "mobile", "tel", "address", "addr",
    ]

    /// `value` as a role sees it: unchanged when `reveal`, else its first two characters and `***`.
    public static func mask(_ value: String?, reveal: Bool) -> String? {
        guard let value, !reveal else { return value }
        return value.count <= 2 ? "***" : "\(value.prefix(2))***"
    }

    /// `json` with the values of `identifierKeys` masked at any depth (strings and numbers alike), and
    /// every member of an object under one of `wholeObjects` (such as a CAD event's `patient`).
    public static func mask(_ json: JSONValue, reveal: Bool, wholeObjects: Set<String> = []) -> JSONValue {
        guard !reveal else { return json }
        return masked(json, everything: false, wholeObjects: wholeObjects)
    }

    private static func masked(_ json: JSONValue, everything: Bool, wholeObjects: Set<String>) -> JSONValue {
        switch json {
        case .object(let members):
            return .object(members.map { key, value in
                (key, masked(value, everything: everything || identifierKeys.contains(key) || wholeObjects.contains(key), wholeObjects: wholeObjects))
            })
        case .array(let items):
            return .array(items.map { masked($0, everything: everything, wholeObjects: wholeObjects) })
        case .string(let text) where everything:
            return .string(mask(text, reveal: false)!)
        case .number(let text) where everything:
            return .string(mask(text, reveal: false)!)
        default:
            return json
        }
    }
}
