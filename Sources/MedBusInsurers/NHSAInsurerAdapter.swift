import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// The NHSA insurer adapter (kind `insurer-nhsa`): turns `insurer.nhsa.requests` into calls to
/// the national platform's HTTP endpoint and publishes each answer on `insurer.nhsa.replies`.
///
/// Per record: fill `sign_no` (9001 sign-in the first time, and again once when the platform
/// answers that the sign_no expired — `signInExpiredMarker` in `err_msg`), POST the envelope,
/// produce the platform's response envelope unchanged with `medbus-correlation-id` = the
/// request's msgid and the request's key, and only then store the request's offset for commit
/// (replies go out in chunks of up to `chunkSize` per partition, one broker wait per chunk).
/// Partitions are processed in parallel, and within a chunk the requests of different keys
/// (sagas) too; one key's requests strictly in order.
///
/// **When the platform does not answer** (timeout, dropped connection, HTTP status other than
/// 200, a body that is not JSON) the adapter produces **nothing** for that request and moves on:
/// the outcome is unknown, and the orchestrator's step timeout leads to a 2601 reversal and a
/// retry with the same msgid — resending here could settle twice on a platform that does not
/// deduplicate. Only a refused connection (nothing was sent) is retried, `connectAttempts`
/// times with backoff. Logs carry infno, msgid and infcode, never the envelopes.
public final class NHSAInsurerAdapter: Sendable {
    public static let kind = "insurer-nhsa"

    public let manifest: NHSAAdapterManifest
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let client: PlatformHTTPClient
    private let signIn: PlatformSignIn
    private let logger: Logger

    /// Joins the consumer group; nothing is consumed before `run()`.
    /// - Throws: `KafkaError`, or `PlatformEnvelopeError` for a bad URL.
    public init(manifest: NHSAAdapterManifest, kafka: KafkaConfig, logger: Logger = Logger(label: "medbus.insurer.nhsa")) throws {
        var logger = logger
        logger[metadataKey: "adapter"] = "\(manifest.name)"
        self.manifest = manifest
        self.logger = logger
        client = try PlatformHTTPClient(url: manifest.url, tls: manifest.tls, timeout: .seconds(manifest.timeoutSeconds))
        let gateway = manifest.gateway
        signIn = PlatformSignIn(manifest: manifest, client: client) { gateway?.headers() ?? [] }
        producer = try KafkaProducer(config: kafka, logger: logger)
        consumer = try KafkaConsumer(config: kafka, groupID: manifest.group, topics: [manifest.requestsTopic], autoCommitStoredOffsets: true, bufferCapacity: 2_000, logger: logger)
    }

    /// How many times it signed in (9001), for tests.
    public var signInCount: Int { get async { await signIn.count } }

