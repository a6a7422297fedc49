import Foundation

/// Where an `HTTPClient` sends: an `http://` or `https://host[:port]/path[?query]` URL, checked
/// once when the destination is configured rather than on every request.
public struct HTTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `https` endpoints are reached over TLS (see `HTTPClient`'s `tls`).
    public var usesTLS: Bool
    public var host: String
    public var port: Int
    /// Path and query, as sent in the request line.
    public var target: String

    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public var url: String
        public var reason: String
        public var description: String { "'\(url)': \(reason)" }
    }

    public init(_ url: String) throws {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased() else {
            throw Error(url: url, reason: "not a URL")
        }
        guard scheme == "http" || scheme == "https" else { throw Error(url: url, reason: "scheme must be http or https") }
        guard let host = parsed.host, !host.isEmpty else { throw Error(url: url, reason: "no host") }
        guard parsed.user == nil, parsed.password == nil else { throw Error(url: url, reason: "credentials in the URL are not allowed; use a header") }
        usesTLS = scheme == "https"
        let port = parsed.port ?? (usesTLS ? 443 : 80)
        guard (1...65535).contains(port) else { throw Error(url: url, reason: "port out of range") }
        self.host = host
        self.port = port
        let path = parsed.percentEncodedPath.isEmpty ? "/" : parsed.percentEncodedPath
        self.target = parsed.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
    }

    /// The `Host` header's value.
    public var hostHeader: String { port == (usesTLS ? 443 : 80) ? host : "\(host):\(port)" }

    public var description: String { "\(usesTLS ? "https" : "http")://\(hostHeader)\(target)" }
}
