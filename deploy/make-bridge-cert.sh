#!/usr/bin/env bash
# A commune broker's client certificate for its bridge to the central broker, with openssl.
#   deploy/make-bridge-cert.sh CA_DIR COMMUNE [OUT_DIR]
# CA_DIR: the central broker's folder of deploy/make-certs.sh (ca.crt, ca.key).
# COMMUNE: the commune's id in `sangsach bridges acl` (a-z, 0-9, '-'), e.g. chi-lang-bac.
# Writes OUT_DIR (default CA_DIR/bridge-COMMUNE) with bridge.crt and bridge.key (CN
# bridge-COMMUNE, for client authentication only) and central-ca.crt: the three files
# deploy/mosquitto/bridge-commune.conf names. Copy them to the commune broker's certs folder.
set -euo pipefail
if (( $# < 2 || $# > 3 )); then
  echo "usage: $0 CA_DIR COMMUNE [OUT_DIR]" >&2
  exit 2
fi
ca=$1
commune=$2
out=${3:-$ca/bridge-$commune}
if [[ ! $commune =~ ^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$ ]]; then
  echo "$0: COMMUNE must be a-z, 0-9 and '-' (at most 40), not '$commune'" >&2
  exit 2
fi
for file in ca.crt ca.key; do
  if [[ ! -f "$ca/$file" ]]; then
    echo "$0: no $ca/$file: make the central broker's CA first (deploy/make-certs.sh)" >&2
    exit 2
  fi
done
mkdir -p "$out"
umask 077
days=${CERT_DAYS:-825}
openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$out/bridge.key" -out "$out/bridge.csr" \
  -subj "/O=sangsach/CN=bridge-$commune" 2>/dev/null
openssl x509 -req -in "$out/bridge.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
  -CAcreateserial -CAserial "$out/ca.srl" -days "$days" -sha256 -out "$out/bridge.crt" \
  -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
rm -f "$out/bridge.csr" "$out/ca.srl"
cp "$ca/ca.crt" "$out/central-ca.crt"
# As make-certs.sh: certificates public, the key for the broker's group (uid 1883 in its image).
chmod 0644 "$out/bridge.crt" "$out/central-ca.crt"
chmod 0640 "$out/bridge.key"
echo "wrote $out/bridge.crt, $out/bridge.key (CN bridge-$commune) and $out/central-ca.crt"
