#!/usr/bin/env bash
# The openssl recipe for hypersweep's TLS: a private CA and a server certificate for hypersweepd.
#
#   deploy/tls/make-certs.sh OUT_DIR NAME [NAME...]
#
# NAMEs are the DNS names and IP addresses workers and the CLI dial (the certificate's
# subjectAltName; gRPC checks the name in --server against it, the CN is not used). Writes, in
# OUT_DIR (mode 700):
#   ca.crt      give to workers (--tls-ca / HYPERSWEEP_TLS_CA) and the CLI
#   ca.key      keep offline; it signs further server certificates
#   server.crt  hypersweepd --tls-cert
#   server.key  hypersweepd --tls-key (readable by hypersweepd's user only)
# An existing ca.key is reused, so re-running with new names re-issues only the server certificate.
# Example: deploy/tls/make-certs.sh ~/hypersweep/tls coord.cluster.example 10.1.2.3 localhost 127.0.0.1
set -euo pipefail

out=${1:?usage: make-certs.sh OUT_DIR NAME [NAME...]}
shift
[ $# -ge 1 ] || { echo "usage: make-certs.sh OUT_DIR NAME [NAME...]" >&2; exit 2; }
days=${HYPERSWEEP_CERT_DAYS:-825}

umask 077
mkdir -p "$out"
cd "$out"

# 1. The CA: a self-signed certificate that may sign others (basicConstraints CA:true).
if [ ! -s ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes -days 3650 \
    -keyout ca.key -out ca.crt -subj "/CN=hypersweep CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null
fi

# 2. The server key and a certificate request.
san=
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
san=${san%,}
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes -keyout server.key -out server.csr \
  -subj "/CN=$1" 2> /dev/null

# 3. The CA signs it for TLS server use, with the names as subjectAltName.
cat > server.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EOF
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" -sha256 \
  -extfile server.ext -out server.crt 2> /dev/null
rm -f server.csr server.ext
chmod 644 ca.crt server.crt
openssl verify -CAfile ca.crt server.crt > /dev/null
echo "make-certs.sh: $out/server.crt for $san, signed by $out/ca.crt" >&2
