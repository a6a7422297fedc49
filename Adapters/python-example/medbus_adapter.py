#!/usr/bin/python3
"""A MedBus adapter in Python: HL7 v2 files → raw.his.<sender>, following the adapter contract.

Usage: /usr/bin/python3 medbus_adapter.py --brokers B --sender H37010200001 FILE...

Each FILE holds one HL7 v2 message (segments separated by CR or LF). For each, the adapter
produces one record with an idempotent producer and acks=all, keyed by the patient id (PID-3.1),
carrying the MedBus envelope headers, and prints `ACK <MSH-10> <partition>@<offset>` only after
Kafka's delivery report (the point where a real adapter would answer its sender), or
`NAK <MSH-10> <reason>` (the sender must retry). Exit status 1 if any message was not delivered.
The message id is derived from sender + MSH-10, so a retransmitted file keeps its id and
consumers (the router) de-duplicate it.
"""
import argparse, datetime, sys, uuid
from confluent_kafka import Producer


def envelope(hl7: bytes, sender: str):
    segments = [s for s in hl7.replace(b"\n", b"\r").split(b"\r") if s]
    msh = segments[0].decode("utf-8").split("|")
    pid = next((s.decode("utf-8").split("|") for s in segments if s.startswith(b"PID|")), [])
    control_id, message_type = msh[9], "^".join(msh[8].split("^")[:2])
    patient = pid[3].split("^")[0] if len(pid) > 3 else control_id
    headers = {
        "medbus-message-id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"medbus:his.{sender}:{msh[3]}|{control_id}")),
        "medbus-source": f"his.{sender}",
        "medbus-message-type": message_type,
        "content-type": "x-application/hl7-v2+er7; charset=utf-8",
        "medbus-received-at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "medbus-source-message-id": f"{msh[3]}|{control_id}",
    }
    return control_id, patient, b"\r".join(segments) + b"\r", headers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--sender", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    producer = Producer({"bootstrap.servers": args.brokers, "enable.idempotence": True, "acks": "all",
                         "partitioner": "murmur2_random", "linger.ms": 1})
    failed = 0
    for path in args.files:
        with open(path, "rb") as f:
            control_id, key, payload, headers = envelope(f.read(), args.sender)
        report = {}
        producer.produce(f"raw.his.{args.sender}", key=key, value=payload, headers=list(headers.items()),
                         on_delivery=lambda err, msg: report.update(err=err, msg=msg))
        producer.flush(30)
        if report.get("err") is None and "msg" in report:
            print(f"ACK {control_id} {report['msg'].partition()}@{report['msg'].offset()}", flush=True)
        else:
            failed += 1
            print(f"NAK {control_id} {report.get('err', 'no delivery report')}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
