import CRdKafka
import Dispatch
import Foundation
import Logging

/// An idempotent Kafka producer (`enable.idempotence=true`, `acks=all` unless overridden).
///
/// `send` returns only once the broker has acknowledged the record, so a caller that then
/// acknowledges its own sender never acknowledges something Kafka could lose. `sendBatch` hands a
/// whole batch to librdkafka and suspends once for all of its delivery reports: the hot path pays
/// one task switch per batch, not per record.
///
/// Retries on broker errors (leader moves, timeouts) happen inside librdkafka; with idempotence
/// they never duplicate or reorder records. A record fails only when `message.timeout.ms` runs out
/// or the error is permanent; its report then carries the error.
///
/// `shutdown()` flushes outstanding records before releasing the client.
public final class KafkaProducer: Sendable {
    /// MedBus's producer defaults; any of them can be overridden through `KafkaConfig.properties`.
    public static let defaultProperties: [String: String] = [
        "enable.idempotence": "true",
        "acks": "all",
        // Same partition for the same key as the Java client, so other producers agree.
        "partitioner": "murmur2_random",
        "linger.ms": "5",
        "queue.buffering.max.messages": "500000",
        "queue.buffering.max.kbytes": "1048576",
        "allow.auto.create.topics": "false",
        "client.id": "medbus",
    ]

    let client: RDKafkaClient
    private let state = ShutdownState()

    public convenience init(config: KafkaConfig, logger: Logger = Logger(label: "medbus.kafka.producer")) throws {
        try self.init(properties: config.resolved(defaults: Self.defaultProperties), logger: logger)
    }

    init(properties: [String: String], logger: Logger) throws {
        client = try RDKafkaClient(kind: .producer, properties: properties, logger: logger) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        }
        let rk = client
        client.startPolling { _ = rd_kafka_poll(rk.handle, 100) }
    }

    /// Produces one record and waits for its delivery report.
    /// - Throws: `KafkaError` if the record could not be delivered (after librdkafka's retries).
    @discardableResult
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        let report = try await sendBatch([message])[0]
        if let error = report.error { throw error }
        return report
    }

    /// Produces every record and waits once for all their delivery reports.
    ///
    /// The reports come back in the order of `messages`; a failed record has `error` set and does
    /// not fail the others. Records with the same key keep their relative order.
    /// - Throws: only if the producer is shut down or the task is cancelled before enqueueing.
    public func sendBatch(_ messages: [KafkaProducerMessage]) async throws -> [KafkaDeliveryReport] {
        guard !messages.isEmpty else { return [] }
        guard !state.isShutDown else { throw KafkaError(code: .destroyed, message: "producer is shut down") }
        let batch = DeliveryBatch(messages: messages)
        for index in messages.indices {
            do {
                try await enqueue(messages[index], slot: batch.slot(index), batch: batch, index: index)
            } catch {
                // Records already enqueued still report into the batch; the rest never will.
                for rest in index..<messages.count {
                    batch.complete(rest, partition: -1, offset: nil, error: KafkaError(code: .destroyed, message: "send cancelled before enqueue"))
                }
                throw error
            }
        }
        let reports = await batch.reports()
        ProducedMessages.count(reports)
        return reports
    }

    /// Enqueues one record, waiting while librdkafka's local queue is full (back-pressure).
    private func enqueue(_ message: KafkaProducerMessage, slot: UnsafeMutableRawPointer, batch: DeliveryBatch, index: Int) async throws {
        while true {
            let err = produce(message, opaque: slot)
            switch err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                return
            case RD_KAFKA_RESP_ERR__QUEUE_FULL:
                try await Task.sleep(for: .milliseconds(1))
            default:
                batch.complete(index, partition: message.partition ?? -1, offset: nil,
                               error: KafkaError(err, "produce to \(message.topic)"))
                return
            }
        }
    }

    private func produce(_ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        // Headers are owned by librdkafka once produce succeeds, by us otherwise.
        let headers: OpaquePointer? = message.headers.isEmpty ? nil : {
            let h = rd_kafka_headers_new(message.headers.count)!
            for header in message.headers {
                if let value = header.value {
                    value.withUnsafeBytes { _ = rd_kafka_header_add(h, header.key, -1, $0.baseAddress, $0.count) }
                } else {
                    _ = rd_kafka_header_add(h, header.key, -1, nil, 0)
                }
            }
            return h
        }()
        let err = message.topic.withCString { topic in
            withOptionalBytes(message.key) { key in
                withOptionalBytes(message.value) { value in
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { vus in
                        vus.initialize(repeating: rd_kafka_vu_t())
                        vus[0].vtype = RD_KAFKA_VTYPE_TOPIC
                        vus[0].u.cstr = topic
                        vus[1].vtype = RD_KAFKA_VTYPE_VALUE
                        vus[1].u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: value.baseAddress), size: value.count)
                        vus[2].vtype = RD_KAFKA_VTYPE_KEY
                        vus[2].u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: key.baseAddress), size: key.count)
                        vus[3].vtype = RD_KAFKA_VTYPE_OPAQUE
                        vus[3].u.ptr = opaque
                        vus[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        vus[4].u.i = RD_KAFKA_MSG_F_COPY
                        vus[5].vtype = RD_KAFKA_VTYPE_PARTITION
                        vus[5].u.i32 = message.partition ?? RD_KAFKA_PARTITION_UA
                        var count = 6
                        if let headers {
                            vus[6].vtype = RD_KAFKA_VTYPE_HEADERS
                            vus[6].u.headers = headers
                            count = 7
                        }
                        guard let error = rd_kafka_produceva(client.handle, vus.baseAddress, count) else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                        let code = rd_kafka_error_code(error)
                        rd_kafka_error_destroy(error)
                        return code
                    }
                }
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
        return err
    }

    /// Waits until every outstanding record has a delivery report, or the timeout passes.
    /// - Throws: `KafkaError.timedOut` naming how many records are still outstanding.
    public func flush(timeout: Duration = .seconds(30)) async throws {
        let rk = client
        let ms = timeout.milliseconds
        try await Blocking.run {
            let err = rd_kafka_flush(rk.handle, ms)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(err, "flush left \(rd_kafka_outq_len(rk.handle)) records undelivered")
            }
        }
    }

    /// Flushes (bounded by `timeout`), stops the poll thread and frees the client. Records still
    /// undelivered after the timeout fail with `_DESTROY` in their reports. Idempotent.
    public func shutdown(timeout: Duration = .seconds(30)) async {
        guard state.beginShutdown() else { return }
        do { try await flush(timeout: timeout) } catch {
            client.logger.warning("producer shutdown before all records were delivered", metadata: ["error": "\(error)"])
        }
        // Purge what is left so the remaining batches complete with an error instead of hanging.
        rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        client.stopPolling()
        _ = rd_kafka_poll(client.handle, 0)
        client.destroy()
    }

    deinit {
        if state.beginShutdown() {
            rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            client.stopPolling()
            _ = rd_kafka_poll(client.handle, 0)
            client.destroy()
        }
    }
}

