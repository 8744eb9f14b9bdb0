#!/usr/bin/env bash
# Benchmarks the gateway against HAProxy's native JWT check and nginx's plain TLS proxy, all
# in front of the same upstream, on 127.0.0.1 only, and prints one table (see
# docs/performance.md for the method and how to read it).
#
#   bench/compare.sh                 # full run: 10 s per measurement, 2 rounds
#   bench/compare.sh --smoke         # 2 s per measurement, one concurrency: checks the setup
#   bench/compare.sh --duration 20 --rounds 3 --out /tmp/bench-results
#
# Options:
#   --smoke            short run: 2 s, concurrency 16, 1 round, small memory checks (~3 min)
#   --duration N       seconds per measurement (default 10)
#   --rounds N         repetitions of the whole matrix, in alternating order (default 2)
#   --concurrency "A B"  keep-alive connections per measurement (default "16 256")
#   --stream-concurrency "A B"  connections for the HTTP/2 runs with 8 streams in flight on
#                      each (protocol h2x8; default "16 64")
#   --no-memory        skip the idle-connection and per-route memory checks
#   --no-login-burst   skip the check that a burst of logins leaves proxied latency alone
#   --burst-rounds N   interleaved rounds of the login-burst windows (default 3)
#   --no-log-cost      skip bench/log_cost.sh (instructions per request at info vs warn)
#   --no-install       do not apt-get install missing tools
#   --no-build         use the existing target/release/gateway instead of building it
#   --out DIR          also keep the raw results (TSV) and the report in DIR
#   --keep             keep the work directory (configs, logs) for inspection
#   --targets "A B"    measure only these targets (names as in the TARGETS list below)
#   --protocols "h1"   measure only these protocols (default "h1 h2 h2x8": HTTP/1.1, HTTP/2
#                      with one stream per connection, HTTP/2 with 8 streams per connection);
#                      the idle-connection check holds HTTP/2 connections too when any of
#                      the protocols is HTTP/2
#   --baseline BIN     also measure another gateway binary (targets baseline-hs256 and
#                      baseline-hs256-info, and in the memory checks), e.g. a build of the
#                      previous commit, for a before/after in the same run
#
# Debian/Ubuntu: installs nginx, haproxy, wrk, nghttp2-client (h2load) and valgrind when missing
# (apt-get; as root or through sudo). Needs cargo, python3, openssl and curl.
# Everything it starts listens on 127.0.0.1 on free ephemeral ports and is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
LIB="$BENCH/benchlib.py"

DURATION=10
ROUNDS=2
CONCURRENCY="16 256"
STREAM_CONCURRENCY="16 64"
PROTOCOLS="h1 h2 h2x8"
IDLE_COUNTS="1000 10000"
ROUTE_COUNTS="10 10000"
MEMORY=1
LOGIN_BURST=1
BURST_ROUNDS=3
LOG_COST=1
INSTALL=1
BUILD=1
OUT=""
KEEP=0
SMOKE=0
ONLY_TARGETS=""
BASELINE=""

# --smoke only changes defaults: explicit options after it (--duration 1) still apply.
for arg in "$@"; do if [ "$arg" = --smoke ]; then SMOKE=1; fi; done
if [ "$SMOKE" = 1 ]; then
    DURATION=2 ROUNDS=1 CONCURRENCY=16 STREAM_CONCURRENCY=16 IDLE_COUNTS=200 ROUTE_COUNTS="10 1000"
    LOG_COST=0
fi
while [ $# -gt 0 ]; do
    case "$1" in
    --smoke) ;;
    --duration) DURATION="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --concurrency) CONCURRENCY="$2"; shift ;;
    --stream-concurrency) STREAM_CONCURRENCY="$2"; shift ;;
    --no-memory) MEMORY=0 ;;
    --no-login-burst) LOGIN_BURST=0 ;;
    --burst-rounds) BURST_ROUNDS="$2"; shift ;;
    --no-log-cost) LOG_COST=0 ;;
    --no-install) INSTALL=0 ;;
    --no-build) BUILD=0 ;;
    --out) OUT="$2"; shift ;;
    --keep) KEEP=1 ;;
    --targets) ONLY_TARGETS="$2"; shift ;;
    --protocols) PROTOCOLS="$2"; shift ;;
    --baseline) BASELINE="$2"; shift ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- tools ----------------------------------------------------------------------------------

