import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A client of a remote admin server, for `medbus … --server URL --token T`: the same token and
/// role checks as any other caller. The token travels only in the `Authorization` header.
public struct AdminClient: Sendable {
    public let server: URL
    let token: String?

    public init(server: URL, token: String?) {
        self.server = server
        self.token = token
    }

    public struct Reply: Sendable {
        public var status: Int
        public var contentType: String?
        public var body: Data
    }

    /// A refusal or failure the server explained with a problem+json body (or at least a status).
    public struct Failure: Error, CustomStringConvertible {
        public var status: Int
        public var detail: String
        public var description: String { "server answered \(status): \(detail)" }
    }

    /// One request; any HTTP status is a `Reply`. Throws only when the server cannot be reached.
    public func send(_ method: String, _ path: String, query: [String: String?] = [:], json: Data? = nil) async throws -> Reply {
        var components = URLComponents(url: server.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        let items = query.compactMap { key, value in value.map { URLQueryItem(name: key, value: $0) } }.sorted { $0.name < $1.name }
        if !items.isEmpty { components.queryItems = items }
        var request = URLRequest(url: components.url!, timeoutInterval: 60)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = json
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return Reply(status: http?.statusCode ?? 0, contentType: http?.value(forHTTPHeaderField: "Content-Type"), body: data)
    }

    /// A 2xx answer decoded as `T`; otherwise `Failure` with the problem's detail.
    public func call<T: Decodable>(_ method: String, _ path: String, query: [String: String?] = [:], json: Data? = nil, as type: T.Type) async throws -> T {
        let reply = try await send(method, path, query: query, json: json)
        guard (200..<300).contains(reply.status) else {
            let problem = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
            throw Failure(status: reply.status, detail: problem?["detail"] as? String ?? String(decoding: reply.body.prefix(200), as: UTF8.self))
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: reply.body)
    }
}
