import Dispatch
import Foundation
import Logging

/// What every adapter running as its own process (`medbus-adapter-table`, `medbus-adapter-soap`, a
/// vendor's) does around the adapter itself: log to standard error, stop gracefully on a signal.
public enum AdapterProcess {
    /// Logs to standard error at `MEDBUS_LOG_LEVEL` (default `info`).
    public static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["MEDBUS_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
            return handler
        }
    }

    /// Calls `shutdown` on SIGINT and SIGTERM instead of dying, so the adapter can finish the work
    /// in progress. Keep the returned sources until the adapter has stopped, then cancel them.
    public static func onTerminationSignals(_ shutdown: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler(handler: shutdown)
            source.resume()
            return source
        }
    }
}
