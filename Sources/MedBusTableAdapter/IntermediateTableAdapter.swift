import Foundation
import Logging
import MedBusAdapterSDK

/// The intermediate-table adapter (manifest kind `intermediate-table`): polls a table or view the
/// HIS writes ("中间库") and publishes each new row once to `raw.his.<hospital>` through
/// `DurableIngest` (store → Kafka acks=all), then optionally writes a status back to the row.
///
/// Progress is an id high-water mark in the adapter's own SQLite state, moved only after Kafka
/// acknowledged every row below it; rows committed out of id order by concurrent HIS transactions
/// are waited for (`IdWindow`). After a crash the rows above the mark are read again and answered
/// from the message store, so none is published twice. With `onUpdate: republish`, a row whose
/// `versionColumn` changed after publication is published again (source message id
/// `<name>:<id>@<version>`); with `ignore`, a row is published once (`<name>:<id>`).
public final class IntermediateTableAdapter: RunnableAdapter {
    public static let kind = "intermediate-table"

    public let manifest: AdapterManifest
    public let settings: TableAdapterSettings
    private let ingest: DurableIngest
    private let stateDirectory: String
    private let topic: String
    private let logger: Logger
    private let stop = StopSignal()

    /// - Parameter stateDirectory: where `table-<name>.sqlite` is kept (the message store's directory).
    /// - Throws: `ManifestError` for missing or contradictory options.
    public init(manifest: AdapterManifest, ingest: DurableIngest, stateDirectory: String, logger: Logger = Logger(label: "medbus.adapter.intermediate-table")) throws {
        var logger = logger
        logger[metadataKey: "adapter"] = "\(manifest.name)"
        self.manifest = manifest
        self.settings = try TableAdapterSettings(manifest: manifest)
        self.ingest = ingest
        self.stateDirectory = stateDirectory
        self.topic = try manifest.rawTopic
        self.logger = logger
    }

    /// Polls until `shutdown()`; the row being published is finished first. `onBound` is called
    /// with 0 once the state is open (there is no listener). Database and Kafka failures are
    /// logged and retried with back-off (up to 30 s); they never end `run`.
    /// - Throws: only when the adapter's own state file cannot be opened.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let state = try TableAdapterState(directory: stateDirectory, adapterName: manifest.name)
        defer { state.close() }
        onBound(0)
        var poller: TablePoller?
        var backoff = settings.pollInterval
        while !stop.isSet {
            do {
                if poller == nil {
                    poller = TablePoller(
                        database: try await openTableDatabase(settings.database), state: state, settings: settings,
                        publisher: RowPublisher(manifest: manifest, settings: settings, topic: topic, ingest: ingest, logger: logger), logger: logger
                    )
                    logger.info("polling", metadata: ["topic": "\(topic)"])
                }
                let fullPage = try await poller!.pollOnce()
                backoff = settings.pollInterval
                if !fullPage { await stop.sleep(settings.pollInterval) }
            } catch {
                // A broken PostgreSQL connection is reset by the next call; nothing to reopen here.
                logger.warning("poll failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                await stop.sleep(backoff)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
        poller?.close()
    }

    /// Asks `run` to return after the current step.
    public func shutdown() { stop.set() }
}

/// A flag `run` checks between steps, and a sleep that ends early when it is set.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    var isSet: Bool { lock.withLock { stopped } }
    func set() { lock.withLock { stopped = true } }

    func sleep(_ duration: Duration) async {
        let end = ContinuousClock.now + duration
        while !isSet, ContinuousClock.now < end {
            try? await Task.sleep(for: min(.milliseconds(50), end - ContinuousClock.now))
        }
    }
}
