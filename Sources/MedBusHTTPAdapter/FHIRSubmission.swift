import Foundation

/// What MedBus needs from a posted FHIR R4 resource or Bundle, after checking its structure.
///
/// Validation is structural only (JSON object, `resourceType`, Bundle `type`, entries), enough to
/// refuse what no consumer could read; profile validation belongs downstream.
struct FHIRSubmission: Sendable, Equatable {
    var resourceType: String
    /// `Bundle.type`, for a Bundle.
    var bundleType: String?
    /// `Resource.id`, when the sender gave one.
    var logicalId: String?
    /// `meta.versionId`, distinguishing two versions of one resource.
    var versionId: String?
    /// `Bundle.identifier` as `system|value` (system may be empty), for a Bundle that has one.
    var bundleIdentifier: String?
    /// The patient the content is about (Kafka key): `Patient.id`, else `Patient.identifier[0].value`,
    /// else the id in `Encounter.subject.reference`.
    var patientKey: String?

    /// The R4 `Bundle.type` codes (http://hl7.org/fhir/R4/valueset-bundle-type.html).
    static let bundleTypes: Set<String> = [
        "document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection",
    ]

    /// Why a body was refused. Texts name elements, never their values.
    struct Invalid: Error, Sendable, Equatable {
        var code: OperationOutcome.IssueType
        var diagnostics: String
        var expression: String?
    }

    /// - Parameter pathType: the `{resourceType}` of `POST /fhir/{resourceType}`; nil for `POST /fhir`,
    ///   which takes only a Bundle.
    /// - Throws: `Invalid` with the IssueType code to answer.
    init(json bytes: [UInt8], pathType: String?) throws(Invalid) {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(bytes)) } catch {
            // The parser's message can quote the body, so it is not passed on.
            throw Invalid(code: .structure, diagnostics: "body is not valid JSON")
        }
        guard let resource = parsed as? [String: Any] else { throw Invalid(code: .structure, diagnostics: "body is not a JSON object") }
        let type = try Self.resourceType(of: resource, at: "resourceType")
        if let pathType {
            guard Self.isTypeName(pathType) else { throw Invalid(code: .notSupported, diagnostics: "the path does not name a resource type") }
            guard pathType == type else { throw Invalid(code: .invalid, diagnostics: "resourceType does not match the resource type in the path", expression: "resourceType") }
        } else if type != "Bundle" {
            throw Invalid(code: .notSupported, diagnostics: "only a Bundle may be posted to the base; post other resources to /fhir/{resourceType}", expression: "resourceType")
        }
        resourceType = type
        logicalId = Self.nonEmpty(resource["id"])
        versionId = Self.nonEmpty((resource["meta"] as? [String: Any])?["versionId"])

        var contained: [[String: Any]] = [resource]
        if type == "Bundle" {
            guard let bundleType = Self.nonEmpty(resource["type"]) else { throw Invalid(code: .required, diagnostics: "Bundle.type is missing", expression: "Bundle.type") }
            guard Self.bundleTypes.contains(bundleType) else { throw Invalid(code: .value, diagnostics: "Bundle.type is not an R4 bundle type", expression: "Bundle.type") }
            self.bundleType = bundleType
            if let identifier = resource["identifier"] as? [String: Any], let value = Self.nonEmpty(identifier["value"]) {
                bundleIdentifier = "\(Self.nonEmpty(identifier["system"]) ?? "")|\(value)"
            }
            contained = try Self.entryResources(of: resource)
        }
        patientKey = Self.patientKey(in: contained)
    }

    /// The resources of `Bundle.entry`, each checked for a `resourceType`. An entry without a
    /// resource is allowed (a transaction DELETE has none).
    private static func entryResources(of bundle: [String: Any]) throws(Invalid) -> [[String: Any]] {
        guard let rawEntries = bundle["entry"] else { return [] }
        guard let entries = rawEntries as? [Any] else { throw Invalid(code: .structure, diagnostics: "Bundle.entry is not an array", expression: "Bundle.entry") }
        var resources: [[String: Any]] = []
        for (index, rawEntry) in entries.enumerated() {
            let path = "Bundle.entry[\(index)]"
            guard let entry = rawEntry as? [String: Any] else { throw Invalid(code: .structure, diagnostics: "\(path) is not an object", expression: path) }
            guard let rawResource = entry["resource"] else { continue }
            guard let resource = rawResource as? [String: Any] else { throw Invalid(code: .structure, diagnostics: "\(path).resource is not an object", expression: "\(path).resource") }
            _ = try resourceType(of: resource, at: "\(path).resource.resourceType")
            resources.append(resource)
        }
        return resources
    }

    private static func resourceType(of resource: [String: Any], at path: String) throws(Invalid) -> String {
        guard let type = nonEmpty(resource["resourceType"]) else { throw Invalid(code: .required, diagnostics: "\(path) is missing", expression: path) }
        guard isTypeName(type) else { throw Invalid(code: .value, diagnostics: "\(path) is not a resource type name", expression: path) }
        return type
    }

    private static func patientKey(in resources: [[String: Any]]) -> String? {
        for patient in resources where patient["resourceType"] as? String == "Patient" {
            if let id = nonEmpty(patient["id"]) { return id }
            if let first = (patient["identifier"] as? [Any])?.first as? [String: Any], let value = nonEmpty(first["value"]) { return value }
        }
        for encounter in resources where encounter["resourceType"] as? String == "Encounter" {
            guard let reference = nonEmpty((encounter["subject"] as? [String: Any])?["reference"]) else { continue }
            // `Patient/123` → `123`; a `urn:uuid:` reference is kept whole.
            return reference.hasPrefix("Patient/") ? String(reference.dropFirst("Patient/".count)) : reference
        }
        return nil
    }

    /// FHIR resource type names: an upper-case letter, then letters (checked before echoing or routing on it).
    private static func isTypeName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("A"..."Z").contains(first), text.count <= 64 else { return false }
        return text.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("a"..."z").contains($0) }
    }

    private static func nonEmpty(_ value: Any?) -> String? {
        guard let text = value as? String, !text.isEmpty else { return nil }
        return text
    }
}
