import COpenSSL

/// OpenSSL reports failures through a per-thread error queue. Event-loop threads serve many
/// connections, so the queue is cleared before each call and drained right after a failure:
/// otherwise one connection's stale error would be blamed on another.
enum OpenSSLErrorQueue {
    static func clear() {
        ERR_clear_error()
    }

    /// Empties the queue and returns its entries as one line, oldest first, or a placeholder
    /// when OpenSSL left no entry. The text names OpenSSL's reason, never traffic bytes.
    static func drain() -> String {
        var entries: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            entries.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return entries.isEmpty ? "no OpenSSL error recorded" : entries.joined(separator: "; ")
    }
}
