import MedBusTLS

extension AdapterManifest {
    /// TLS from the manifest's options, the same for every listener kind: `tlsCertificate` and
    /// `tlsKey` (PEM files) turn it on; `tlsClientCA` (PEM) asks for client certificates, and
    /// `tlsClientCertificate` (`required` — the default with a CA —, `optional` or `none`) says
    /// whether one must be presented; `tlsClientCRL` (PEM) refuses the certificates the CA
    /// revoked and is re-read when the file changes. With `required`, a connection may only
    /// send as the manifest's sender (see `requiredClientCommonName`).
    /// - Throws: `ManifestError` for a missing key or a bad mode; `TLSError` naming the file
    ///   that cannot be read, so bad files fail at start rather than at the first connection.
    public func tlsConfiguration() throws -> TLSServerConfiguration? {
        guard let certificate = options["tlsCertificate"] else { return nil }
        guard let key = options["tlsKey"] else {
            throw ManifestError(file: file, message: "options.tlsKey is required with options.tlsCertificate")
        }
        let clientCA = options["tlsClientCA"]
        let mode: TLSServerConfiguration.ClientCertificate
        switch options["tlsClientCertificate"] ?? (clientCA == nil ? "none" : "required") {
        case "required": mode = .required
        case "optional": mode = .optional
        case "none": mode = .none
        default: throw ManifestError(file: file, message: "options.tlsClientCertificate must be required, optional or none")
        }
        let crl = options["tlsClientCRL"]
        if crl != nil, mode == .none {
            throw ManifestError(file: file, message: "options.tlsClientCRL needs client certificates (options.tlsClientCA)")
        }
        let configuration = TLSServerConfiguration(certificateChainFile: certificate, privateKeyFile: key, clientCAFile: clientCA,
                                                   clientCertificate: mode, clientCRLFile: crl)
        _ = try configuration.makeContext()
        return configuration
    }

    /// The common name a client certificate must carry: the sender, when certificates are required.
    public func requiredClientCommonName(_ tls: TLSServerConfiguration?) -> String? {
        tls?.clientCertificate == .required ? sender : nil
    }
}
