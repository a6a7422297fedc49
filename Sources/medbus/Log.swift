import Foundation
import Logging
import MedBusCore

/// Structured logs: one JSON object per line on standard error. Log calls name ids, topics and
/// counts — never message payloads or patient data.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: String] = [
            "ts": MessageEnvelope.formatTimestamp(Date()),
            "level": "\(event.level)",
            "logger": label,
            "msg": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        guard var line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(0x0A)
        FileHandle.standardError.write(line)
    }
}

enum Log {
    /// Installs the JSON handler once; `MEDBUS_LOG_LEVEL` (trace…critical) sets the level.
    static let bootstrap: Void = {
        let level = ProcessInfo.processInfo.environment["MEDBUS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }()

    static func logger(_ label: String) -> Logger {
        _ = bootstrap
        return Logger(label: label)
    }

    /// For one-shot CLI commands: librdkafka's connection chatter would only repeat the one
    /// error line the command prints.
    static var quietKafka: Logger {
        var logger = logger("medbus.kafka")
        logger.logLevel = .critical
        return logger
    }
}
