#!/usr/bin/env bash
# Makes TEST certificates for MLLP over TLS (never use them in production):
#   ca.pem / ca.key                        the trusted test CA (give ca.pem to the listener as clientCA)
#   server.pem / server.key                the listener's certificate: localhost, 127.0.0.1 (SAN)
#   client.pem / client.key                a hospital's client certificate, CN H37010200001, signed by ca
#   untrusted-ca.pem / untrusted-ca.key    a second CA the listener does not trust
#   untrusted-client.pem / .key            a client certificate with the SAME CN, signed by untrusted-ca:
#                                          it must be refused, because the CN alone proves nothing
# Usage: scripts/make-test-ca.sh DIR
set -euo pipefail

dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
cd "$dir"

# P-256 keys: quick to generate, accepted by every TLS 1.2+ stack.
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

make_ca() { # name subject
    openssl req -x509 "${newkey[@]}" -keyout "$1.key" -out "$1.pem" -days 3650 -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_leaf() { # name subject ca extensions
    openssl req -new "${newkey[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 825 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

make_ca ca "/O=MedBus Test/CN=MedBus Test CA"
make_leaf server "/O=MedBus Test/CN=localhost" ca \
    "$(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth')"
make_leaf client "/O=MedBus Test/CN=H37010200001" ca "extendedKeyUsage=clientAuth"
# Trusted, but another hospital: may not send as H37010200001.
make_leaf other-hospital "/O=MedBus Test/CN=H37010299999" ca "extendedKeyUsage=clientAuth"

make_ca untrusted-ca "/O=Somebody Else/CN=Untrusted Test CA"
make_leaf untrusted-client "/O=Somebody Else/CN=H37010200001" untrusted-ca "extendedKeyUsage=clientAuth"

chmod 600 ./*.key
echo "test certificates written to $dir"
