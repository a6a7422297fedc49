import Foundation
import Hummingbird

/// An RFC 9457 problem (`application/problem+json`): every error the admin API answers with.
public struct Problem: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// A stable, machine-readable kind, e.g. `invalid-token`; the `type` URI ends with it.
    public var kind: String
    public var title: String
    public var detail: String

    public init(_ status: HTTPResponse.Status, kind: String, title: String, detail: String) {
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
    }

    public static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, kind: "unauthorized", title: "Authentication required", detail: detail)
    }

    public static func forbidden(_ role: AdminRole, _ permission: AdminPermission) -> Problem {
        Problem(.forbidden, kind: "forbidden", title: "Not allowed for this role",
                detail: "role '\(role.rawValue)' lacks the '\(permission.rawValue)' permission")
    }

    public static func badRequest(_ detail: String) -> Problem {
        Problem(.badRequest, kind: "bad-request", title: "Invalid request", detail: detail)
    }

    public static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, kind: "not-found", title: "Not found", detail: detail)
    }

    public static func unavailable(_ detail: String) -> Problem {
        Problem(.serviceUnavailable, kind: "unavailable", title: "A dependency is unavailable", detail: detail)
    }

    public static let mediaType = "application/problem+json"

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: [String: Any] = [
            "type": "https://medbus.invalid/problems/\(kind)", "title": title, "status": Int(status.code),
            "detail": detail, "instance": request.uri.path,
        ]
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        var headers = HTTPFields()
        headers[.contentType] = Self.mediaType
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"medbus\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
