#!/usr/bin/env bash
# A private CA and the broker's certificate for MQTT over TLS (port 8883), with openssl.
#   deploy/make-certs.sh OUT_DIR NAME [NAME...]
# NAME: every host name or IP address clients use to reach the broker, e.g.
#   deploy/make-certs.sh deploy/certs mqtt.xa-chi-lang-bac.local 192.168.1.10
# Writes ca.crt (give it to every client: SANGSACH_MQTT_TLS_CA), ca.key (keep it offline),
# server.crt and server.key (the broker's). An existing CA is reused, so a new server
# certificate does not force every client to get a new CA file.
set -euo pipefail
if (( $# < 2 )); then
  echo "usage: $0 OUT_DIR NAME [NAME...]" >&2
  exit 2
fi
out=$1
shift
mkdir -p "$out"
umask 077
days=${CERT_DAYS:-825}
if [[ ! -f "$out/ca.key" ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout "$out/ca.key" -out "$out/ca.crt" -subj "/O=sangsach/CN=sangsach MQTT CA" 2>/dev/null
fi
san=""
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$out/server.key" -out "$out/server.csr" \
  -subj "/O=sangsach/CN=$1" 2>/dev/null
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
  -CAcreateserial -days "$days" -sha256 -out "$out/server.crt" \
  -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${san%,}") 2>/dev/null
rm -f "$out/server.csr" "$out/ca.srl"
# The CA certificate is public; the broker (uid 1883 in its image) reads the key through its group.
chmod 0644 "$out/ca.crt" "$out/server.crt"
chmod 0640 "$out/server.key"
echo "wrote $out/ca.crt, $out/server.crt, $out/server.key (CA key: $out/ca.key, keep it offline)"
