#!/usr/bin/env bash
# Installs the system packages MedBus builds and tests with (Debian/Ubuntu), only if missing.
# Run as root (or with sudo available); prints what is missing otherwise.
set -euo pipefail

packages=(
  pkg-config          # finds librdkafka for the CRdKafka system-library target
  librdkafka-dev      # Kafka client and the mock cluster used as embedded Kafka
  libsqlite3-dev      # the store (GRDB links the system SQLite)
  libssl-dev          # TLS and national cryptography (SM2/SM3/SM4)
  kcat                # independent Kafka client used by the interoperability tests
  python3-confluent-kafka  # second independent client (Debian's /usr/bin/python3)
  libpq-dev           # PostgreSQL client library: the intermediate-table adapter (CLibPQ)
  postgresql          # a real PostgreSQL server the intermediate-table tests start (initdb + pg_ctl)
  python3-jsonschema  # validates what that client reads against the topic contracts (settlement tests, scripts/demo-run-check.py)
  libcurl4            # FoundationNetworking (URLSession): the CLI's --server client of the admin API
  openssl             # the openssl command: makes SM2 keys and independently verifies signatures (prescription tests)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: 'swift' is not on PATH; install Swift 6 first (https://www.swift.org/install/)" >&2
  exit 1
fi
# From PyPI: `hl7` (its MLLP client is an independent sender for the adapter tests),
# `hl7apy` (an independent HL7 parser the parser tests compare against).
# `jsonschema` and `PyYAML` run Mappings/check.py, the static check of the mapping files.
# deploy/check.py (static check of deploy/) also validates against the Kubernetes API schemas
# (`kubernetes-validate`, offline), the Compose Specification (`compose-spec`) and the AsyncAPI 3.0
# object model (`asyncapi3`). `zeep` is the independent SOAP client of the SOAP adapter tests (reads the WSDL).
if ! python3 -c "import hl7.client, hl7apy, jsonschema, yaml, kubernetes_validate, compose_spec, asyncapi3, zeep" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore hl7==0.4.5 hl7apy "jsonschema>=4" pyyaml \
    kubernetes-validate==1.37.0 compose-spec==0.2.1 asyncapi3==0.0.2 "zeep>=4.2" >&2
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-deps: missing packages ${missing[*]}; run as root or install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
