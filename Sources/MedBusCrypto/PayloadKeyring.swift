import Foundation

/// Keys for sealing payloads at rest, by id. One key is current and seals; every key opens, so
/// keys rotate by adding a new current key and keeping the old ones until nothing sealed with
/// them remains. Keys are 32 random bytes.
///
/// Key file format: one `id:base64key` per line (`#` comments and blank lines ignored). The
/// first key is current unless `MEDBUS_PAYLOAD_KEY_CURRENT` names another. Ids are 1–64
/// characters from `A–Z a–z 0–9 . _ -`.
public struct PayloadKeyring: Sendable {
    public let currentKeyID: String
    public let algorithm: SealedPayload.Algorithm
    private let keys: [String: [UInt8]]

    public static let keyLength = AuthenticatedCipher.keyLength
    /// Names a key file (`id:base64key` lines).
    public static let keyFileVariable = "MEDBUS_PAYLOAD_KEY_FILE"
    /// Holds the key lines themselves, for deployments that inject secrets as variables.
    public static let keysVariable = "MEDBUS_PAYLOAD_KEYS"
    /// Overrides which key is current.
    public static let currentVariable = "MEDBUS_PAYLOAD_KEY_CURRENT"
    /// `aes-256-gcm` (default) or `sm4-ctr-hmac-sm3`.
    public static let algorithmVariable = "MEDBUS_PAYLOAD_ALGORITHM"

    public init(keys: [String: [UInt8]], current: String, algorithm: SealedPayload.Algorithm = .aes256gcm) throws(CryptoError) {
        for (id, key) in keys {
            try Self.requireValidID(id)
            guard key.count == Self.keyLength else {
                throw CryptoError(.keyringConfiguration, "payload key '\(id)' is \(key.count) bytes; it must be \(Self.keyLength)")
            }
        }
        guard keys[current] != nil else {
            throw CryptoError(.keyringConfiguration, "the current payload key '\(current)' is not in the keyring (holds: \(keys.keys.sorted().joined(separator: ", ")))")
        }
        self.keys = keys
        self.currentKeyID = current
        self.algorithm = algorithm
    }

