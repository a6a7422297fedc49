#!/usr/bin/python3
"""A full demo run of `medbus serve`, checked from the outside (issue 8).

Starts `medbus serve` on the embedded cluster at the most verbose log level (MEDBUS_LOG_LEVEL=trace)
with an MLLP HIS adapter, the HTTP HIS adapter, a 120 dispatch adapter, settlement (with the
reference insurers) and prescriptions; drives the sample patients through all of them (ADT and
RDE^O11 over MLLP, a FHIR Bundle over HTTP, a settlement over the settlement API, a prescription
claimed over rx.commands and reviewed and dispensed over HTTP, a CAD event over TCP) and an
operator's views over the admin API. Then:

  * contracts: reads every topic with confluent-kafka and validates each JSON record against the
    schema deploy/contracts.yaml names for its channel (Draft 2020-12, formats checked); every
    message kind in --require must have at least one valid record, and no record may fail;
  * PHI: none of the sample patients' names, ids, certificate or phone numbers, and no API token,
    appears anywhere in the process's stdout or stderr.

Prints a JSON summary; exits 1 when a check fails. Usage:
  /usr/bin/python3 scripts/demo-run-check.py --medbus .build/debug/medbus [--keep DIR]
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from datetime import datetime, timedelta, timezone

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from jsonschema import Draft202012Validator, FormatChecker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHINA = timezone(timedelta(hours=8))

# What the sample data says about its patients (Adapters/samples, the CAD event below): none may be logged.
PHI = [
    "李明华", "明华", "晓燕", "MINGHUA", "ZY2025000123", "MZ2025004567", "370102199001011234", "370103198505052345",
    "YB3701000012345", "13800000000", "13700000000", "86001234", "13900000000", "泉城路", "经十路",
    "王秘密", "370102196505054321", "13912345678",
]
REQUIRED = ["nhsaRequest", "nhsaReply", "rxIssued", "rxAvailable", "rxCommand", "rxCommandResult", "rxEvent",
            "mappingAnnouncement", "auditRecord", "patient", "settlementRequest", "settlementResult", "dispatchEvent"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def http(method, url, body=None, token=None, timeout=60):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/fhir+json" if url.endswith("/fhir") else "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def mllp(port, message):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\x0b" + message.encode() + b"\x1c\x0d")
        answer = b""
        while not answer.endswith(b"\x1c\x0d"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


def sample(name):
    with open(os.path.join(ROOT, "Adapters/samples", name), encoding="utf-8") as f:
        return f.read().replace("\r\n", "\r").replace("\n", "\r").rstrip("\r")


class Serve:
    def __init__(self, medbus, arguments, directory):
        self.out_path, self.err_path = directory + "/serve.stdout", directory + "/serve.stderr"
        self.process = subprocess.Popen([medbus, "serve"] + arguments, cwd=ROOT, stdin=subprocess.DEVNULL,
                                        stdout=open(self.out_path, "wb"), stderr=open(self.err_path, "wb"),
                                        env=dict(os.environ, MEDBUS_LOG_LEVEL="trace"))

    def stdout(self):
        return open(self.out_path, encoding="utf-8", errors="replace").read()

    def stderr(self):
        return open(self.err_path, encoding="utf-8", errors="replace").read()

    def line(self, pattern, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            match = re.search(pattern, self.stdout(), re.M)
            if match:
                return match
            if self.process.poll() is not None:
                raise RuntimeError(f"medbus serve exited {self.process.returncode}: {self.stderr()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"no line matching {pattern!r}: {self.stdout()[-2000:]}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for(what, condition, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def read_topics(bootstrap):
    """Every record of every topic (but librdkafka's own), from the beginning."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"demo-check-{time.time()}", "enable.auto.commit": False})
    topics = [t for t in consumer.list_topics(timeout=10).topics if not t.startswith("__")]
    records = {}
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = []
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                partitions.append((TopicPartition(topic, p, low), high))
        if not partitions:
            continue
        consumer.assign([tp for tp, _ in partitions])
        remaining = {tp.partition: high for tp, high in partitions}
        deadline = time.time() + 20
        while remaining and time.time() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            records.setdefault(topic, []).append(message)
            if message.offset() + 1 >= remaining.get(message.partition(), 0):
                remaining.pop(message.partition(), None)
        consumer.unassign()
    consumer.close()
    return records


def contract_validators():
    """(address regex, {message name: validator or None}) per channel of deploy/contracts.yaml."""
    contracts = yaml.safe_load(open(os.path.join(ROOT, "deploy/contracts.yaml"), encoding="utf-8"))
    channels = []
    for name, channel in contracts["channels"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^.]+", re.escape(channel["address"])) + "$"
        messages = {}
        for message_name, message in channel["messages"].items():
            payload = message.get("payload") or {}
            path = (os.path.join(ROOT, "Mappings/schemas", payload["schema"]) if "schema" in payload
                    else os.path.join(ROOT, "deploy/schemas", payload["contract"]) if "contract" in payload else None)
            if path:
                messages[message_name] = Draft202012Validator(json.load(open(path, encoding="utf-8")), format_checker=FormatChecker())
            else:
                messages[message_name] = None
        channels.append((re.compile(pattern), name, messages))
    return channels


def check_contracts(records):
    channels = contract_validators()
    valid, errors, unmatched = {}, [], []
    for topic, messages in sorted(records.items()):
        channel = next((c for c in channels if c[0].match(topic)), None)
        if channel is None:
            unmatched.append(topic)
            continue
        schemas = {name: v for name, v in channel[2].items() if v is not None}
        if not schemas:
            continue
        for record in messages:
            try:
                document = json.loads(record.value())
            except (ValueError, TypeError):
                errors.append(f"{topic}@{record.partition()}:{record.offset()}: not JSON")
                continue
            # A channel with several messages: the record must be one of them.
            failures = {}
            for name, validator in schemas.items():
                found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
                if not found:
                    valid[name] = valid.get(name, 0) + 1
                    break
                failures[name] = found[:3]
            else:
                errors.append(f"{topic}@{record.partition()}:{record.offset()}: {failures}")
    return valid, errors, unmatched


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--medbus", required=True)
    parser.add_argument("--keep", help="keep the run's folder here (logs, data)")
    parser.add_argument("--require", default=",".join(REQUIRED))
    arguments = parser.parse_args()
    medbus = os.path.abspath(arguments.medbus)
    directory = arguments.keep or tempfile.mkdtemp(prefix="medbus-demo-")
    os.makedirs(directory + "/adapters", exist_ok=True)
    os.makedirs(directory + "/none", exist_ok=True)
    summary = {"failures": []}

    # Adapters on free ports; the prescription service with an SM2 key made by openssl; the NHSA
    # adapter calling the demo simulator on a free port.
    write(directory + "/adapters/his.yaml", "kind: hl7v2-mllp\nname: his-demo\nsender: H37010200001\nlisten: 127.0.0.1:0\nmappingSet: his-default\n")
    write(directory + "/adapters/http.yaml", "kind: http-his\nname: http-demo\nsender: H37010200001\nlisten: 127.0.0.1:0\nmappingSet: his-default\n")
    write(directory + "/adapters/cad.yaml", "kind: dispatch-120\nname: cad-demo\nsender: JN120\nlisten: 127.0.0.1:0\n"
          "options:\n  vitalSigns: Mappings/dispatch/vital-signs.csv\n")
    key, certificate = directory + "/h.sm2.key.pem", directory + "/h.sm2.cert.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-sm3", "-sigopt", "distid:1234567812345678",
                    "-subj", "/CN=H37010200001", "-days", "30", "-out", certificate], check=True, capture_output=True)
    write(directory + "/rx-service.yaml", f"kind: rx-service\nname: rx-demo\nlisten: 127.0.0.1:0\n"
          f"drugTable: {ROOT}/Mappings/codes/rx-circulation-drugs.csv\nhospitals:\n"
          f"  - {{ code: H37010200001, region: \"370100\", key: {key}, certificate: {certificate} }}\n")
    nhsa = open(os.path.join(ROOT, "Adapters/insurers/insurer-nhsa.yaml"), encoding="utf-8").read()
    write(directory + "/nhsa.yaml", nhsa.replace("127.0.0.1:8091", f"127.0.0.1:{free_port()}"))

    data = directory + "/data"
    serve = Serve(medbus, ["--data-dir", data, "--topics", "deploy/topics.yaml", "--adapters", directory + "/adapters",
                           "--destinations", directory + "/none", "--rx-service", directory + "/rx-service.yaml",
                           "--nhsa-adapter", directory + "/nhsa.yaml", "--settlement-api", "127.0.0.1:0",
                           "--admin-port", "127.0.0.1:0", "--kafka-option", "session.timeout.ms=6000"], directory)
    tokens = []
    try:
        mllp_port = int(serve.line(r"^Adapter his-demo \(hl7v2-mllp\) listening on [\d.]+:(\d+)").group(1))
        http_port = int(serve.line(r"^Adapter http-demo \(http-his\) listening on [\d.]+:(\d+)").group(1))
        cad_port = int(serve.line(r"^Adapter cad-demo \(dispatch-120\) listening on [\d.]+:(\d+)").group(1))
        settlement_api = serve.line(r"^Settlement API listening on (\S+)").group(1)
        rx_api = serve.line(r"^Prescription API listening on (\S+)").group(1)
        admin = serve.line(r"^Admin API: (http://\S+)").group(1)
        bootstrap = serve.line(r"^Kafka bootstrap: (\S+)").group(1)

        made = subprocess.run([medbus, "token", "create", "--role", "operator", "--name", "demo-ops", "--data-dir", data],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        token = made.stdout.strip()
        tokens.append(token)

        # HIS: admissions and a lab result over MLLP, a prescription order written now (its validity counts from ORC-9).
        now = datetime.now(CHINA).strftime("%Y%m%d%H%M%S")
        acks = [mllp(mllp_port, sample(name)) for name in ["adt_a01.hl7", "adt_a04.hl7", "oru_r01.hl7", "dft_p03.hl7"]]
        acks.append(mllp(mllp_port, sample("rde_o11.hl7").replace("20250115120000", now)))
        if not all("MSA|AA" in a or "MSA|CA" in a for a in acks):
            summary["failures"].append(f"MLLP not acknowledged: {acks}")
        status, body = http("POST", f"http://127.0.0.1:{http_port}/fhir",
                            open(os.path.join(ROOT, "Adapters/samples/fhir_patient_encounter_bundle.json"), "rb").read())
        if status not in (200, 201, 202):
            summary["failures"].append(f"FHIR POST: {status} {body[:300]}")

        # A settlement for the first sample patient (certificate number as the HIS knows it).
        request = {"chrg_bchno": "CB" + now, "encounterId": "ENC-" + now, "patientId": "ZY2025000123", "fixmedins_code": "H37010200001",
                   "med_type": "11", "mdtrt_cert_type": "02", "mdtrt_cert_no": "370102199001011234", "insutype": "310",
                   "feedetail": [{"feedetl_sn": "1", "medins_list_codg": "M1", "med_list_codg": "XA01", "cnt": 1, "pric": 56.5,
                                  "det_item_fee_sumamt": 56.5}]}
        status, body = http("POST", settlement_api + "?wait=30", request)
        settlement = json.loads(body) if body.startswith("{") else {}
        summary["settlementState"] = settlement.get("state")
        if status not in (200, 201, 202):
            summary["failures"].append(f"settlement POST: {status} {body[:300]}")

        # The prescription: claimed over Kafka (rx.commands → rx.command-results), reviewed and dispensed over HTTP.
        def available():
            records = read_topics(bootstrap).get("rx.available.370100", [])
            return json.loads(records[0].value()) if records else None
        rx = wait_for("the prescription on rx.available.370100", available)
        rx_id = rx["rxId"]
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        producer.produce("rx.commands", key=rx_id, value=json.dumps({"commandId": "cmd-" + now, "rxId": rx_id, "action": "claim",
                                                                     "pharmacyCode": "P3701001"}))
        producer.flush(30)
        wait_for("the claim's result", lambda: read_topics(bootstrap).get("rx.command-results"))
        for operation, payload in [("review", {"pharmacyCode": "P3701001", "decision": "approve", "pharCode": "PH1"}),
                                   ("dispense", {"pharmacyCode": "P3701001", "seltdelts": [
                                       {"med_list_codg": "XJ01DDT085B002010101445", "drug_totlcnt": "6", "bchno": "B2401", "pric": "12.50", "sumamt": "75.00"},
                                       {"med_list_codg": "XJ01XDJ057B002020100213", "drug_totlcnt": "3", "bchno": "C0917", "pric": "8.00", "sumamt": "24.00"}]})]:
            status, body = http("POST", f"{rx_api}/{rx_id}/{operation}", payload)
            if status != 200:
                summary["failures"].append(f"rx {operation}: {status} {body[:300]}")

        # A 120 task over TCP: dispatched, then leaving the scene with the patient for the hospital.
        at = datetime.now(CHINA).replace(microsecond=0)
        lines = [
            {"eventId": "E1-" + now, "taskId": "T-" + now, "centreCode": "JN120", "stage": "dispatched", "occurredAt": at.isoformat(),
             "callPhone": "13912345678"},
            {"eventId": "E2-" + now, "taskId": "T-" + now, "centreCode": "JN120", "stage": "left-scene", "occurredAt": (at + timedelta(minutes=12)).isoformat(),
             "destinationHospital": "H37010200001", "eta": (at + timedelta(minutes=30)).isoformat(),
             "patient": {"name": "王秘密", "gender": "male", "age": 61, "idNumber": "370102196505054321"},
             "vitals": [{"code": "sbp", "value": 150}]},
        ]
        with socket.create_connection(("127.0.0.1", cad_port), timeout=30) as s:
            s.sendall("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode())
            answers = b""
            while answers.count(b"\n") < len(lines):
                chunk = s.recv(65536)
                if not chunk:
                    break
                answers += chunk
        if answers.count(b"accepted") != len(lines):
            summary["failures"].append(f"CAD events: {answers[:300]!r}")

        # The operator's views, each audited (→ medbus.audit).
        wait_for("the task timeline", lambda: http("GET", f"{admin}/v1/dispatch/tasks/T-{now}", token=token)[0] == 200, timeout=60)
        views = {path: http("GET", admin + path, token=token)[0] for path in [
            "/v1/settlements", f"/v1/prescriptions/{rx_id}?document=true", f"/v1/dispatch/tasks/T-{now}", "/v1/messages?limit=5"]}
        summary["views"] = views
        if any(s != 200 for s in views.values()):
            summary["failures"].append(f"admin views: {views}")

        wait_for("the audit records on medbus.audit", lambda: len(read_topics(bootstrap).get("medbus.audit", [])) >= 3, timeout=30)
        time.sleep(2)  # the router's last batch, the outbox's last events
        records = read_topics(bootstrap)
        valid, errors, unmatched = check_contracts(records)
        summary.update({"topics": {t: len(r) for t, r in sorted(records.items())}, "valid": valid, "schemaErrors": errors[:20],
                        "unmatchedTopics": unmatched})
        if errors:
            summary["failures"].append(f"{len(errors)} records do not match their schema")
        if unmatched:
            summary["failures"].append(f"topics without a channel in deploy/contracts.yaml: {unmatched}")
        missing = [name for name in arguments.require.split(",") if name and not valid.get(name)]
        if missing:
            summary["failures"].append(f"no valid record of {missing}")
    except Exception as error:  # the summary says what went wrong; the logs are checked all the same
        summary["failures"].append(f"{type(error).__name__}: {error}")
    finally:
        serve.stop()

    # PHI and tokens: nothing of the sample patients, no token secret, anywhere in the output.
    output = serve.stdout() + serve.stderr()
    summary["logBytes"] = len(output.encode())
    summary["logLines"] = output.count("\n")
    secrets = PHI + [t.split("_")[-1] for t in tokens]
    leaks = sorted({s for s in secrets if s in output})
    summary["leaks"] = [s if s in PHI else "<token>" for s in leaks]
    for leak in leaks:
        if leak in PHI:
            context = [line[:400] for line in output.splitlines() if leak in line][:3]
            summary["failures"].append(f"{leak} in the output: {context}")
        else:
            summary["failures"].append("an API token in the output")
    if not arguments.keep:
        shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