install_tools() {
    local missing=()
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    [ "$LOG_COST" = 0 ] || command -v valgrind >/dev/null || missing+=(valgrind)
    command -v curl >/dev/null || missing+=(curl)
    command -v htpasswd >/dev/null || missing+=(apache2-utils)
    command -v openssl >/dev/null || missing+=(openssl)
    [ ${#missing[@]} -eq 0 ] && return
    [ "$INSTALL" = 1 ] || die "missing: ${missing[*]} (run without --no-install, or install them)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    log "installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
install_tools
export PATH="$PATH:/usr/sbin:/sbin"
for tool in python3 cargo nginx haproxy wrk h2load curl openssl htpasswd; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

# File descriptors: 10,000 idle client connections need as many on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)
if [ "$FD_LIMIT" != unlimited ]; then
    kept=""
    for n in $IDLE_COUNTS; do
        if [ $((n + 200)) -le "$FD_LIMIT" ]; then kept="$kept $n"; else log "skipping $n idle connections: ulimit -n is $FD_LIMIT"; fi
    done
    IDLE_COUNTS=$kept
fi
# HAProxy reserves two descriptors per connection (client and server side) and refuses to
# start when maxconn needs more than the limit: it gets what fits, at most 10,500.
HAPROXY_MAXCONN=10500
if [ "$FD_LIMIT" != unlimited ] && [ $(((FD_LIMIT - 300) / 2)) -lt $HAPROXY_MAXCONN ]; then
    HAPROXY_MAXCONN=$(((FD_LIMIT - 300) / 2))
fi

# ---- work directory and cleanup -------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gateway-bench.XXXXXX")
chmod 755 "$WORK" # nginx workers may run as another user and read the certificate path
declare -a STARTED=()

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    local pid
    for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
    wait 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build and key material -----------------------------------------------------------------

if [ "$BUILD" = 1 ]; then
    log "building the gateway (cargo build --release)"
    (cd "$ROOT" && cargo build --release --quiet)
fi
GW="${CARGO_TARGET_DIR:-$ROOT/target}/release/gateway"
[ -x "$GW" ] || die "no binary at $GW"
# A private copy: a rebuild during the run must not swap the binary under the measurement.
cp "$GW" "$WORK/gateway"
GW="$WORK/gateway"
if [ -n "$BASELINE" ]; then
    [ -x "$BASELINE" ] || die "no binary at $BASELINE"
    cp "$BASELINE" "$WORK/baseline-gateway"
fi

KEYS="$ROOT/tests/fixtures/keys"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
cat "$WORK/tls.crt" "$WORK/tls.key" >"$WORK/tls.pem" # HAProxy wants both in one file
chmod 644 "$WORK/tls.key" "$WORK/tls.pem"             # a throwaway key, read by nginx workers
openssl rand -hex 32 | tr -d '\n' >"$WORK/hs256.secret"
HS_SECRET=$(cat "$WORK/hs256.secret")
cp "$KEYS/rsa-private.pem" "$KEYS/rsa-public.pem" "$KEYS/ec-p256-private.pem" "$KEYS/ec-p256-public.pem" "$WORK/"
ISSUER="https://bench.gateway.invalid"
BENCH_USER=bench
CHEAP_USER=bench-cheap # a bcrypt cost-4 hash (~1 ms): logins with next to nothing to hash
printf '[[user]]\nname = "%s"\npassword = "%s"\n\n[[user]]\nname = "%s"\npassword = "%s"\n' \
    "$BENCH_USER" "$(printf 'bench-password\n' | "$GW" hash-password)" \
    "$CHEAP_USER" "$(htpasswd -nbB -C 4 "$CHEAP_USER" bench-password | cut -d: -f2-)" >"$WORK/users.toml"

# ---- configs --------------------------------------------------------------------------------

read -r UP_H1 UP_H2 <<<"$(python3 "$LIB" freeports 2)"

upstream_config() { # the one upstream: a tiny fixed 200, keep-alive, plain HTTP (and h2c)
    cat <<EOF
worker_processes auto;
daemon off;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    default_type text/plain;
    map \$http_authorization \$seen_auth { "" "no"; default "yes"; }
    server {
        listen 127.0.0.1:$UP_H1;
        listen 127.0.0.1:$UP_H2 http2;
        location / {
            add_header X-Seen-User \$http_x_forwarded_user always;
            add_header X-Seen-Auth \$seen_auth always;
            return 200 "ok\n";
        }
    }
}
EOF
}

nginx_tls_config() { # $1 dir, $2 port: TLS termination + proxy, no auth
    cat <<EOF
worker_processes auto;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    upstream up {
        server 127.0.0.1:$UP_H1;
        keepalive 256;
        keepalive_requests 1000000000;
        keepalive_timeout 600s;
    }
    server {
        listen 127.0.0.1:$2 ssl http2;
        ssl_certificate $WORK/tls.crt;
        ssl_certificate_key $WORK/tls.key;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
        }
    }
}
EOF
}

haproxy_config() { # $1 alg (HS256|RS256|ES256), $2 port: TLS + native jwt_verify
    local key
    case "$1" in
    HS256) key="$HS_SECRET" ;;
    RS256) key="$WORK/rsa-public.pem" ;;
    ES256) key="$WORK/ec-p256-public.pem" ;;
    esac
    cat <<EOF
global
    maxconn $HAPROXY_MAXCONN
    ssl-server-verify none
