/// How an outbound connection checks the server and, for mutual TLS, which certificate it
/// presents. TLS 1.2 is the minimum; the server's certificate is always verified, and always
/// against the name dialled (or `serverName`): there is no switch to turn either off.
public struct TLSClientConfiguration: Sendable, Equatable {
    /// PEM file: the CA certificate(s) the server's certificate must chain to. When set, these
    /// are the **only** trusted CAs (a pinned CA: a certificate from a public CA is refused);
    /// when nil, the system trust store (`/etc/ssl/certs`) is used.
    public var caFile: String?
    /// PEM file: our client certificate (then any intermediates), for servers that require
    /// mutual TLS. Needs `privateKeyFile`.
    public var certificateFile: String?
    /// PEM file: the unencrypted private key of `certificateFile`.
    public var privateKeyFile: String?
    /// The name sent as SNI and checked against the server's certificate, when it differs from
    /// the host connected to (e.g. a platform reached through an IP address or a tunnel).
    public var serverName: String?

    /// The system trust store OpenSSL reads when no `caFile` is given (Debian's
    /// `ca-certificates`, hashed by `update-ca-certificates`).
    public static let systemTrustDirectory = "/etc/ssl/certs"

    public init(caFile: String? = nil, certificateFile: String? = nil, privateKeyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.serverName = serverName
    }

    /// The keys of a manifest's `tls:` mapping, named like the properties.
    public static let manifestKeys: Set<String> = ["caFile", "certificateFile", "privateKeyFile", "serverName"]

    /// From a manifest's `tls:` mapping (`caFile`, `certificateFile`, `privateKeyFile`,
    /// `serverName`; an empty mapping means the system trust store and no client certificate).
    /// - Throws: `TLSError.unknownClientOption` for any other key, so a typo never silently
    ///   drops a setting; check the files with `makeContext()`.
    public init(manifest options: [String: String]) throws(TLSError) {
        if let unknown = Set(options.keys).subtracting(Self.manifestKeys).sorted().first {
            throw .unknownClientOption(unknown)
        }
        self.init(caFile: options["caFile"], certificateFile: options["certificateFile"],
                  privateKeyFile: options["privateKeyFile"], serverName: options["serverName"])
    }

    /// Loads and checks the files, so a misconfigured destination fails when it is configured
    /// rather than on its first message.
    /// - Throws: `TLSError` — a file missing or unreadable or not valid PEM, the key not
    ///   matching the certificate, or only one of certificate and key given.
    public func makeContext() throws -> TLSClientContext {
        try TLSClientContext(configuration: self)
    }
}
