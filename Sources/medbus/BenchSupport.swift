import CRawProducer
import Foundation

/// One benchmark run's result.
struct Sample {
    var throughput: Double
    var p50: Duration
    var p99: Duration
    var failed: Int
}

func sample(latencies: [Duration], elapsed: Duration, failed: Int) -> Sample {
    let sorted = latencies.sorted()
    return Sample(throughput: Double(latencies.count) / seconds(elapsed),
                  p50: sorted[sorted.count / 2], p99: sorted[min(sorted.count - 1, sorted.count * 99 / 100)], failed: failed)
}

/// The baseline of every benchmark: the C producer (`CRawProducer`) of the same payloads, with
/// the same producer properties, on its own thread; `window` > 0 bounds the records in flight.
func rawProduce(bootstrap: String, topic: String, payload: [UInt8], count: Int, keys: Int, window: Int = 0, properties: [String: String]) async throws -> Sample {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            var latencies = [UInt64](repeating: 0, count: count)
            var elapsed: UInt64 = 0
            var errstr = [CChar](repeating: 0, count: 512)
            let pairs = properties.sorted { $0.key < $1.key }
            let keyStrings = pairs.map { strdup($0.key) }
            let valueStrings = pairs.map { strdup($0.value) }
            defer { (keyStrings + valueStrings).forEach { free($0) } }
            let failed = keyStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { keyPtrs in
                valueStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { valuePtrs in
                    payload.withUnsafeBytes { body in
                        medbus_raw_produce(bootstrap, topic, keyPtrs.baseAddress, valuePtrs.baseAddress, pairs.count,
                                           Int32(count), body.baseAddress, Int32(body.count), Int32(keys), Int32(window), &latencies, &elapsed, &errstr, errstr.count)
                    }
                }
            }
            guard failed >= 0 else {
                continuation.resume(throwing: CommandFailure("raw baseline: \(errstr.cString)"))
                return
            }
            continuation.resume(returning: sample(latencies: latencies.map { .nanoseconds(Int64($0)) }, elapsed: .nanoseconds(Int64(elapsed)), failed: Int(failed)))
        }
    }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func ms(_ d: Duration) -> String { ms(seconds(d)) }
func ms(_ seconds: Double) -> String { String(format: "%.1f", seconds * 1000) }

extension Array where Element == CChar {
    var cString: String { String(decoding: prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
}
