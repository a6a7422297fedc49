import Foundation
import Hummingbird
import MedBusHTTPServer

/// Reads a request body for an intake: the media type first (so an unsupported body is never
/// read), then the body itself up to the size limit.
struct HTTPBodyReader: Sendable {
    let maxBodyBytes: Int

    /// Why a body was not read; each maps to one HTTP status.
    enum Refusal: Error, Sendable {
        /// 415: the `Content-Type` (or its charset) is not one the route takes.
        case unsupportedMediaType
        /// 413: declared (`Content-Length`) or actual size over the limit.
        case tooLarge

        var reason: String {
            switch self {
            case .unsupportedMediaType: "unsupported content type"
            case .tooLarge: "body larger than the limit"
            }
        }
    }

    /// The body bytes, if the media type is one of `mediaTypes` (lower case, no parameters) and
    /// any `charset` parameter is UTF-8 (or, when `allowOtherCharsets`, anything: XML declares its
    /// own encoding).
    /// - Throws: `Refusal`, or the connection's error if the body cannot be read.
    func read(_ request: Request, accepting mediaTypes: Set<String>, allowOtherCharsets: Bool = false) async throws -> [UInt8] {
        guard let contentType = request.headers[.contentType], let type = HTTPContentType(contentType),
              mediaTypes.contains(type.name), allowOtherCharsets || type.isUTF8
        else { throw Refusal.unsupportedMediaType }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes { throw Refusal.tooLarge }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw Refusal.tooLarge
        }
    }
}
