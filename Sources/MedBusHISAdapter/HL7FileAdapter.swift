import Foundation
import Logging
import MedBusAdapterSDK
import MedBusHL7

/// The HIS adapter for HL7 v2 files (manifest kind `hl7v2-file`): a HIS drops batch files
/// (FHS/BHS … BTS/FTS, or bare messages one after another) into a folder; every message goes
/// through the same intake as MLLP — parsed, checked, stored, on `raw.his.<hospital>` — in file
/// order.
///
/// A file is finished only when every message in it is safe on Kafka or refused for good: it
/// then moves to `processed/` with a `<name>.ack` file beside it (one acknowledgement per
/// message, AA or AR/AE with its ERR). If Kafka is unavailable the file stays where it is and is
/// read again at the next poll; messages that were already safe are recognised as
/// retransmissions (sending facility + MSH-10) and not published twice — so a crash mid-file
/// loses nothing and duplicates nothing. A file whose batch envelope is broken (counts that do not
/// match, segments out of order) or that exceeds `maxFileBytes` moves to `failed/` with a
/// `<name>.error` file naming the reason, and is kept in the store as `rejected`.
///
/// Options: `directory` (required), `pattern` (file name suffixes, default `.hl7,.txt,.batch`),
/// `pollMilliseconds` (1000), `settleMilliseconds` (500: a file modified more recently is still
/// being written; writers that rename a finished file into the folder need none), `maxFileBytes`
/// (64 MiB), `maxMessageBytes` (1 MiB).
public final class HL7FileAdapter: RunnableAdapter {
    public static let kind = "hl7v2-file"

    public let manifest: AdapterManifest
    public let directory: URL
    private let intake: HL7Intake
    private let suffixes: [String]
    private let poll: Duration
    private let settle: TimeInterval
    private let maxFileBytes: Int
    private let logger: Logger
    private let stopRequests: AsyncStream<Void>
    private let stopTrigger: AsyncStream<Void>.Continuation

    /// - Throws: `ManifestError` for a missing `directory` or a bad option.
    public init(manifest: AdapterManifest, ingest: DurableIngest, logger: Logger = Logger(label: "medbus.adapter.hl7v2-file")) throws {
        var logger = logger
        logger[metadataKey: "adapter"] = "\(manifest.name)"
        guard let directory = manifest.options["directory"], !directory.isEmpty else {
            throw ManifestError(file: manifest.file, message: "options.directory is required for kind \(Self.kind)")
        }
        self.manifest = manifest
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        self.intake = try HL7Intake(manifest: manifest, maxMessageBytes: try manifest.intOption("maxMessageBytes", default: 1 << 20), ingest: ingest, logger: logger)
        self.suffixes = (manifest.options["pattern"] ?? ".hl7,.txt,.batch").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        self.poll = .milliseconds(try manifest.intOption("pollMilliseconds", default: 1000))
        self.settle = TimeInterval(try manifest.intOption("settleMilliseconds", default: 500)) / 1000
        self.maxFileBytes = try manifest.intOption("maxFileBytes", default: 64 << 20)
        self.logger = logger
        (stopRequests, stopTrigger) = AsyncStream.makeStream(of: Void.self)
    }

    /// Watches the folder until `shutdown()`; a file being read is finished first. `onBound`
    /// is called with 0 once the folders exist (there is no port).
    /// - Throws: when the folders cannot be created.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        for folder in [directory, processedFolder, failedFolder] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        onBound(0)
        let stopped = ManagedFlag()
        let watcher = Task { [stopRequests] in
            for await _ in stopRequests {}
            stopped.set()
        }
        defer { watcher.cancel() }
        while !stopped.isSet {
            for file in readyFiles() where !stopped.isSet {
                await process(file)
            }
            try? await Task.sleep(for: poll)
        }
    }

    public func shutdown() { stopTrigger.finish() }

    var processedFolder: URL { directory.appendingPathComponent("processed", isDirectory: true) }
    var failedFolder: URL { directory.appendingPathComponent("failed", isDirectory: true) }

    /// Regular files with a matching suffix, not modified within the settle time, in name order
    /// (HIS exports are usually named by time, so name order is send order).
    private func readyFiles() -> [URL] {
        let keys: Set<URLResourceKey> = [.isRegularFileKey, .contentModificationDateKey]
        guard let entries = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: Array(keys), options: [.skipsHiddenFiles]) else { return [] }
        let now = Date()
        return entries.filter { url in
            guard suffixes.contains(where: { url.lastPathComponent.lowercased().hasSuffix($0) }),
                  let values = try? url.resourceValues(forKeys: keys), values.isRegularFile == true else { return false }
            return now.timeIntervalSince(values.contentModificationDate ?? now) >= settle
        }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// One file: every message through the intake, then moved aside — or left for the next poll.
    func process(_ file: URL) async {
        let name = file.lastPathComponent
        let bytes: [UInt8]
        do {
            let size = try file.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0
            guard size <= maxFileBytes else {
                return await fail(file, bytes: [], reason: "file of \(size) bytes exceeds the limit of \(maxFileBytes) bytes")
            }
            bytes = Array(try Data(contentsOf: file))
        } catch {
            logger.warning("file not readable; trying again at the next poll", metadata: ["file": "\(name)", "error": "\(error)"])
            return
        }
        let batch: HL7Batch
        do { batch = try HL7Batch(parsing: bytes) } catch {
            return await fail(file, bytes: bytes, reason: "batch envelope: \(error.description)")
        }
        var acknowledgements: [UInt8] = []
        var refused = 0
        for message in batch.messageBytes {
            switch await intake.accept(message) {
            case .safe(let ack):
                acknowledgements += ack ?? []
            case .refused(let ack):
                refused += 1
                acknowledgements += ack ?? []
            case .notYetSafe:
                logger.warning("file not finished: a message is not yet safe on Kafka; reading it again at the next poll", metadata: ["file": "\(name)"])
                return
            }
        }
        do {
            try Data(acknowledgements).write(to: processedFolder.appendingPathComponent(name + ".ack"), options: .atomic)
            try moveReplacing(file, to: processedFolder.appendingPathComponent(name))
            logger.info("file processed", metadata: ["file": "\(name)", "messages": "\(batch.messageBytes.count)", "refused": "\(refused)"])
        } catch {
            // Every message is safe; a second pass only meets retransmissions.
            logger.error("file processed but not moved", metadata: ["file": "\(name)", "error": "\(error)"])
        }
    }

    /// A file that cannot be read as a batch at all: kept as rejected and moved to `failed/`.
    private func fail(_ file: URL, bytes: [UInt8], reason: String) async {
        let name = file.lastPathComponent
        await intake.recordRejectedFile(bytes, reason: reason)
        do {
            try Data((reason + "\n").utf8).write(to: failedFolder.appendingPathComponent(name + ".error"), options: .atomic)
            try moveReplacing(file, to: failedFolder.appendingPathComponent(name))
        } catch {
            logger.error("failed file not moved", metadata: ["file": "\(name)", "error": "\(error)"])
        }
        logger.info("file refused", metadata: ["file": "\(name)", "reason": "\(reason)"])
    }

    /// A HIS may send a file of the same name again (e.g. a daily export): the newer one wins.
    private func moveReplacing(_ source: URL, to destination: URL) throws {
        if FileManager.default.fileExists(atPath: destination.path) {
            _ = try FileManager.default.replaceItemAt(destination, withItemAt: source)
        } else {
            try FileManager.default.moveItem(at: source, to: destination)
        }
    }
}

/// A flag set once from another task.
private final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