    /// Parses key-file text; `current` (if given) overrides the first line.
    public init(keyFileText text: String, current: String? = nil, algorithm: SealedPayload.Algorithm = .aes256gcm, source: String = "the key file") throws(CryptoError) {
        var keys: [String: [UInt8]] = [:]
        var first: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            // The line number, never the line: it holds a key.
            guard let colon = line.firstIndex(of: ":") else {
                throw CryptoError(.keyringConfiguration, "\(source) line \(index + 1): expected id:base64key")
            }
            let id = String(line[..<colon])
            try Self.requireValidID(id, where: "\(source) line \(index + 1)")
            guard let key = Data(base64Encoded: String(line[line.index(after: colon)...])) else {
                throw CryptoError(.keyringConfiguration, "\(source) line \(index + 1): key '\(id)' is not valid base64")
            }
            guard keys[id] == nil else { throw CryptoError(.keyringConfiguration, "\(source) line \(index + 1): key '\(id)' appears twice") }
            keys[id] = Array(key)
            first = first ?? id
        }
        guard let chosen = current ?? first else { throw CryptoError(.keyringConfiguration, "\(source) holds no key") }
        try self.init(keys: keys, current: chosen, algorithm: algorithm)
    }

    /// Reads a key file; the current key and algorithm may come from the environment.
    public init(keyFile path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(CryptoError) {
        let text = try PEM.readFile(path, code: .keyringConfiguration)
        try self.init(keyFileText: text, current: environment[Self.currentVariable], algorithm: Self.algorithm(environment), source: path)
    }

    /// The keyring the environment configures (`MEDBUS_PAYLOAD_KEY_FILE` or `MEDBUS_PAYLOAD_KEYS`),
    /// or nil when it configures none.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(CryptoError) -> PayloadKeyring? {
        if let path = environment[keyFileVariable], !path.isEmpty {
            return try PayloadKeyring(keyFile: path, environment: environment)
        }
        if let text = environment[keysVariable], !text.isEmpty {
            return try PayloadKeyring(keyFileText: text, current: environment[currentVariable], algorithm: algorithm(environment), source: keysVariable)
        }
        return nil
    }

    /// What `resolve` found.
    public enum Resolution: Sendable {
        /// No key configured (and none created): payloads stay in clear.
        case none
        case loaded(PayloadKeyring, source: String)
        /// A new key file was written at `path`: tell the operator once, it must be backed up.
        case created(PayloadKeyring, path: String)

        public var keyring: PayloadKeyring? {
            switch self {
            case .none: nil
            case .loaded(let keyring, _), .created(let keyring, _): keyring
            }
        }
    }

    /// The keyring a process should use, in order: `explicitFile` (a command-line option), the
    /// environment (`MEDBUS_PAYLOAD_KEY_FILE`, `MEDBUS_PAYLOAD_KEYS`), `defaultFile` if it exists;
    /// else, with `createIfMissing`, a new key file at `defaultFile` (0600). Two processes creating
    /// it at once end up with the same key: the loser of the race reads the winner's file.
    public static func resolve(explicitFile: String?, defaultFile: String, createIfMissing: Bool,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws(CryptoError) -> Resolution {
        if let explicitFile { return .loaded(try PayloadKeyring(keyFile: explicitFile, environment: environment), source: explicitFile) }
        if let configured = try fromEnvironment(environment) {
            return .loaded(configured, source: environment[keyFileVariable].flatMap { $0.isEmpty ? nil : $0 } ?? keysVariable)
        }
        if FileManager.default.fileExists(atPath: defaultFile) {
            return .loaded(try PayloadKeyring(keyFile: defaultFile, environment: environment), source: defaultFile)
        }
        guard createIfMissing else { return .none }
        do {
            return .created(try createKeyFile(at: defaultFile, algorithm: algorithm(environment)), path: defaultFile)
        } catch where FileManager.default.fileExists(atPath: defaultFile) {
            return .loaded(try PayloadKeyring(keyFile: defaultFile, environment: environment), source: defaultFile)
        }
    }

    /// Writes a new key file holding one fresh key, readable by its owner only (0600). Refuses to
    /// overwrite an existing file: that would make everything sealed with it unreadable.
    public static func createKeyFile(at path: String, keyID: String = defaultKeyID(), algorithm: SealedPayload.Algorithm = .aes256gcm) throws(CryptoError) -> PayloadKeyring {
        try requireValidID(keyID)
        let key = generateKey()
        let text = "# MedBus payload keys: id:base64key, the first line is current. Keep old keys until no row uses them.\n\(keyID):\(Data(key).base64EncodedString())\n"
        // Written whole to a private temporary file, then linked into place: link(2) fails if the
        // name exists, and a reader never sees a half-written key file.
        let temporary = "\(path).\(getpid()).\(UInt64.random(in: 0 ... .max)).tmp"
        let descriptor = Foundation.open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw CryptoError(.keyringConfiguration, "cannot create payload key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { unlink(temporary) }
        let bytes = Array(text.utf8)
        let written = write(descriptor, bytes, bytes.count)
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else {
            throw CryptoError(.keyringConfiguration, "cannot write payload key file \(path): \(String(cString: strerror(errno)))")
        }
        guard link(temporary, path) == 0 else {
            throw CryptoError(.keyringConfiguration, "cannot create payload key file \(path): \(String(cString: strerror(errno)))")
        }
        return try PayloadKeyring(keys: [keyID: key], current: keyID, algorithm: algorithm)
    }

    public static func generateKey() -> [UInt8] {
        AuthenticatedCipher.randomBytes(keyLength)
    }

    /// `k` and the UTC date and time: unique enough for rotations, and sortable.
    public static func defaultKeyID(_ date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return "k\(formatter.string(from: date))"
    }

    public var keyIDs: [String] { keys.keys.sorted() }

    /// A keyring with `key` added as the new current key; every existing key still opens.
    public func rotated(to id: String, key: [UInt8]) throws(CryptoError) -> PayloadKeyring {
        guard keys[id] == nil else { throw CryptoError(.keyringConfiguration, "payload key '\(id)' already exists") }
        var all = keys
        all[id] = key
        return try PayloadKeyring(keys: all, current: id, algorithm: algorithm)
    }

    /// Seals with the current key. `associatedData` is authenticated, not stored: pass the same
    /// bytes to `open` (e.g. the row id, so sealed payloads cannot be moved between rows).
    public func seal(_ plain: [UInt8], associatedData: [UInt8]) throws(CryptoError) -> SealedPayload {
        try AuthenticatedCipher.seal(algorithm, key: keys[currentKeyID]!, keyID: currentKeyID, plain, associatedData: associatedData)
    }

    /// Seals with a named key rather than the current one: for data that must share a key with
    /// data sealed earlier (a row's second column).
    /// - Throws: `.unknownKeyID` when the keyring lacks `keyID`.
    public func seal(_ plain: [UInt8], associatedData: [UInt8], keyID: String) throws(CryptoError) -> SealedPayload {
        guard let key = keys[keyID] else {
            throw CryptoError(.unknownKeyID, "payload key '\(keyID)' is not in the keyring (it holds: \(keyIDs.joined(separator: ", ")))")
        }
        return try AuthenticatedCipher.seal(algorithm, key: key, keyID: keyID, plain, associatedData: associatedData)
    }

    /// - Throws: `.unknownKeyID` naming the key when the keyring lacks it; `.authenticationFailed`
    ///   naming the key when the key, the associated data or the bytes do not match.
    public func open(_ sealed: SealedPayload, associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard let key = keys[sealed.keyID] else {
            throw CryptoError(.unknownKeyID, "payload sealed with key '\(sealed.keyID)', which the keyring does not hold (it holds: \(keyIDs.joined(separator: ", ")))")
        }
        return try AuthenticatedCipher.open(sealed, key: key, associatedData: associatedData)
    }

    private static func algorithm(_ environment: [String: String]) throws(CryptoError) -> SealedPayload.Algorithm {
        guard let name = environment[algorithmVariable], !name.isEmpty else { return .aes256gcm }
        guard let algorithm = SealedPayload.Algorithm(name: name) else {
            throw CryptoError(.keyringConfiguration, "\(algorithmVariable)=\(name): expected one of \(SealedPayload.Algorithm.allCases.map(\.name).joined(separator: ", "))")
        }
        return algorithm
    }

    private static func requireValidID(_ id: String, where place: String = "payload key id") throws(CryptoError) {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
        guard (1...64).contains(id.count), id.allSatisfy(allowed.contains) else {
            throw CryptoError(.keyringConfiguration, "\(place): key id '\(id.prefix(64))' must be 1–64 characters from A–Z a–z 0–9 . _ -")
        }
    }
}
