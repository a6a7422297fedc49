#include "CRawProducer.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint64_t *enqueued_ns;
    uint64_t *latencies_ns;
    int failed;
    int delivered;
    uint64_t last_ns;
} bench_state;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    bench_state *state = opaque;
    size_t index = (size_t)(uintptr_t)m->_private;
    uint64_t t = now_ns();
    state->latencies_ns[index] = t - state->enqueued_ns[index];
    state->last_ns = t;
    state->delivered++;
    if (m->err) state->failed++;
}

int medbus_raw_produce(const char *brokers, const char *topic,
                       const char *const *conf_keys, const char *const *conf_values, size_t conf_count,
                       int count, const void *payload, int payload_size, int key_count, int window,
                       uint64_t *latencies_ns, uint64_t *elapsed_ns,
                       char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) != RD_KAFKA_CONF_OK) goto conf_error;
    for (size_t i = 0; i < conf_count; i++) {
        if (rd_kafka_conf_set(conf, conf_keys[i], conf_values[i], errstr, errstr_size) != RD_KAFKA_CONF_OK) goto conf_error;
    }
    bench_state state = {.enqueued_ns = calloc((size_t)count, sizeof(uint64_t)), .latencies_ns = latencies_ns};
    rd_kafka_conf_set_opaque(conf, &state);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!rk) {
        free(state.enqueued_ns);
        goto conf_error;
    }

    char key[32];
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    uint64_t start = now_ns();
    for (int i = 0; i < count; i++) {
        while (window > 0 && i - state.delivered >= window) rd_kafka_poll(rk, 1);
        int key_len = snprintf(key, sizeof key, "key-%d", i % key_count);
        state.enqueued_ns[i] = now_ns();
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_produce(
                rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                (void *)payload, (size_t)payload_size, key, (size_t)key_len, (void *)(uintptr_t)i) == -1
                ? rd_kafka_last_error() : RD_KAFKA_RESP_ERR_NO_ERROR;
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                snprintf(errstr, errstr_size, "produce: %s", rd_kafka_err2str(err));
                free(state.enqueued_ns);
                rd_kafka_topic_destroy(rkt);
                rd_kafka_destroy(rk);
                return -1;
            }
            rd_kafka_poll(rk, 1);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    *elapsed_ns = state.last_ns - start;
    rd_kafka_topic_destroy(rkt);
    free(state.enqueued_ns);
    rd_kafka_destroy(rk);
    return state.failed;

conf_error:
    rd_kafka_conf_destroy(conf);
    return -1;
}