defaults
    mode http
    timeout connect 5s
    timeout client 600s
    timeout server 60s
    timeout http-request 600s
    timeout http-keep-alive 600s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:$2 ssl crt $WORK/tls.pem alpn h2,http/1.1
    http-request set-var(txn.bearer) http_auth_bearer
    http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
    http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
    http-request set-var(txn.now) date()
    acl alg_pinned var(txn.alg) -m str $1
    acl signature_ok var(txn.bearer),jwt_verify(txn.alg,"$key") -m int 1
    acl unexpired var(txn.exp),sub(txn.now) -m int gt 0
    acl issuer_ok var(txn.bearer),jwt_payload_query('\$.iss') -m str $ISSUER
    http-request return status 401 content-type application/json string '{"error":"unauthorized"}' hdr WWW-Authenticate 'Bearer realm="gateway"' unless alg_pinned signature_ok unexpired issuer_ok
    http-request del-header Authorization
    http-request set-header X-Forwarded-User %[var(txn.bearer),jwt_payload_query('\$.sub')]
    http-request set-header X-Forwarded-Proto https
    option forwardfor
    default_backend upstream
backend upstream
    server up 127.0.0.1:$UP_H1
EOF
}

gateway_config() { # $1 alg, $2 port, $3 extra routes (default 0): TLS + JWT + identity headers
    local key
    case "$1" in
    HS256) key='secret_file = "hs256.secret"' ;;
    RS256) key='private_key = "rsa-private.pem"' ;;
    ES256) key='private_key = "ec-p256-private.pem"' ;;
    esac
    cat <<EOF
[server]
listen = "127.0.0.1:$2"
trusted_proxies = []
max_connections = 16384
# Long enough for the idle-connection check (hyper's HTTP/1.1 header timer also runs
# between keep-alive requests); they cost nothing per request.
header_read_timeout = "10m"
idle_timeout = "10m"

[tls]
cert = "tls.crt"
key = "tls.key"

[auth]
issuer = "$ISSUER"
algorithm = "$1"
$key
token_ttl = "2h"
require_known_user = true

[users]
file = "users.toml"

[[route]]
path = "/"
upstream = "http://127.0.0.1:$UP_H1"
access = "authenticated"
EOF
    local i
    for ((i = 1; i <= ${3:-0}; i++)); do
        printf '\n[[route]]\nhost = "app%d.bench.invalid"\npath = "/r%d"\nupstream = "http://127.0.0.1:%s"\naccess = "authenticated"\n' \
            "$i" "$i" "$UP_H1"
    done
}

# ---- processes ------------------------------------------------------------------------------

declare -A PID=() PORT=() KIND=() LABEL=() REF=() TOKEN_OF=()

start() { # $1 name, $2 kind, $3 port, then the command; waits until the port accepts
    local name=$1 kind=$2 port=$3
    shift 3
    "$@" >"$WORK/$name.out" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    PID[$name]=$pid PORT[$name]=$port KIND[$name]=$kind
    if ! python3 "$LIB" wait-port "$port" 60; then
        cat "$WORK/$name.out" >&2
        die "$name did not start listening on port $port"
    fi
    kill -0 "$pid" 2>/dev/null || die "$name exited: $(cat "$WORK/$name.out")"
}

stop() { # $1 name
    stop_pid "${PID[$1]}"
    wait "${PID[$1]}" 2>/dev/null || true
}

pids_of() { # the process and its children (nginx workers)
    local pid=${PID[$1]}
    echo "$pid" $(pgrep -P "$pid" || true)
}

start_nginx() { # $1 name, $2 port, $3 config text
    mkdir -p "$WORK/$1"
    printf '%s\n' "$3" >"$WORK/$1/nginx.conf"
    nginx -t -q -p "$WORK/$1" -c "$WORK/$1/nginx.conf" -e "$WORK/$1/error.log" ||
        die "nginx config $1 is invalid"
    start "$1" nginx "$2" nginx -p "$WORK/$1" -c "$WORK/$1/nginx.conf" -e "$WORK/$1/error.log"
}

start_haproxy() { # $1 name, $2 alg, $3 port
    haproxy_config "$2" "$3" >"$WORK/$1.cfg"
    haproxy -c -q -f "$WORK/$1.cfg" || die "haproxy config $1 is invalid"
    start "$1" haproxy "$3" haproxy -db -f "$WORK/$1.cfg"
}

start_gateway() { # $1 name, $2 alg, $3 port, $4 RUST_LOG level, $5 extra routes, $6 binary, $7 redis port
    local binary=${6:-$GW}
    gateway_config "$2" "$3" "${5:-0}" >"$WORK/$1.toml"
    if [ -n "${7:-}" ]; then # [state] store = "redis": revocations mirrored locally, shared throttling
        printf '\n[state]\nstore = "redis"\nredis_url = "redis://127.0.0.1:%s/0"\nkey_prefix = "bench:"\n' "$7" >>"$WORK/$1.toml"
    fi
    "$binary" check --config "$WORK/$1.toml" >/dev/null || die "gateway config $1 is invalid"
    start "$1" gateway "$3" env RUST_LOG="$4" "$binary" --config "$WORK/$1.toml"
}

