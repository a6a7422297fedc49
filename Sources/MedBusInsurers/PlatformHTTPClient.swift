import MedBusHTTPClient
import MedBusTLS
import NIOHTTP1

/// The platform endpoint as the adapter sees it: JSON bodies, and failures split into "nothing
/// was sent" (safe to retry) and "the outcome is unknown" (never blindly retried: the platform
/// may have settled).
final class PlatformHTTPClient: Sendable {
    enum Failure: Error, CustomStringConvertible {
        /// Nothing was sent: safe to try again.
        case cannotConnect(String)
        /// The request may have reached the platform: its outcome is unknown.
        case noAnswer(String)

        var description: String {
            switch self {
            case .cannotConnect(let reason): "cannot connect: \(reason)"
            case .noAnswer(let reason): "no answer: \(reason)"
            }
        }
    }

    struct Answer: Sendable {
        var status: Int
        var body: [UInt8]
    }

    let timeout: Duration
    private let client: HTTPClient

    var endpoint: HTTPEndpoint { client.endpoint }

    /// - Throws: `PlatformEnvelopeError` for anything but an `http(s)://host[:port]/path` URL, or
    ///   TLS settings whose files do not load, or TLS settings for an `http` URL.
    init(url: String, tls: TLSClientConfiguration? = nil, timeout: Duration) throws {
        do { client = try HTTPClient(url: url, tls: tls) } catch let error as TLSError {
            throw PlatformEnvelopeError("tls: \(error)")
        } catch {
            throw PlatformEnvelopeError("url \(error)")
        }
        guard tls == nil || client.endpoint.usesTLS else { throw PlatformEnvelopeError("tls needs an https url") }
        self.timeout = timeout
    }

    func post(_ body: [UInt8], headers extra: [(String, String)]) async throws(Failure) -> Answer {
        try await send(.POST, body, headers: extra)
    }

    /// Any method, on the same target (tests read the simulator's admin routes with it).
    func send(_ method: HTTPMethod, _ body: [UInt8], headers extra: [(String, String)] = []) async throws(Failure) -> Answer {
        let request = HTTPClientRequest(method: method.rawValue, headers: [("Content-Type", "application/json;charset=utf-8")] + extra, body: body)
        do {
            let response = try await client.send(request, timeout: timeout)
            return Answer(status: response.status, body: response.body)
        } catch {
            throw error.mayHaveBeenSent ? .noAnswer(error.description) : .cannotConnect(error.description)
        }
    }

    func close() async { await client.close() }
}
