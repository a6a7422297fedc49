#ifndef MEDBUS_CRAWPRODUCER_H
#define MEDBUS_CRAWPRODUCER_H
#include <stddef.h>
#include <stdint.h>

/// The benchmark baseline: a plain librdkafka producer with no Swift in the loop.
/// Produces `count` copies of `payload` (`payload_size` bytes) to `topic`, keyed "key-<i % key_count>",
/// with the configuration given as `conf_count` key/value pairs, then flushes. With `window` > 0
/// at most that many records are in flight at once (like `window` senders each waiting for its
/// acknowledgement); 0 puts every record in flight.
/// On return, `latencies_ns[i]` holds enqueue → delivery-report time of record i, and
/// `*elapsed_ns` the wall time from first enqueue to last report.
/// Returns the number of records whose delivery failed, or -1 with `errstr` set.
int medbus_raw_produce(const char *brokers, const char *topic,
                       const char *const *conf_keys, const char *const *conf_values, size_t conf_count,
                       int count, const void *payload, int payload_size, int key_count, int window,
                       uint64_t *latencies_ns, uint64_t *elapsed_ns,
                       char *errstr, size_t errstr_size);
#endif