mint() { # $1 config: a token for the bench user, minted by the gateway itself
    "$GW" token --config "$1" --user "$BENCH_USER" --ttl 2h
}

# The machine's state around the measurements (the build is over): load average over 1, 5
# and 15 minutes and the clock, before and after, for the report.
STATE_BEFORE="load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"
log "starting the upstream and the proxies on 127.0.0.1"
mkdir -p "$WORK/upstream"
start_nginx upstream "$UP_H1" "$(upstream_config)"
read -r P_NGX P_HAP_HS P_GW_HS P_HAP_RS P_GW_RS P_HAP_ES P_GW_ES P_GW_INFO <<<"$(python3 "$LIB" freeports 8)"
start_nginx nginx-tls "$P_NGX" "$(nginx_tls_config "$WORK/nginx-tls" "$P_NGX")"
start_haproxy haproxy-hs256 HS256 "$P_HAP_HS"
start_gateway gateway-hs256 HS256 "$P_GW_HS" warn
start_haproxy haproxy-rs256 RS256 "$P_HAP_RS"
start_gateway gateway-rs256 RS256 "$P_GW_RS" warn
start_haproxy haproxy-es256 ES256 "$P_HAP_ES"
start_gateway gateway-es256 ES256 "$P_GW_ES" warn
start_gateway gateway-hs256-info HS256 "$P_GW_INFO" info
# The same gateway with [state] store = "redis": the hot path must not touch Redis.
read -r P_REDIS P_GW_REDIS <<<"$(python3 "$LIB" freeports 2)"
mkdir -p "$WORK/redis"
start redis redis "$P_REDIS" redis-server --bind 127.0.0.1 --port "$P_REDIS" --save "" --appendonly no --dir "$WORK/redis"
start_gateway gateway-hs256-redis HS256 "$P_GW_REDIS" warn 0 "$GW" "$P_REDIS"
if [ -n "$BASELINE" ]; then
    read -r P_BASE P_BASE_INFO <<<"$(python3 "$LIB" freeports 2)"
    start_gateway baseline-hs256 HS256 "$P_BASE" warn 0 "$WORK/baseline-gateway"
    start_gateway baseline-hs256-info HS256 "$P_BASE_INFO" info 0 "$WORK/baseline-gateway"
fi
PID[direct]=${PID[upstream]} PORT[direct]=$UP_H1 KIND[direct]=upstream

HS_TOKEN=$(mint "$WORK/gateway-hs256.toml")
RS_TOKEN=$(mint "$WORK/gateway-rs256.toml")
ES_TOKEN=$(mint "$WORK/gateway-es256.toml")

# name → label, HAProxy row it is compared with, token it sends (no-auth targets get the
# HS256 token too, so every request has the same size).
TARGETS="direct nginx-tls haproxy-hs256 gateway-hs256 gateway-hs256-redis haproxy-rs256 gateway-rs256 haproxy-es256 gateway-es256 gateway-hs256-info"
LABEL[direct]="direct to upstream (no TLS)" REF[direct]=haproxy-hs256 TOKEN_OF[direct]=$HS_TOKEN
LABEL[nginx-tls]="nginx TLS proxy, no auth" REF[nginx-tls]=haproxy-hs256 TOKEN_OF[nginx-tls]=$HS_TOKEN
LABEL[haproxy-hs256]="HAProxy HS256" REF[haproxy-hs256]=haproxy-hs256 TOKEN_OF[haproxy-hs256]=$HS_TOKEN
LABEL[gateway-hs256]="gateway HS256" REF[gateway-hs256]=haproxy-hs256 TOKEN_OF[gateway-hs256]=$HS_TOKEN
LABEL[haproxy-rs256]="HAProxy RS256" REF[haproxy-rs256]=haproxy-rs256 TOKEN_OF[haproxy-rs256]=$RS_TOKEN
LABEL[gateway-rs256]="gateway RS256" REF[gateway-rs256]=haproxy-rs256 TOKEN_OF[gateway-rs256]=$RS_TOKEN
LABEL[haproxy-es256]="HAProxy ES256" REF[haproxy-es256]=haproxy-es256 TOKEN_OF[haproxy-es256]=$ES_TOKEN
LABEL[gateway-es256]="gateway ES256" REF[gateway-es256]=haproxy-es256 TOKEN_OF[gateway-es256]=$ES_TOKEN
LABEL[gateway-hs256-redis]="gateway HS256, store = redis" REF[gateway-hs256-redis]=haproxy-hs256 TOKEN_OF[gateway-hs256-redis]=$HS_TOKEN
LABEL[gateway-hs256-info]="gateway HS256, info logs" REF[gateway-hs256-info]=haproxy-hs256 TOKEN_OF[gateway-hs256-info]=$HS_TOKEN
if [ -n "$BASELINE" ]; then
    TARGETS="$TARGETS baseline-hs256 baseline-hs256-info"
    LABEL[baseline-hs256]="baseline gateway HS256" REF[baseline-hs256]=haproxy-hs256 TOKEN_OF[baseline-hs256]=$HS_TOKEN
    LABEL[baseline-hs256-info]="baseline HS256, info logs" REF[baseline-hs256-info]=haproxy-hs256 TOKEN_OF[baseline-hs256-info]=$HS_TOKEN
