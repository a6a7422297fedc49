#!/usr/bin/env bash
# Makes TEST certificates and keys (never use them in production):
#   ca.pem / ca.key                        the trusted test CA (give ca.pem to the listener as clientCA)
#   server.pem / server.key                the listener's certificate: localhost, 127.0.0.1 (SAN)
#   client.pem / client.key                a hospital's client certificate, CN H37010200001, signed by ca
#   other-hospital.pem / .key              a trusted client certificate of another hospital (CN H37010299999)
#   untrusted-ca.pem / untrusted-ca.key    a second CA the listener does not trust
#   untrusted-client.pem / .key            a client certificate with the SAME CN, signed by untrusted-ca:
#                                          it must be refused, because the CN alone proves nothing
#   revoked-client.pem / .key              a client certificate of ca (CN H37010200001) that ca revoked
#   crl-none-revoked.pem                   ca's CRL before that revocation (revokes nothing)
#   crl.pem                                ca's CRL listing revoked-client (give it as tlsClientCRL)
# and, for each hospital code given (default H37010200001):
#   hospitals/CODE/server.pem / .key       the hospital's TLS server certificate (EC P-256, signed by ca;
#                                          SAN localhost, 127.0.0.1, CODE.hospital.test)
#   hospitals/CODE/client.pem / .key       its TLS client certificate, CN CODE, signed by ca
#   hospitals/CODE/sm2-signing.key / .pem  its SM2 prescription-signing key (PKCS#8) and certificate
#                                          (SM2-with-SM3, signed by sm2-ca)
#   hospitals/CODE/rx-app-secret           a random appSecret for the e-prescription centre (simulator)
# plus the national-algorithm side:
#   sm2-ca.pem / sm2-ca.key                the test CA of the SM2 signing certificates. OpenSSL 3.0 verifies
#                                          them only with the distinguishing id given:
#                                          openssl verify -CAfile sm2-ca.pem -vfyopt distid:1234567812345678 X.pem
#   rx-centre/sm2-signing.key / .pem       the simulated e-prescription centre's SM2 key and certificate
# Usage: scripts/make-test-ca.sh DIR [HOSPITAL_CODE ...]
set -euo pipefail

dir=${1:?usage: $0 DIR [HOSPITAL_CODE ...]}
shift
hospitals=("${@:-H37010200001}")
for code in "${hospitals[@]}"; do
    [[ $code =~ ^[A-Za-z0-9]+$ ]] || { echo "hospital code '$code' must be letters and digits" >&2; exit 2; }
done
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

# Revocation: `openssl ca` keeps its state in an index file; the CRLs are valid for 30 days.
make_leaf revoked-client "/O=MedBus Test/CN=H37010200001" ca "extendedKeyUsage=clientAuth"
mkdir -p ca-state
: > ca-state/index.txt
echo 1000 > ca-state/crlnumber
printf '%s\n' "[ca]" "default_ca = test" "[test]" "database = ca-state/index.txt" \
    "crlnumber = ca-state/crlnumber" "default_md = sha256" "default_crl_days = 30" > ca-state/ca.cnf
openssl ca -config ca-state/ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out crl-none-revoked.pem 2>/dev/null
openssl ca -config ca-state/ca.cnf -keyfile ca.key -cert ca.pem -revoke revoked-client.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config ca-state/ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out crl.pem 2>/dev/null

make_ca untrusted-ca "/O=Somebody Else/CN=Untrusted Test CA"
make_leaf untrusted-client "/O=Somebody Else/CN=H37010200001" untrusted-ca "extendedKeyUsage=clientAuth"

# SM2 with SM3 under the default distinguishing id (GB/T 35276), as the insurance platforms use.
sm2=(-sm3 -sigopt distid:1234567812345678)

make_sm2_ca() { # name subject
    openssl genpkey -algorithm SM2 -out "$1.key" 2>/dev/null
    openssl req -x509 -key "$1.key" "${sm2[@]}" -out "$1.pem" -days 3650 -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_sm2_leaf() { # path subject ca
    openssl genpkey -algorithm SM2 -out "$1.key" 2>/dev/null
    openssl req -new -key "$1.key" "${sm2[@]}" -subj "$2" -out "$1.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,nonRepudiation" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" "${sm2[@]}" -vfyopt distid:1234567812345678 \
        -set_serial "0x$(openssl rand -hex 8)" -days 825 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

make_sm2_ca sm2-ca "/O=MedBus Test/CN=MedBus Test SM2 CA"
mkdir -p rx-centre
make_sm2_leaf rx-centre/sm2-signing "/O=MedBus Test/CN=Test E-Prescription Centre" sm2-ca

for code in "${hospitals[@]}"; do
    mkdir -p "hospitals/$code"
    make_leaf "hospitals/$code/server" "/O=MedBus Test/CN=$code" ca \
        "$(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:%s.hospital.test\nextendedKeyUsage=serverAuth' "$code")"
    make_leaf "hospitals/$code/client" "/O=MedBus Test/CN=$code" ca "extendedKeyUsage=clientAuth"
    make_sm2_leaf "hospitals/$code/sm2-signing" "/O=MedBus Test/CN=$code" sm2-ca
    (umask 077; openssl rand -hex 16 > "hospitals/$code/rx-app-secret")
done

chmod 600 ./*.key ./*/*.key hospitals/*/*.key
echo "test certificates and keys written to $dir (hospitals: ${hospitals[*]})"