/// One-way "shut down" flag guarded by a lock.
final class ShutdownState: @unchecked Sendable {
    private let lock = NSLock()
    private var shutDown = false
    var isShutDown: Bool { lock.withLock { shutDown } }
    /// Returns true for the one caller that performs the shutdown.
    func beginShutdown() -> Bool {
        lock.withLock {
            defer { shutDown = true }
            return !shutDown
        }
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let bytes { return bytes.withUnsafeBytes(body) }
    return body(UnsafeRawBufferPointer(start: nil, count: 0))
}

// MARK: - Delivery reports

/// Collects the delivery reports of one `sendBatch` call.
///
/// Each record's librdkafka opaque points at its own slot in one allocation, so a batch costs
/// no per-record object. The batch keeps itself alive (one retain) until its last report arrives.
final class DeliveryBatch: @unchecked Sendable {
    struct Slot {
        var batch: UnsafeMutableRawPointer
        var index: Int
        /// Monotonic time the record was handed to librdkafka, for its delivery latency.
        var enqueuedNanos: UInt64 = 0
    }

    private let lock = NSLock()
    private var pending: Int
    private var results: [KafkaDeliveryReport]
    private var continuation: CheckedContinuation<[KafkaDeliveryReport], Never>?
    private let slots: UnsafeMutablePointer<Slot>

    init(messages: [KafkaProducerMessage]) {
        pending = messages.count
        results = messages.map { KafkaDeliveryReport(topic: $0.topic, partition: $0.partition ?? -1, offset: nil, error: nil) }
        slots = .allocate(capacity: messages.count)
        let me = Unmanaged.passRetained(self).toOpaque()
        for i in messages.indices { (slots + i).initialize(to: Slot(batch: me, index: i)) }
    }

    deinit { slots.deallocate() }

    /// The record's opaque for librdkafka, stamped with the time it is enqueued.
    func slot(_ index: Int) -> UnsafeMutableRawPointer {
        (slots + index).pointee.enqueuedNanos = DispatchTime.now().uptimeNanoseconds
        return UnsafeMutableRawPointer(slots + index)
    }

    func complete(_ index: Int, partition: Int32, offset: Int64?, error: KafkaError?) {
        let latency = Duration.nanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- slots[index].enqueuedNanos))
        let (isLast, waiter): (Bool, CheckedContinuation<[KafkaDeliveryReport], Never>?) = lock.withLock {
            results[index].partition = partition
            results[index].offset = offset
            results[index].error = error
            results[index].latency = latency
            pending -= 1
            guard pending == 0 else { return (false, nil) }
            defer { continuation = nil }
            return (true, continuation)
        }
        guard isLast else { return }
        waiter?.resume(returning: lock.withLock { results })
        Unmanaged.passUnretained(self).release()
    }

    func reports() async -> [KafkaDeliveryReport] {
        await withCheckedContinuation { continuation in
            let done: [KafkaDeliveryReport]? = lock.withLock {
                if pending == 0 { return results }
                self.continuation = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

private let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = { _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let slot = opaque.assumingMemoryBound(to: DeliveryBatch.Slot.self).pointee
    let batch = Unmanaged<DeliveryBatch>.fromOpaque(slot.batch).takeUnretainedValue()
    let err = message.pointee.err
    batch.complete(
        slot.index,
        partition: message.pointee.partition,
        offset: err == RD_KAFKA_RESP_ERR_NO_ERROR ? message.pointee.offset : nil,
        error: err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err, "delivery to \(rd_kafka_topic_name(message.pointee.rkt).map { String(cString: $0) } ?? "?")")
    )
}