fi
if [ -n "$ONLY_TARGETS" ]; then
    for name in $ONLY_TARGETS; do
        [ -n "${LABEL[$name]:-}" ] || die "unknown target $name (known: $TARGETS)"
    done
    TARGETS=$ONLY_TARGETS
fi

url() { # $1 name, $2 proto
    if [ "$1" = direct ]; then
        if [ "$2" != h1 ]; then echo "http://127.0.0.1:$UP_H2/"; else echo "http://127.0.0.1:$UP_H1/"; fi
    else
        echo "https://127.0.0.1:${PORT[$1]}/"
    fi
}

# ---- correctness checks: nobody benchmarks a proxy that lets everything through ------------

tamper() { # flips one character in the middle of the signature
    local token=$1 sig=${1##*.}
    local i=$((${#sig} / 2)) c=${sig:$((${#sig} / 2)):1}
    local r=A
    [ "$c" = A ] && r=B
    echo "${token%.*}.${sig:0:i}$r${sig:i+1}"
}

expect() { # $1 name, $2 proto, $3 expected status, $4 token ("" for none), $5 what
    local http=--http1.1
    [ "$2" != h1 ] && http=--http2
    [ "$1" = direct ] && [ "$2" != h1 ] && http=--http2-prior-knowledge
    local args=(-sk "$http" -o /dev/null -D "$WORK/check.head" -w '%{http_code}' --max-time 10)
    [ -n "$4" ] && args+=(-H "Authorization: Bearer $4")
    local got
    got=$(curl "${args[@]}" "$(url "$1" "$2")" || true)
    [ "$got" = "$3" ] || die "$1 ($2): $5 got $got, expected $3 — refusing to benchmark it"
    if [ "$3" = 200 ] && { [ "${KIND[$1]}" = gateway ] || [ "${KIND[$1]}" = haproxy ]; }; then
        grep -qi "^x-seen-user: $BENCH_USER" "$WORK/check.head" ||
            die "$1 ($2): the upstream did not receive X-Forwarded-User: $BENCH_USER"
        grep -qi '^x-seen-auth: no' "$WORK/check.head" ||
            die "$1 ($2): the Authorization header reached the upstream"
    fi
}

log "checking every target: no token and bad tokens get 401, the good token 200"
for name in $TARGETS; do
    for proto in $PROTOCOLS; do
        good=${TOKEN_OF[$name]}
        case "$name" in
        direct | nginx-tls) expect "$name" "$proto" 200 "$good" "request" ;;
        *)
            other=$RS_TOKEN
            [ "$good" = "$RS_TOKEN" ] && other=$ES_TOKEN
            expect "$name" "$proto" 401 "" "no token"
            expect "$name" "$proto" 401 "$(tamper "$good")" "tampered signature"
            expect "$name" "$proto" 401 "$other" "token of another algorithm"
            expect "$name" "$proto" 401 "${good%.*}" "token without signature"
            expect "$name" "$proto" 200 "$good" "good token"
            ;;
        esac
    done
done

# Idle RSS right after start and the checks, before any load.
declare -A IDLE_RSS=()
IDLE_NAMES="nginx-tls haproxy-hs256 gateway-hs256 gateway-rs256 gateway-es256"
[ -n "$BASELINE" ] && IDLE_NAMES="$IDLE_NAMES baseline-hs256"
for name in $IDLE_NAMES; do
    IDLE_RSS[$name]=$(python3 "$LIB" procstat $(pids_of "$name") | awk '{print $3}')
done

# ---- load -----------------------------------------------------------------------------------

RESULTS="$WORK/results.tsv"
printf 'round\tproto\tconc\ttarget\tlabel\tref\trequests\tseconds\trps\tp50_us\tp99_us\terrors\tcpu_s\tpeak_rss_kib\n' >"$RESULTS"

load() { # $1 name, $2 proto, $3 connections, $4 duration → "requests seconds rps p50 p99 errors"
    local out="$WORK/load.out" hlog="$WORK/load.h2log"
    local auth="Authorization: Bearer ${TOKEN_OF[$1]}"
    if [ "$2" = h1 ]; then
        wrk -t2 -c "$3" -d "${4}s" --latency -H "$auth" "$(url "$1" h1)" >"$out" 2>&1 || true
        python3 "$LIB" wrk "$out"
    else
        local streams=1
        [ "$2" = h2x8 ] && streams=8
        h2load -t2 -c "$3" -m "$streams" -D "$4" --log-file="$hlog" -H "$auth" "$(url "$1" h2)" >"$out" 2>&1 || true
        python3 "$LIB" h2load "$out" "$hlog"
    fi
}

measure() { # $1 round, $2 name, $3 proto, $4 connections
    local pids cpu0 cpu1 peak parsed
    pids=$(pids_of "$2")
    python3 "$LIB" reset-peak $pids
    cpu0=$(python3 "$LIB" procstat $pids | awk '{print $1}')
    parsed=$(load "$2" "$3" "$4" "$DURATION")
    read -r cpu1 peak _ <<<"$(python3 "$LIB" procstat $pids)"
    read -r requests seconds rps p50 p99 errors <<<"$parsed"
    [ "$requests" -gt 0 ] || { cat "$WORK/load.out" >&2; die "$2 ($3, c=$4): no successful request"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$3" "$4" "$2" \
        "${LABEL[$2]}" "${REF[$2]}" "$requests" "$seconds" "$rps" "$p50" "$p99" "$errors" \
        "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.2f", b-a}')" "$peak" >>"$RESULTS"
    log "  $(printf '%-20s %s c=%-4s %8.0f req/s  p99 %6.2f ms  errors %s' "$2" "$3" "$4" "$rps" "$(awk -v x="$p99" 'BEGIN{print x/1000}')" "$errors")"
    sleep 1 # let connections close before the next target
}

log "warm-up: 1 s per target"
for name in $TARGETS; do load "$name" h1 16 1 >/dev/null; done

concurrency_of() { if [ "$1" = h2x8 ]; then echo "$STREAM_CONCURRENCY"; else echo "$CONCURRENCY"; fi; }
runs=0
for proto in $PROTOCOLS; do runs=$((runs + $(wc -w <<<"$(concurrency_of "$proto")"))); done
runs=$((runs * $(wc -w <<<"$TARGETS") * ROUNDS))
log "measuring: $runs runs of ${DURATION}s (~$((runs * (DURATION + 2) / 60 + 1)) min)"
for ((round = 1; round <= ROUNDS; round++)); do
    order=$TARGETS
    # Alternate the order so slow drift (thermal, neighbours) hits every target alike.
    [ $((round % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$TARGETS" | tac | tr '\n' ' ')
    for proto in $PROTOCOLS; do
        for conc in $(concurrency_of "$proto"); do
            for name in $order; do measure "$round" "$name" "$proto" "$conc"; done
        done
    done
done

# ---- memory: idle connections and routes -----------------------------------------------------

MEMORY_REPORT="$WORK/memory.txt"
LOGIN_REPORT="$WORK/login-burst.txt"
LOG_COST_REPORT="$WORK/log-cost.txt"

# ---- a burst of logins must not slow proxied requests -----------------------------------------

# The pieces of a burst, measured apart (each window beside the same proxied load): the full
# burst (argon2id, 8 clients non-stop); the same number of logins per second with nothing to
# hash (a bcrypt cost-4 user: the clients, their requests and the token signing), on kept
# connections and then with a TLS handshake per login; and quiet windows. What the full
# burst adds over the cheap ones is hashing.
burst_window() { # $1 label, $2 user, $3 rate (0: non-stop), $4 fresh|kept; prints the report line
    local rps p50 p99 ok failed seconds refused burst
    if [ "$2" = - ]; then
        read -r _ _ rps p50 p99 _ <<<"$(load gateway-hs256 h1 16 "$DURATION")"
        ok=- failed=- refused=- seconds=1
    else
        python3 "$LIB" logins "${PORT[gateway-hs256]}" 8 "$DURATION" "$2" bench-password "$3" "$4" >"$WORK/logins.out" &
        burst=$!
        STARTED+=("$burst")
        read -r _ _ rps p50 p99 _ <<<"$(load gateway-hs256 h1 16 "$DURATION")"
        wait "$burst" || die "the login clients failed: $(cat "$WORK/logins.out")"
        read -r ok failed seconds refused <<<"$(cat "$WORK/logins.out")"
    fi
    printf '%s %s %s %s %s %s %s %s\n' "$1" "$rps" "$p50" "$p99" "$ok" "$failed" "$refused" \
        "$(awk -v n="$ok" -v s="$seconds" 'BEGIN{if (n == "-") print "-"; else printf "%.1f", n/s}')"
}

if [ "$LOGIN_BURST" = 1 ]; then
    log "login burst: gateway-hs256, HTTP/1.1 c=16, $BURST_ROUNDS rounds of ${DURATION}s windows: quiet, 8 clients logging in non-stop, the same rate without hashing (kept, then fresh connections)"
    : >"$WORK/burst.rows"
    for _ in $(seq "$BURST_ROUNDS"); do # interleaved, so the machine's drift hits every kind of window alike
        burst_window quiet - 0 kept >>"$WORK/burst.rows"
        burst_window argon2id "$BENCH_USER" 0 kept >>"$WORK/burst.rows"
        burst_rate=$(awk '$1 == "argon2id" {rate = $8} END {print rate}' "$WORK/burst.rows")
        burst_window no-hash-kept "$CHEAP_USER" "$burst_rate" kept >>"$WORK/burst.rows"
        burst_window no-hash-fresh "$CHEAP_USER" "$burst_rate" fresh >>"$WORK/burst.rows"
    done
    awk '
        function median(list, n,    v, i, j, t) {
            split(list, v, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        {
            if (!($1 in count)) order[++kinds] = $1
            count[$1]++; rps[$1] = rps[$1] " " $2; p50[$1] = p50[$1] " " $3; p99[$1] = p99[$1] " " $4
            p99s[$1] = p99s[$1] sprintf(" %.2f", $4 / 1000)
            if ($5 != "-") { ok[$1] += $5; refused[$1] += $7; rate[$1] = rate[$1] " " $8 }
        }
        END {
            quiet = median(p99["quiet"], count["quiet"])
            print "login burst (gateway HS256, HTTP/1.1, 16 connections beside 8 login clients; " rounds " interleaved rounds of " dur " s windows; medians, p99 ratio to quiet):"
            printf "  %-14s %9s %8s %8s %8s %7s %8s %9s   %s\n", "window", "req/s", "p50 ms", "p99 ms", "p99 x", "logins", "refused", "logins/s", "p99 ms per round"
            for (k = 1; k <= kinds; k++) {
                name = order[k]; n = count[name]; m = median(p99[name], n)
                printf "  %-14s %9.0f %8.2f %8.2f %8.2f %7s %8s %9s  %s\n", name, median(rps[name], n), median(p50[name], n) / 1000, m / 1000, m / quiet, \
                    (name in ok) ? ok[name] : "-", (name in ok) ? refused[name] : "-", (name in ok) ? sprintf("%.1f", median(rate[name], n)) : "-", p99s[name]
            }
            print "  argon2id: logins as users make them (m=19 MiB, t=2), non-stop; no-hash: a bcrypt cost-4 user,"
            print "  paced to the logins/s of the argon2id window, on kept connections (the clients and the login"
            print "  requests) and with a TLS handshake per login (fresh). A refused login (429) waits out its"
            print "  Retry-After, so a paced window may reach fewer logins/s than it aimed at: compare the column."
            print "  What argon2id adds over no-hash-kept is hashing."
        }' dur="$DURATION" rounds="$BURST_ROUNDS" "$WORK/burst.rows" >"$LOGIN_REPORT"
fi
: >"$MEMORY_REPORT"
rss_kib() { python3 "$LIB" procstat $(pids_of "$1") | awk '{print $3}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

idle_check() { # $1 kind (gateway|baseline|haproxy|nginx), $2 connections, $3 h1|h2: a fresh instance each time
    local name="idle-$1-$2-$3" port before after opened holder
    port=$(python3 "$LIB" freeports 1)
    case "$1" in
    gateway) start_gateway "$name" HS256 "$port" warn ;;
    baseline) start_gateway "$name" HS256 "$port" warn 0 "$WORK/baseline-gateway" ;;
    haproxy) start_haproxy "$name" HS256 "$port" ;;
    nginx) start_nginx "$name" "$port" "$(nginx_tls_config "$WORK/$name" "$port")" ;;
    esac
    TOKEN_OF[$name]=$HS_TOKEN
    for _ in 1 2 3 4 5; do expect "$name" h1 200 "$HS_TOKEN" "warm-up request"; done
    sleep 1
    before=$(rss_kib "$name")
    rm -f "$WORK/idle.ready"
    local count=$2
    # HAProxy cannot hold more than its maxconn (see HAPROXY_MAXCONN); the report says how
    # many were opened.
    [ "$1" = haproxy ] && [ "$count" -gt $((HAPROXY_MAXCONN - 50)) ] && count=$((HAPROXY_MAXCONN - 50))
    python3 "$LIB" idle "$port" "$count" "$HS_TOKEN" "$WORK/idle.ready" "$3" &
    holder=$!
    STARTED+=("$holder")
    for _ in $(seq 600); do [ -s "$WORK/idle.ready" ] && break; sleep 0.5; done
    sleep 2
    after=$(rss_kib "$name")
    opened=$(awk '/^ready/{print $2}' "$WORK/idle.ready" 2>/dev/null || echo 0)
    stop_pid "$holder"
    wait "$holder" 2>/dev/null || true
    stop "$name"
    printf '%-8s %6s idle %-8s connections (%s opened): RSS %7s MB -> %7s MB, %6.1f KiB per connection\n' \
        "$1" "$2" "$([ "$3" = h2 ] && echo HTTP/2 || echo HTTP/1.1)" "${opened:-0}" "$(mib "$before")" "$(mib "$after")" \
        "$(awk -v a="$before" -v b="$after" -v n="${opened:-0}" 'BEGIN{print n ? (b-a)/n : 0}')" >>"$MEMORY_REPORT"
}

routes_check() { # $1 routes: RSS of a fresh gateway after startup and a few requests
    local name="routes-$1" port t0 t1 rss
    port=$(python3 "$LIB" freeports 1)
    gateway_config HS256 "$port" $(($1 - 1)) >"$WORK/$name.toml"
    TOKEN_OF[$name]=$HS_TOKEN
    t0=$(date +%s.%N)
    start "$name" gateway "$port" env RUST_LOG=warn "$GW" --config "$WORK/$name.toml"
    t1=$(date +%s.%N)
    for _ in 1 2 3 4 5; do expect "$name" h1 200 "$HS_TOKEN" "request"; done
    sleep 1
    rss=$(rss_kib "$name")
    stop "$name"
    ROUTE_RSS[$1]=$rss
    printf 'gateway %6s routes: RSS %7s MB, started listening in %.2f s\n' "$1" "$(mib "$rss")" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" >>"$MEMORY_REPORT"
}

if [ "$MEMORY" = 1 ]; then
    log "memory: idle connections ($IDLE_COUNTS) and routes ($ROUTE_COUNTS)"
    for name in $IDLE_NAMES; do
        printf 'idle RSS after start %-16s %7s MB\n' "$name" "$(mib "${IDLE_RSS[$name]}")" >>"$MEMORY_REPORT"
    done
    IDLE_KINDS="gateway haproxy nginx"
    [ -n "$BASELINE" ] && IDLE_KINDS="gateway baseline haproxy nginx"
    # HTTP/2 too (what browsers hold open) when the run measures HTTP/2 at all.
    IDLE_PROTOCOLS=h1
    case " $PROTOCOLS " in *" h2"*) IDLE_PROTOCOLS="h1 h2" ;; esac
    for proto in $IDLE_PROTOCOLS; do
        for count in $IDLE_COUNTS; do
            for kind in $IDLE_KINDS; do idle_check "$kind" "$count" "$proto"; done
        done
    done
    declare -A ROUTE_RSS=()
    for count in $ROUTE_COUNTS; do routes_check "$count"; done
    set -- $ROUTE_COUNTS
    if [ $# -ge 2 ]; then
        printf 'gateway cost per route: %.2f KiB\n' \
            "$(awk -v a="${ROUTE_RSS[$1]}" -v b="${ROUTE_RSS[$2]}" -v n=$(($2 - $1)) 'BEGIN{print (b-a)/n}')" >>"$MEMORY_REPORT"
    fi
fi

# ---- the access log's cost, in instructions (callgrind) ----------------------------------------

if [ "$LOG_COST" = 1 ]; then
    log "access log: instructions per request at info (text, JSON) against warn (bench/log_cost.sh)"
    "$BENCH/log_cost.sh" --gateway "$GW" >"$LOG_COST_REPORT" || die "bench/log_cost.sh failed"
fi

# ---- report ---------------------------------------------------------------------------------

report() {
    echo "gateway $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') vs $(haproxy -v | head -1 | awk '{print "HAProxy", $3}'), $(nginx -v 2>&1 | sed 's/.*\///;s/^/nginx /'), wrk $(wrk --version 2>&1 | head -1 | awk '{print $2}'), $(h2load --version | head -1)"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r); load generator on the same cores"
    echo "before: $STATE_BEFORE UTC; after: load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S) UTC"
    echo "${DURATION}s per measurement, $ROUNDS round(s), targets alternated; xHAP = ratio to HAProxy with the same algorithm (HS256 for untyped rows), xnginx = ratio to nginx's TLS proxy"
    echo "CPU us/req = user+sys time of the proxy process(es) / successful requests; peak RSS = VmHWM during the measurement, lowest over rounds (nginx: master + workers summed)"
    echo
    python3 "$LIB" table "$RESULTS"
    for extra in "$LOGIN_REPORT" "$MEMORY_REPORT" "$LOG_COST_REPORT"; do
        if [ -s "$extra" ]; then
            echo
            cat "$extra"
        fi
    done
}
report | tee "$WORK/report.txt"
if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    cp "$RESULTS" "$WORK/report.txt" "$OUT/"
    for extra in "$LOGIN_REPORT" "$MEMORY_REPORT" "$LOG_COST_REPORT"; do [ -s "$extra" ] && cp "$extra" "$OUT/"; done
    log "results kept in $OUT"
fi
