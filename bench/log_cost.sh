#!/usr/bin/env bash
# What the access log costs, in instructions per request (valgrind's callgrind: counts,
# not seconds, so the answer is the same on a loaded machine). Runs one gateway build at
# RUST_LOG=warn, at info with text lines and at info with JSON lines, each for N1 and N2
# keep-alive HTTP/1.1 requests (h2load, 2 connections) to an nginx upstream, and prints
# (I(N2) - I(N1)) / (N2 - N1) for each and the ratios to warn: start-up and handshakes
# cancel out. See docs/performance.md "Access log".
#
#   bench/log_cost.sh                         # target/release/gateway, 1000 and 5000 requests
#   bench/log_cost.sh --gateway BIN --requests "500 2500"
#
# Needs valgrind, nginx, h2load (nghttp2-client), openssl, curl; everything listens on
# 127.0.0.1 on free ports and is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GW="$ROOT/target/release/gateway"
REQUESTS="1000 5000"
while [ $# -gt 0 ]; do
    case "$1" in
    --gateway) GW=$(realpath "$2"); shift ;;
    --requests) REQUESTS="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
read -r N1 N2 <<<"$REQUESTS"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
read -r UP GWPORT <<<"$(python3 "$ROOT/bench/benchlib.py" freeports 2)"
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key \
    -out tls.crt -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
head -c 48 /dev/urandom | base64 >hs256.secret && chmod 600 hs256.secret
printf '[[user]]\nname = "bench"\npassword = "%s"\n' \
    "$(echo bench-password | "$GW" hash-password)" >users.toml && chmod 600 users.toml
cat >up.conf <<CONF
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000000;
       server { listen 127.0.0.1:$UP; location / { return 200 "ok\n"; } } }
CONF
cat >gw.toml <<CONF
[server]
listen = "127.0.0.1:$GWPORT"
[tls]
cert = "tls.crt"
key = "tls.key"
[auth]
issuer = "https://bench.gateway.invalid"
algorithm = "HS256"
secret_file = "hs256.secret"
token_ttl = "2h"
[users]
file = "users.toml"
[[route]]
path = "/"
upstream = "http://127.0.0.1:$UP"
CONF
nginx -p "$WORK" -c "$WORK/up.conf" -e "$WORK/nginx.err" &
PIDS+=($!)
TOKEN=$("$GW" token --config gw.toml --user bench --ttl 2h)

instructions() { # $1 RUST_LOG, $2 format, $3 requests
    RUST_LOG=$1 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
        "$GW" --config gw.toml --log-format "$2" >"$WORK/gw.log" 2>"$WORK/valgrind.err" &
    local pid=$!
    PIDS+=("$pid")
    python3 "$ROOT/bench/benchlib.py" wait-port "$GWPORT" 120 >/dev/null
    h2load --h1 -n "$3" -c 2 -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$GWPORT/" >"$WORK/h2load.out"
    grep -q " $3 succeeded" "$WORK/h2load.out" || { cat "$WORK/h2load.out" >&2; exit 1; }
    kill -TERM "$pid"; wait "$pid" || true
    callgrind_annotate "$WORK/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
per_request() { # $1 RUST_LOG, $2 format
    local a b
    a=$(instructions "$1" "$2" "$N1")
    b=$(instructions "$1" "$2" "$N2")
    echo $(((b - a) / (N2 - N1)))
}
WARN=$(per_request warn text)
TEXT=$(per_request info text)
JSON=$(per_request info json)
printf '%-28s %12s %8s\n' "case" "instr/request" "vs warn"
printf '%-28s %12d %8s\n' "warn (no access log)" "$WARN" "1.00"
printf '%-28s %12d %8.2f\n' "info, text access log" "$TEXT" "$(python3 -c "print($TEXT / $WARN)")"
printf '%-28s %12d %8.2f\n' "info, JSON access log" "$JSON" "$(python3 -c "print($JSON / $WARN)")"