    /// Processes requests until `shutdown()`.
    /// - Throws: a fatal Kafka error (e.g. the requests topic does not exist), or a reply that
    ///   could not be produced: the adapter stops rather than commit past it, and its restart
    ///   sends the uncommitted requests again (same msgid).
    public func run() async throws {
        logger.info("insurer adapter started", metadata: ["requests": "\(manifest.requestsTopic)", "replies": "\(manifest.repliesTopic)", "platform": "\(client.endpoint)"])
        while true {
            let batch = try await consumer.nextBatch(maxCount: 500)
            if batch.isEmpty { break }
            let lanes = Dictionary(grouping: batch, by: \.partition)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for records in lanes.values {
                    group.addTask { try await self.runLane(records) }
                }
                try await group.waitForAll()
            }
        }
        await producer.shutdown()
        await client.close()
    }

    /// Leaves the consumer group; `run` returns after the batch in hand.
    public func shutdown() async { await consumer.close() }

    /// One partition's records, in chunks of up to `chunkSize`. Within a chunk the records of
    /// different keys (sagas) call the platform concurrently and those of one key one after another
    /// in offset order, so one settlement's steps stay ordered while many are in flight. A chunk's
    /// replies go out with one wait for the broker; its offsets are stored only after that, and not
    /// at all once it fails (those requests are sent again after a restart, with the same msgid).
    private func runLane(_ records: [KafkaConsumerMessage]) async throws {
        var start = records.startIndex
        while start < records.endIndex {
            let chunk = Array(records[start..<min(start + Self.chunkSize, records.endIndex)])
            start += chunk.count
            let reports = try await producer.sendBatch(await replies(to: chunk).compactMap { $0 })
            if let failed = reports.first(where: { $0.error != nil }) {
                logger.error("replies not produced; stopping with their requests uncommitted", metadata: ["error": "\(failed.error!)", "partition": "\(chunk[0].partition)"])
                throw failed.error!
            }
            for record in chunk { try? consumer.storeOffset(record) }
        }
    }

    /// The replies to `chunk`, in its order (nil: nothing to publish for that record).
    private func replies(to chunk: [KafkaConsumerMessage]) async -> [KafkaProducerMessage?] {
        var keys: [[UInt8]?: [Int]] = [:]
        for (index, record) in chunk.enumerated() { keys[record.key, default: []].append(index) }
        return await withTaskGroup(of: [(Int, KafkaProducerMessage?)].self) { group in
            for indexes in keys.values {
                group.addTask {
                    var answered: [(Int, KafkaProducerMessage?)] = []
                    for index in indexes { answered.append((index, await self.reply(to: chunk[index]))) }
                    return answered
                }
            }
            var replies = [KafkaProducerMessage?](repeating: nil, count: chunk.count)
            for await answered in group { for (index, reply) in answered { replies[index] = reply } }
            return replies
        }
    }

    /// Replies held before one wait for their delivery reports.
    static let chunkSize = 32

    // MARK: - One request

    /// Calls the platform for one request; nil when there is nothing to publish.
    private func reply(to record: KafkaConsumerMessage) async -> KafkaProducerMessage? {
        let request: PlatformRequest
        do { request = try PlatformRequest(JSONValue.parse(record.value ?? [])) } catch {
            logger.error("request is not a platform envelope; skipped", metadata: ["partition": "\(record.partition)", "offset": "\(record.offset)", "error": "\(error)"])
            return nil
        }
        var metadata: Logger.Metadata = ["infno": "\(request.infno)", "msgid": "\(request.msgid)"]
        do {
            var answer = try await call(request)
            if let response = answer.response, isSignInExpired(response) {
                logger.info("sign_no expired; signing in again", metadata: metadata)
                await signIn.expire(answer.signNo)
                answer = try await call(request)
            }
            guard let response = answer.response else { return nil }
            metadata["infcode"] = "\(PlatformResponse.infcode(of: response).map(String.init) ?? "?")"
            var envelope = MessageEnvelope(source: "insurer.\(manifest.insurer)", sourceMessageId: response["inf_refmsgid"]?.stringValue,
                                           messageType: request.infno, contentType: "application/json; charset=utf-8", correlationId: request.msgid)
            envelope.traceParent = record.headers.string(MessageEnvelope.Header.traceParent)
            logger.debug("platform answered", metadata: metadata)
            return KafkaProducerMessage(topic: manifest.repliesTopic, key: record.key, value: answer.body, headers: envelope.headers)
        } catch {
            logger.warning("no reply produced; the orchestrator's timeout handles it", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return nil
        }
    }

    private struct Answer {
        var signNo: String
        var body: [UInt8]
        /// nil when the platform gave no usable answer (outcome unknown: produce nothing).
        var response: JSONValue?
    }

    private func call(_ request: PlatformRequest) async throws -> Answer {
        let signNo = try await signIn.signNo()
        let body = request.body.setting("sign_no", .string(signNo)).jsonBytes
        var attempt = 1
        while true {
            let result: Result<PlatformHTTPClient.Answer, PlatformHTTPClient.Failure>
            do { result = .success(try await client.post(body, headers: manifest.gateway?.headers() ?? [])) } catch { result = .failure(error) }
            switch result {
            case .success(let answer):
                guard answer.status == 200, let response = try? JSONValue.parse(answer.body), PlatformResponse.infcode(of: response) != nil else {
                    logger.warning("platform answered without a response envelope", metadata: ["msgid": "\(request.msgid)", "status": "\(answer.status)"])
                    return Answer(signNo: signNo, body: [], response: nil)
                }
                return Answer(signNo: signNo, body: answer.body, response: response)
            case .failure(.cannotConnect(let reason)) where attempt < manifest.connectAttempts:
                logger.info("platform unreachable; retrying", metadata: ["msgid": "\(request.msgid)", "attempt": "\(attempt)", "reason": "\(reason)"])
                try await Task.sleep(for: .milliseconds(200 << min(attempt - 1, 5)))
                attempt += 1
            case .failure(let failure):
                throw failure
            }
        }
    }

    private func isSignInExpired(_ response: JSONValue) -> Bool {
        guard let code = PlatformResponse.infcode(of: response), code != 0, let message = response["err_msg"]?.stringValue else { return false }
        return message.contains(manifest.signInExpiredMarker)
    }
}
