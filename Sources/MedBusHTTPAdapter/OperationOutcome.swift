import Foundation
import Hummingbird

/// A FHIR R4 `OperationOutcome`: the body of every FHIR error answer (and of the 201/200 answer,
/// as an `information` issue). `diagnostics` are written by MedBus, never copied from the request,
/// so they cannot carry patient data.
struct OperationOutcome: Sendable {
    enum Severity: String, Sendable { case fatal, error, warning, information }

    /// Codes from the FHIR IssueType value set (http://hl7.org/fhir/R4/valueset-issue-type.html).
    enum IssueType: String, Sendable {
        case invalid, structure, required, value, notSupported = "not-supported", tooLong = "too-long"
        case transient, exception, informational, forbidden
    }

    struct Issue: Sendable {
        var severity: Severity
        var code: IssueType
        var diagnostics: String
        /// FHIRPath of the offending element, e.g. `Bundle.entry[2].resource`.
        var expression: String?
    }

    var issues: [Issue]

    init(_ severity: Severity, _ code: IssueType, _ diagnostics: String, expression: String? = nil) {
        issues = [Issue(severity: severity, code: code, diagnostics: diagnostics, expression: expression)]
    }

    var json: [UInt8] {
        let object: [String: Any] = [
            "resourceType": "OperationOutcome",
            "issue": issues.map { issue -> [String: Any] in
                var entry: [String: Any] = ["severity": issue.severity.rawValue, "code": issue.code.rawValue, "diagnostics": issue.diagnostics]
                if let expression = issue.expression { entry["expression"] = [expression] }
                return entry
            },
        ]
        // Only strings and arrays built here: serialization cannot fail.
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    /// The HTTP answer carrying this outcome.
    func response(_ status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        Self.response(status, body: json, headers: headers)
    }

    static func response(_ status: HTTPResponse.Status, body: [UInt8], headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/fhir+json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
