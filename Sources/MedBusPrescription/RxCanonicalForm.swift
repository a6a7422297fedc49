import MedBusCore

/// The bytes a prescription's SM3 digest and SM2 signature are computed over, so that a pharmacy can
/// recompute them from the `prescription` object it receives:
///
/// - compact JSON (no whitespace), UTF-8, strings escaped only where JSON requires it (`"`, `\`, control
///   characters; `\n` `\r` `\t` short forms, others `\u00XX` lower-case hex), non-ASCII written as is;
/// - object members sorted by the UTF-8 bytes of their names, at every depth; array order kept;
/// - numbers written as MedBus wrote them (quantities in shortest decimal form: `6`, `0.5`).
///
/// Every `prescription` MedBus sends is already in this form, so its exact bytes in a response or
/// record are the signed bytes; a client that re-serialises it must apply the same rules.
public enum RxCanonicalForm {
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        JSONWriter.compact(sorted(value))
    }

    static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            .object(members.map { ($0.0, sorted($0.1)) }.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) })
        case .array(let items): .array(items.map(sorted))
        default: value
        }
    }
}
